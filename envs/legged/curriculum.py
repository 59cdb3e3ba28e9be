"""Curriculum terms: each a named function called with the envs whose episodes just ended (before
they reset), that may change the env's task for the episodes to come. Off by default; turned on
by term name in the config (``CurriculumConfig.terms``, e.g. ``--set 'env.curriculum.terms.command_range={}'``).
What a term changes is state that ``env.state_dict()`` saves (``env.command_ranges``,
``env.terrain_levels`` and ``env.env_origins``).
A new curriculum is a function here, listed in ``CURRICULUM_TERMS``, and one entry in that config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv


def command_range(env: LeggedVelocityEnv, env_ids: torch.Tensor, threshold: float = 0.8, step: float = 0.5,
                  max_lin_vel_x: float = 2.0) -> None:
    """legged_gym's command curriculum: when the episodes that end now tracked the forward command
    well (their mean track_lin_vel reward per step above ``threshold`` x its largest possible value),
    widen the forward command range by ``step`` (m/s) at both ends, up to +-``max_lin_vel_x``.
    Judged once per episode length (when the step counter is a multiple of it), as legged_gym does,
    so the range grows at most one step per episode."""
    if len(env_ids) == 0 or env.common_step_counter % env.max_episode_length != 0:
        return
    column = list(env.reward_weights).index("track_lin_vel")
    best_per_step = env.reward_weights["track_lin_vel"] * env.step_dt  # exp(...) is at most 1
    mean_per_step = env.episode_reward_sums[env_ids, column].mean().item() / env.max_episode_length
    if mean_per_step > threshold * best_per_step:
        low, high = env.command_ranges["lin_vel_x"]
        env.command_ranges["lin_vel_x"] = (max(low - step, -max_lin_vel_x), min(high + step, max_lin_vel_x))


def terrain_levels(env: LeggedVelocityEnv, env_ids: torch.Tensor) -> None:
    """legged_gym's terrain curriculum, for the envs whose episodes end now: up a level when the robot
    walked more than half a tile from its origin, down when it walked less than half the distance its
    command asked for over a whole episode (|command| x episode_length_s / 2); a robot past the top
    level goes to a random level (legged_gym: so the top levels stay mixed, not all crowded at the
    top). The env's next reset starts it at its new tile's origin. Needs a terrain."""
    if len(env_ids) == 0:
        return
    distance = torch.norm(env.base_pos[env_ids, :2] - env.env_origins[env_ids, :2], dim=1)
    up = distance > env.terrain.tile_size / 2
    asked = torch.norm(env.commands[env_ids, :2], dim=1) * env.cfg.episode_length_s * 0.5
    down = (distance < asked) & ~up
    levels = env.terrain_levels[env_ids] + up.long() - down.long()
    top = env.terrain.num_rows
    random = torch.randint(0, top, (len(env_ids),), generator=env.generator, device=env.device)
    levels = torch.where(levels >= top, random, levels.clamp(min=0))
    env.terrain_levels[env_ids] = levels
    env.env_origins[env_ids] = env.terrain_tile_origins[levels, env.terrain_columns[env_ids]]


# Reward terms a curriculum term reads: the env refuses to start one without them.
NEEDS_REWARDS = {"command_range": ("track_lin_vel",)}

CURRICULUM_TERMS: dict[str, Callable[..., None]] = {fn.__name__: fn for fn in (command_range, terrain_levels)}
