"""go2_flat: a Unitree Go2 (envs/robots/go2/) tracks velocity commands on flat ground.

go1_flat's env and PPO settings with the Go2's robot; Go2 is Go1's size (standing height 0.29 m,
15.2 kg against 12.7 kg), so only the torque penalty changes, by the mass ratio squared.
"""

from __future__ import annotations

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.envs.robot import RobotConfig
from legged_train.envs.robots.go2 import constants as go2
from legged_train.tasks.go1.flat import go1_flat_train
from legged_train.tasks.registry import register_task


def go2_flat_env() -> LeggedEnvConfig:
    cfg = LeggedEnvConfig(num_envs=1024, robot=RobotConfig.from_constants(go2))
    # Torques^2 grow with the weight squared: Go1's -2e-4 x (12.7 / 15.2)^2, the same share of the reward.
    cfg.rewards.weights["torques"] = -1.4e-4
    # base_too_low keeps Go1's 0.12 m: about 40% of the standing height on both robots.
    return cfg


register_task("go2_flat", go2_flat_env, go1_flat_train, make_legged_env)
