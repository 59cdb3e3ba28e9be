"""g1_rough: the legs-only G1 on go1_rough's terrain, curriculum and critic (tasks/go1/rough.py), with
g1_flat's humanoid terms. Its collision meshes touch the terrain (full-body contacts): a shin passing
through a stair riser would teach a step no robot can take."""

from __future__ import annotations

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.tasks.g1.flat import g1_flat_env, humanoid_train
from legged_train.tasks.go1.rough import on_rough_terrain
from legged_train.tasks.registry import register_task



def g1_rough_env() -> LeggedEnvConfig:
    return on_rough_terrain(g1_flat_env())


register_task("g1_rough", g1_rough_env, humanoid_train, make_legged_env)
