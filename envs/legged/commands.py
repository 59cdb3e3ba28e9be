"""Velocity commands: what each env is asked to do, (forward m/s, lateral m/s, yaw rad/s) in the
base's heading frame, drawn uniformly from ``env.command_ranges`` (the config's ``CommandsConfig``
ranges, which a curriculum may widen), with a share of exact zeros (stand still), redrawn every
``resampling_time`` seconds and at each reset. State on the env: ``commands`` and ``command_time_left``.

With ``heading_command`` (legged_gym's) the yaw column is not drawn but steered: a heading in the
world is drawn instead (``command_heading``), and ``steer_to_heading`` sets the yaw rate towards it
every step (for the envs told to move: ``command_steering``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import math

import torch

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv

COMMAND_NAMES = ("lin_vel_x", "lin_vel_y", "ang_vel_yaw")  # the columns of env.commands


def initial_ranges(cfg) -> dict[str, tuple[float, float]]:
    """The (low, high) ranges of a ``CommandsConfig``, as the env keeps them (a curriculum changes its copy)."""
    return {name: tuple(getattr(cfg, name)) for name in COMMAND_NAMES}


def resample(env: LeggedVelocityEnv, env_ids: torch.Tensor) -> None:
    """New commands for ``env_ids``, and their timers restarted."""
    c, n = env.cfg.commands, len(env_ids)
    commands = torch.stack([env.uniform((n,), *env.command_ranges[name]) for name in COMMAND_NAMES], dim=1)
    standing = torch.rand(n, generator=env.generator, device=env.device) < c.standing_fraction
    env.commands[env_ids] = commands * ~standing[:, None]
    env.command_time_left[env_ids] = c.resampling_time
    if c.heading_command:
        env.command_heading[env_ids] = env.uniform((n,), -math.pi, math.pi)
        env.command_steering[env_ids] = ~standing


def steer_to_heading(env: LeggedVelocityEnv) -> None:
    """With heading commands: the yaw-rate command of each moving env turns its base towards its
    commanded heading, ``heading_stiffness`` x the heading error, clipped to the yaw range. Not while
    commands are held (an evaluation sets them all)."""
    if not env.cfg.commands.heading_command or env.hold_commands:
        return
    error = env.command_heading - env.base_yaw
    error = torch.atan2(torch.sin(error), torch.cos(error))  # wrapped into (-pi, pi]
    low, high = env.command_ranges["ang_vel_yaw"]
    yaw_rate = (env.cfg.commands.heading_stiffness * error).clamp(low, high)
    env.commands[:, 2] = torch.where(env.command_steering, yaw_rate, env.commands[:, 2])


def resample_on_timer(env: LeggedVelocityEnv) -> None:
    """Count the timers down by one policy step; new commands where they ran out (never while held)."""
    if env.hold_commands:
        return
    env.command_time_left -= env.step_dt
    expired = (env.command_time_left <= 0.0).nonzero(as_tuple=False).flatten()
    if len(expired) > 0:
        resample(env, expired)


def is_moving(commands: torch.Tensor) -> torch.Tensor:
    """Per env: whether the command asks for motion (standing commands are exact zeros)."""
    return torch.norm(commands, dim=1) > 0.1
