"""go2_rough: the Unitree Go2 on go1_rough's terrain, curriculum and PPO (tasks/go1/rough.py)."""

from __future__ import annotations

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.tasks.go1.rough import go1_rough_train, on_rough_terrain
from legged_train.tasks.go2.flat import go2_flat_env
from legged_train.tasks.registry import register_task



def go2_rough_env() -> LeggedEnvConfig:
    return on_rough_terrain(go2_flat_env())


register_task("go2_rough", go2_rough_env, go1_rough_train, make_legged_env)
