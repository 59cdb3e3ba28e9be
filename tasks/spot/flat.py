"""spot_flat: a Boston Dynamics Spot (envs/robots/spot/) tracks velocity commands on flat ground.

go1_flat's PPO settings; the env's numbers that depend on the robot's size are scaled to Spot
(standing height 0.46 m against 0.29, 50.3 kg against Go1's 12.7).
"""

from __future__ import annotations

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.envs.robot import RobotConfig
from legged_train.envs.robots.spot import constants as spot
from legged_train.tasks.go1.flat import go1_flat_train
from legged_train.tasks.registry import register_task


def spot_flat_env() -> LeggedEnvConfig:
    cfg = LeggedEnvConfig(num_envs=1024, robot=RobotConfig.from_constants(spot))
    # Go1's 0.12 m is 40% of its standing height; Spot's body (0.2 m tall) would lie on the floor at
    # 0.12 m, so the same 40% of Spot's 0.46 m.
    cfg.terminations.terms["base_too_low"] = {"min_height": 0.18}
    # Torques^2 grow with the weight squared: Go1's -2e-4 x (12.7 / 50.3)^2, the same share of the reward.
    cfg.rewards.weights["torques"] = -1.3e-5
    # Go1's -1..+2 kg is -8..+16% of its mass; the same share of Spot's (its payload is up to 14 kg).
    cfg.domain_rand.added_base_mass = (-4.0, 8.0)
    return cfg


register_task("spot_flat", spot_flat_env, go1_flat_train, make_legged_env)
