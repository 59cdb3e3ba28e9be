"""go1_flat: a Go1-class quadruped tracks velocity commands on flat ground."""

from __future__ import annotations

from envs.legged_config import LeggedEnvConfig
from envs.legged_env import make_legged_env
from tasks.registry import register_task


def go1_flat_env() -> LeggedEnvConfig:
    return LeggedEnvConfig(num_envs=1024)


def go1_flat_train():
    from legged_train.algorithms.ppo import PPOConfig

    return PPOConfig(experiment_name="go1_flat")


register_task("go1_flat", go1_flat_env, go1_flat_train, make_legged_env)
