"""The terrain evaluation course (legged_train/course.py, issue 21 pt 7): its layout covers every
sub-terrain type and difficulty bin from the tile centres, and its success measure is right, shown
by scripted motions (a standing robot, teleports along, short of, across and against the heading,
a fall before the crossing, a fall after it); the heat map; the flat standard evaluation keeps its numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from legged_train.course import CourseConfig, make_course_env, run_course, success_colour, write_heat_map
from legged_train.envs.terrain import SUB_TERRAIN_TYPES
from legged_train.tasks import get_task


@pytest.fixture(scope="module")
def flat_env():
    """go1_flat's env (a plane): the course brings its own terrain."""
    task = get_task("go1_flat")
    cfg = task.env_cfg
    cfg.num_envs, cfg.sim.num_threads = 1, 1
    return task.make_env(cfg, "cpu")


def test_the_course_covers_every_type_and_bin_from_tile_centres_facing_the_tile_axes(flat_env):
    course = CourseConfig()
    env = make_course_env(flat_env, course)
    assert env.num_envs == len(SUB_TERRAIN_TYPES) * 4 * 8 and flat_env.terrain is None  # the original env is untouched
    assert env.curriculum_terms == {} and not env.cfg.domain_rand.enabled
    cells = {}
    for e, (name, d) in enumerate(zip(env.course_types, env.course_difficulty.tolist())):
        cells.setdefault((name, round(d, 4)), []).append(e)
    assert set(cells) == {(name, d) for name in SUB_TERRAIN_TYPES for d in (0.2, 0.4, 0.6, 0.8)}
    assert all(len(envs) == 8 for envs in cells.values())
    # Each robot is on its tile's centre, the tile being of its type and difficulty, facing a tile axis.
    terrain = env.terrain
    for (name, d), envs in cells.items():
        level, column = env.terrain_levels[envs[0]].item(), env.terrain_columns[envs[0]].item()
        assert terrain.tile_types[column] == name and terrain.difficulty[level] == pytest.approx(d)
        centre = torch.as_tensor(terrain.tile_origins[level, column, :2])
        assert torch.allclose(env.base_pos[envs, :2], centre.expand(len(envs), -1), atol=1e-4)
    w, z = env.base_quat[:, 0], env.base_quat[:, 3]
    yaw = 2 * torch.atan2(z, w)
    assert torch.allclose(torch.cos(yaw - env.spawn_yaw), torch.ones(env.num_envs), atol=1e-5)
    assert sorted(set(env.spawn_yaw.tolist())) == pytest.approx([-math.pi / 2, 0.0, math.pi / 2, math.pi])
    # A fixed course: built again, the same terrain.
    assert np.array_equal(make_course_env(flat_env, course).terrain.heights, terrain.heights)


SMALL = CourseConfig(types=("flat",), bins=1, envs_per_cell=4, border=1.0, duration_s=1.6)


def scripted(env, moves: dict[int, callable]):
    """A policy that stands still (zero actions) and, before policy step t, applies moves[t](qpos)
    to every robot's state: the scripted motion the success measure must judge."""
    calls = {"t": 0}

    def policy(obs):
        move = moves.get(calls["t"])
        if move is not None:
            qpos, qvel = env.sim.qpos.clone(), env.sim.qvel.clone()
            move(qpos)
            env.sim.set_state(torch.arange(env.num_envs), qpos, qvel)
        calls["t"] += 1
        return torch.zeros(obs.shape[0], env.num_actions)

    return policy


def along(env, forward: float, left: float = 0.0):
    """Put the base ``forward`` m along each robot's starting heading from its start (the tile
    centre) and ``left`` m across it."""
    c, s = torch.cos(env.spawn_yaw).double(), torch.sin(env.spawn_yaw).double()
    start = env.env_origins[:, :2].double()

    def move(qpos):
        qpos[:, 0] = start[:, 0] + forward * c - left * s
        qpos[:, 1] = start[:, 1] + forward * s + left * c

    return move


def carry(env, distance: float):
    """Move the base ``distance`` m further along its starting heading."""
    c, s = torch.cos(env.spawn_yaw).double(), torch.sin(env.spawn_yaw).double()

    def move(qpos):
        qpos[:, 0] += distance * c
        qpos[:, 1] += distance * s

    return move


def upside_down(qpos):
    qpos[:, 3:7] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=qpos.dtype)  # a half turn about x: a fall


@pytest.mark.parametrize("case, success, fall", [
    ("stand still", 0.0, 0.0),
    ("4.05 m ahead", 1.0, 0.0),
    ("3.95 m ahead", 0.0, 0.0),
    ("4.5 m sideways", 0.0, 0.0),
    ("4.05 m back", 0.0, 0.0),
    ("a fall, then 4.05 m ahead", 0.0, 1.0),
])
def test_success_is_4_m_along_the_starting_heading_before_any_fall(flat_env, case, success, fall):
    env = make_course_env(flat_env, SMALL)
    moves = {
        "stand still": {},
        "4.05 m ahead": {60: along(env, 4.05)},
        "3.95 m ahead": {60: along(env, 3.95)},
        "4.5 m sideways": {60: along(env, 0.0, 4.5)},
        "4.05 m back": {60: along(env, -4.05)},
        "a fall, then 4.05 m ahead": {10: upside_down, 60: along(env, 4.05)},
    }[case]
    result = run_course(env, scripted(env, moves), SMALL)
    cell = result["cells"]["flat"]["0.50"]
    assert cell["success_rate"] == success and cell["fall_rate"] == fall and cell["envs"] == 4
    assert result["success_rate"] == success and result["difficulties"] == [0.5]
    if case == "stand still":
        # The standard evaluation's measure: standing against a 0.8 m/s command misses it by 0.8 m/s.
        assert cell["velocity_rmsd"] == pytest.approx(SMALL.speed, abs=0.05)


def test_a_robot_walking_there_succeeds_and_a_fall_after_crossing_is_no_fall(flat_env):
    """A base carried forward at 1 m/s step by step crosses in about 4 s; what follows its crossing
    (here a fall) does not count."""
    course = CourseConfig(types=("flat",), bins=1, envs_per_cell=4, border=1.0, duration_s=5.0)
    env = make_course_env(flat_env, course)
    moves = {t: carry(env, 1.0 * env.step_dt) for t in range(220)}
    moves[220] = upside_down
    result = run_course(env, scripted(env, moves), course)
    assert result["success_rate"] == 1.0 and result["fall_rate"] == 0.0


def test_the_heat_map_is_a_png_of_success_per_type_and_difficulty(tmp_path):
    import imageio.v3 as iio

    from legged_train.course import CELL_H, CELL_W, HEADER_H, LABEL_W

    cell = {"fall_rate": 0.0, "velocity_rmsd": 0.1, "cost_of_transport": 1.0, "envs": 8}
    result = {"difficulties": [0.2, 0.4], "cells": {
        "flat": {"0.20": {**cell, "success_rate": 1.0}, "0.40": {**cell, "success_rate": 1.0}},
        "gaps": {"0.20": {**cell, "success_rate": 0.5}, "0.40": {**cell, "success_rate": 0.0}}}}
    image = iio.imread(write_heat_map(result, str(tmp_path / "course.png")))
    assert image.shape[:2] == (HEADER_H + 2 * CELL_H, LABEL_W + 2 * CELL_W)
    for row, column, rate in ((0, 0, 1.0), (1, 0, 0.5), (1, 1, 0.0)):
        corner = image[HEADER_H + row * CELL_H + 3, LABEL_W + column * CELL_W + 3, :3]
        assert tuple(corner) == success_colour(rate)
    assert success_colour(0.0)[0] > 200 > success_colour(0.0)[1] and success_colour(1.0)[1] > 200 > success_colour(1.0)[0]


def test_the_flat_standard_evaluation_keeps_its_numbers(flat_env):
    """TrackingSums (shared with the course) computes what the standard evaluation always did: the
    figures below are those of the evaluation before it (commit 9ab9974) for the same policy."""
    from legged_train.evaluation import standard_evaluation

    weights = torch.randn(47, 12, generator=torch.Generator().manual_seed(1)) * 0.02
    figures = standard_evaluation(flat_env, lambda obs: obs @ weights, num_envs=8)
    assert figures == pytest.approx({"velocity_rmsd": 0.5910614530415523, "yaw_rate_rmsd": 0.5831139498253418,
                                     "cost_of_transport": 2.365967273712158, "fall_rate": 0.0}, rel=1e-6)
