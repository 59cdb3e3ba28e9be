"""berkeley_humanoid_flat: the Berkeley Humanoid (envs/robots/berkeley_humanoid/) tracks velocity
commands on flat ground, with g1_flat's humanoid terms (tasks/g1/flat.py) for its size and mass.
Weights not tuned by a training run yet (issue 22's bench/robots.py)."""

from __future__ import annotations

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.envs.robot import RobotConfig
from legged_train.envs.robots.berkeley_humanoid import constants as berkeley_humanoid
from legged_train.tasks.g1.flat import humanoid_env, humanoid_train
from legged_train.tasks.registry import register_task


def berkeley_humanoid_flat_env() -> LeggedEnvConfig:
    cfg = humanoid_env(RobotConfig.from_constants(berkeley_humanoid), mass_kg=16.1)
    cfg.rewards.params["feet_distance"] = {"min_distance": 0.1}  # m: its hips are 14 cm apart (G1's 13 cm, but longer legs)
    cfg.rewards.params["feet_swing_height"] = {"target": 0.06}  # m: a shorter robot, a lower swing
    return cfg


register_task("berkeley_humanoid_flat", berkeley_humanoid_flat_env, humanoid_train, make_legged_env)
