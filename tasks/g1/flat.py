"""g1_flat and g1_full_flat: the Unitree G1 humanoid (envs/robots/g1/) tracks velocity commands on flat ground.

- ``g1_flat``: the legs-only G1 (12 joints, waist and arms locked), as unitree_rl_gym trains it;
- ``g1_full_flat``: all 29 joints driven (legs, waist, arms), the same terms.

go1_flat's PPO and reward terms, with a humanoid's changes (unitree_rl_gym's G1 numbers where it has
them): feet stepping in turn on a 1.25 Hz clock (``gait="alternating"``), feet 8 cm up in swing,
feet at least 15 cm apart and never crossed, both feet down at a standing command, the pelvis at its
standing height, tilt terminated at 0.8 rad and a pelvis below 0.4 m (half its standing height).
Weights are first guesses, not tuned by a training run yet (issue 22's bench/robots.py).
"""

from __future__ import annotations

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.envs.robot import RobotConfig
from legged_train.envs.robots.g1 import constants as g1
from legged_train.tasks.go1.flat import go1_flat_train
from legged_train.tasks.registry import register_task


def humanoid_env(robot: RobotConfig, mass_kg: float) -> LeggedEnvConfig:
    """go1_flat's env for a humanoid ``robot`` of ``mass_kg``: the biped terms and terminations."""
    cfg = LeggedEnvConfig(num_envs=1024, robot=robot)
    cfg.gait, cfg.gait_frequency = "alternating", 1.25
    weights = cfg.rewards.weights
    # Torques^2 grow with the weight squared: Go1's -2e-4 x (12.7 kg / mass)^2, the same share of the reward.
    weights["torques"] = -2e-4 * (12.7 / mass_kg) ** 2
    weights.update(orientation=-1.0, feet_distance=-10.0, feet_swing_height=-20.0, feet_down_still=-0.5, base_height=-10.0)
    cfg.rewards.params["feet_air_time"] = {"target": 0.3}  # s: most of a 0.4 s swing
    cfg.terminations.terms["bad_orientation"] = {"max_tilt": 0.8}
    cfg.terminations.terms["base_too_low"] = {"min_height": 0.5 * robot.base_init_height}
    return cfg


def g1_flat_env() -> LeggedEnvConfig:
    return humanoid_env(RobotConfig.from_constants(g1), mass_kg=33.3)


def g1_full_flat_env() -> LeggedEnvConfig:
    return humanoid_env(RobotConfig.from_constants(g1.FULL_BODY), mass_kg=33.3)


def humanoid_train():
    # A wider actor and critic than go1_flat's 128-128: a biped must balance as well as step.
    networks = {"hidden_dims": [256, 128], "activation": "elu"}
    cfg = go1_flat_train(max_iterations=1500, actor_cfg=dict(networks), critic_cfg=dict(networks))
    # Every minibatch learned as sampled and mirrored (issue 23's symmetry augmentation): a biped's
    # left and right steps learn from each other. Measured on g1_flat (bench/train_go1.py, seed 0):
    # velocity_rmsd 0.55 after 300 iterations, 0.50 after 350; the one earlier run of that length, without
    # it (and with tracking sigma 0.5 and a swing-height curve), was at 0.62 and 0.60. An iteration costs
    # about 25% more (the update doubles). See the README's robot table for the whole curve.
    cfg.symmetry_augmentation = True
    return cfg


register_task("g1_flat", g1_flat_env, humanoid_train, make_legged_env)
register_task("g1_full_flat", g1_full_flat_env, humanoid_train, make_legged_env)
