"""The terrain evaluation course: every sub-terrain type at fixed difficulty bins (issue 21).

The standard evaluation (``legged_train.evaluation``) measures tracking on flat ground; the course
asks whether a policy gets across each kind of terrain. It is fixed: its own seeded terrain (not the
run's), the sub-terrains' default parameters (``SubTerrainParams()``), the same for every run, so
figures compare across runs and tasks (a flat-ground policy can take it too).

- The terrain: one tile column per sub-terrain type (``SUB_TERRAIN_TYPES``: flat, rough, slope
  up/down, stairs up/down, discrete obstacles, stepping stones, gaps, hurdles, boxes), one row per
  difficulty bin; with ``bins`` = 4 the difficulties are 0.2, 0.4, 0.6, 0.8 (``(i + 1) / (bins + 1)``:
  evenly inside (0, 1), within the training terrain's 0 .. 0.9). Tiles of 8 m, 0.05 m cells. Type k
  is column k and a tile's random draws are seeded by (seed, level, column), so a type appended to
  SUB_TERRAIN_TYPES adds a column and leaves every earlier column's tiles bit-identical (hurdles and
  boxes, issue 24, came that way: the first nine columns are those of issue 21's figures).
- ``envs_per_cell`` robots per (type, difficulty) start at the tile's centre, on nominal physics
  (no randomization or pushes; sensing noise as in training), curriculum off, facing along a tile
  axis (+x, +y, -x, -y in turn): 4 m ahead is then the tile's edge, so a robot that succeeds has
  crossed the whole slope, the whole flight of stairs, the whole gap ring, every hurdle or the
  whole box (up and down again) of its tile.
- A command of ``speed`` m/s forward held for ``duration_s`` (10 s); deterministic actions.

Per type and difficulty:

- ``success_rate``: the share of robots whose base got ``success_distance`` (4 m) along the heading
  they started with (the projection of their displacement on it) before any fall;
- ``fall_rate``: the share that fell (a termination) before succeeding;
- ``velocity_rmsd`` and ``cost_of_transport``: as the standard evaluation measures them (its
  ``TrackingSums``), over each robot's time on its tile: after the first second, until it succeeded
  or fell. A robot that succeeded walks on onto the next tile; what happens there does not count.

``course_evaluation(env, policy)`` returns those figures (JSON-ready: a missing figure is None);
``write_heat_map(result, path)`` draws the success rates as a PNG (``play.py --course``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.terrain import SUB_TERRAIN_TYPES, TerrainConfig
from legged_train.evaluation import WARMUP_S, TrackingSums, policy_obs_group
from legged_train.observation_groups import observation_group

SEED = 0


@dataclass
class CourseConfig:
    """The course's layout and rules; the defaults are THE course (change them only to test)."""

    types: tuple[str, ...] = SUB_TERRAIN_TYPES
    bins: int = 4  # difficulties (i + 1) / (bins + 1): 0.2, 0.4, 0.6, 0.8
    envs_per_cell: int = 8  # robots per (type, difficulty), a multiple of the 4 headings
    tile_size: float = 8.0  # m: the start is 4 m from the tile's edge along either axis
    border: float = 5.0  # m of flat ground around the tiles
    speed: float = 0.8  # m/s forward: inside the training command range (+-1 m/s), not at its edge
    duration_s: float = 10.0  # s: 4 m at 0.8 m/s takes 5 s; twice that for slowing down on hard ground
    success_distance: float = 4.0  # m along the starting heading
    seed: int = SEED
    headings: tuple[float, ...] = field(default=(0.0, math.pi / 2, math.pi, -math.pi / 2))  # rad, in turn

    @property
    def num_envs(self) -> int:
        return len(self.types) * self.bins * self.envs_per_cell

    def difficulties(self) -> list[float]:
        return [(i + 1) / (self.bins + 1) for i in range(self.bins)]

    def terrain_config(self) -> TerrainConfig:
        """The course terrain: one column per type (in SUB_TERRAIN_TYPES order), one row per bin."""
        low = 1 / (self.bins + 1)  # TerrainConfig's level i: low + (1 - low) i / bins = (i + 1) / (bins + 1)
        return TerrainConfig(kind="generated", num_rows=self.bins, num_cols=len(self.types), tile_size=self.tile_size,
                             border=self.border, difficulty_range=(low, 1.0), proportions=dict.fromkeys(self.types, 1.0),
                             max_init_terrain_level=0, seed=self.seed)


def make_course_env(env: LeggedVelocityEnv, course: CourseConfig | None = None) -> LeggedVelocityEnv:
    """A copy of ``env``'s task (robot, observations, sensing noise, contacts) on the course terrain:
    nominal physics, curriculum off, robot k of each cell on its tile's centre facing
    ``course.headings[k % 4]``. ``env`` is left untouched."""
    course = course or CourseConfig()
    cfg = copy.deepcopy(env.cfg)
    cfg.terrain = course.terrain_config()
    cfg.curriculum.terms = {}  # each robot keeps its tile: the course, not a curriculum, places them
    cfg.num_envs = course.num_envs
    cfg.seed = course.seed
    cfg.domain_rand.enabled = False
    # The episode must outlast the course, or time-outs would reset robots mid-measurement.
    cfg.episode_length_s = max(cfg.episode_length_s, course.duration_s + 1.0)
    course_env = type(env)(cfg, device=env.device)

    terrain = course_env.terrain
    # Env e: cell e // envs_per_cell, cells ordered type-major (types in the terrain's column order).
    cell = torch.arange(course.num_envs, device=course_env.device) // course.envs_per_cell
    course_env.terrain_columns[:] = cell // course.bins
    course_env.terrain_levels[:] = cell % course.bins
    course_env.env_origins[:] = course_env.terrain_tile_origins[course_env.terrain_levels, course_env.terrain_columns]
    k = torch.arange(course.num_envs, device=course_env.device) % course.envs_per_cell
    course_env.spawn_yaw = torch.tensor(course.headings, device=course_env.device)[k % len(course.headings)]
    course_env.course_types = [terrain.tile_types[j] for j in course_env.terrain_columns.tolist()]
    course_env.course_difficulty = torch.as_tensor(terrain.difficulty, dtype=torch.float32)[course_env.terrain_levels.cpu()]
    course_env.reset()  # everyone to their start
    return course_env


@torch.no_grad()
def run_course(course_env: LeggedVelocityEnv, policy, course: CourseConfig | None = None,
               device: str | torch.device | None = None, obs_group: str | None = None) -> dict:
    """Drive ``policy`` over a ``make_course_env`` env; the figures per type and difficulty."""
    course = course or CourseConfig()
    env, n = course_env, course_env.num_envs
    obs_group = policy_obs_group(policy, obs_group)
    commands = torch.tensor([[course.speed, 0.0, 0.0]], device=env.device).expand(n, -1)
    env.set_commands(commands, hold=True)
    obs, extras = env.reset()
    reset_policy = getattr(policy, "reset", None)
    if reset_policy is not None:
        reset_policy()
    start = env.base_pos[:, :2].clone()
    heading = torch.stack((torch.cos(env.spawn_yaw), torch.sin(env.spawn_yaw)), dim=1)
    crossed = torch.zeros(n, dtype=torch.bool, device=env.device)
    fallen = torch.zeros_like(crossed)
    sums = TrackingSums(n, env.device)
    steps, warmup = round(course.duration_s / env.step_dt), round(WARMUP_S / env.step_dt)
    for t in range(steps):
        on_course = ~(crossed | fallen)
        obs = observation_group(obs, extras, obs_group)
        actions = policy(obs if device is None else obs.to(device))
        obs, _, dones, extras = env.step(actions.to(env.device))
        if reset_policy is not None:
            reset_policy(dones)
        # A robot that fell was reset within the step: base_pos is its new start, so a fall can
        # never read as a crossing; a fall and a crossing in the same step is a fall.
        fallen |= on_course & extras["terminated"]
        progress = torch.sum((env.base_pos[:, :2] - start) * heading, dim=1)
        crossed |= on_course & ~fallen & (progress >= course.success_distance)
        if t >= warmup:
            sums.add(env, commands, on_course & ~fallen)
    return _figures(env, course, sums, crossed, fallen)


def _figures(env: LeggedVelocityEnv, course: CourseConfig, sums: TrackingSums, crossed, fallen) -> dict:
    difficulty = env.course_difficulty.to(env.device)
    types = np.asarray(env.course_types)
    cells: dict[str, dict[str, dict]] = {}
    for name in dict.fromkeys(env.course_types):
        of_type = torch.as_tensor(types == name, device=env.device)
        cells[name] = {}
        for d in course.difficulties():
            envs = of_type & torch.isclose(difficulty, torch.tensor(d, device=env.device))
            cells[name][f"{d:.2f}"] = {
                "success_rate": crossed[envs].float().mean().item(),
                "fall_rate": fallen[envs].float().mean().item(),
                "velocity_rmsd": _finite(sums.velocity_rmsd(envs)),
                "cost_of_transport": _finite(sums.cost_of_transport(env, envs & ~fallen)),
                "envs": int(envs.sum()),
            }
    return {
        "command": [course.speed, 0.0, 0.0],
        "duration_s": course.duration_s,
        "success_distance_m": course.success_distance,
        "difficulties": [round(d, 4) for d in course.difficulties()],
        "success_rate": crossed.float().mean().item(),
        "fall_rate": fallen.float().mean().item(),
        "cells": cells,
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN: a missing figure is null


def course_evaluation(env: LeggedVelocityEnv, policy, course: CourseConfig | None = None,
                      device: str | torch.device | None = None, obs_group: str | None = None) -> dict:
    """The course for ``policy`` trained on ``env``'s task (``env`` is left untouched)."""
    course = course or CourseConfig()
    course_env = make_course_env(env, course)
    try:
        return run_course(course_env, policy, course, device, obs_group)
    finally:
        course_env.close()


# ------------------------------------------------------------------------------- heat map

CELL_W, CELL_H, LABEL_W, HEADER_H = 72, 30, 130, 40


def write_heat_map(result: dict, path: str) -> str:
    """The success rates as a PNG: a row per sub-terrain type, a column per difficulty, red (0) to
    green (1), each cell's rate written in it. Drawn with Pillow (imageio's own dependency), so no
    plotting library is needed for one table of colours."""
    from PIL import Image, ImageDraw

    types, difficulties = list(result["cells"]), result["difficulties"]
    width, height = LABEL_W + CELL_W * len(difficulties), HEADER_H + CELL_H * len(types)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((4, 4), "success rate", fill="black")
    draw.text((4, HEADER_H - 16), "type \\ difficulty", fill="black")
    for c, d in enumerate(difficulties):
        draw.text((LABEL_W + c * CELL_W + 22, HEADER_H - 16), f"{d:.2f}", fill="black")
    for r, name in enumerate(types):
        top = HEADER_H + r * CELL_H
        draw.text((4, top + 9), name, fill="black")
        for c, d in enumerate(difficulties):
            rate = result["cells"][name][f"{d:.2f}"]["success_rate"]
            left = LABEL_W + c * CELL_W
            draw.rectangle((left, top, left + CELL_W - 1, top + CELL_H - 1), fill=success_colour(rate), outline="white")
            draw.text((left + 24, top + 9), f"{rate:.2f}", fill="black")
    image.save(path)
    return path


def success_colour(rate: float) -> tuple[int, int, int]:
    """Red at 0, yellow at 0.5, green at 1."""
    rate = min(max(rate, 0.0), 1.0)
    return (int(230 * min(1.0, 2 * (1 - rate))) + 20, int(200 * min(1.0, 2 * rate)) + 20, 40)
