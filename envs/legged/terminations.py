"""Termination terms: each a named function of the env's current state returning, per env, whether
the episode ends now for real (a fall: ``terminated``). The time limit is not a term: it truncates.

A term's parameters are its keyword arguments, set in the config by term name
(``TerminationConfig.terms``, e.g. ``--set env.terminations.terms.base_too_low.min_height=0.2``).
A new termination is a function here, listed in ``TERMINATION_TERMS``, and one entry in that config.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv


def bad_orientation(env: LeggedVelocityEnv, max_tilt: float = 1.0) -> torch.Tensor:
    """The base's up axis more than ``max_tilt`` (rad) from the world's."""
    return env.projected_gravity[:, 2] > -math.cos(max_tilt)


def base_too_low(env: LeggedVelocityEnv, min_height: float = 0.12) -> torch.Tensor:
    """The base below ``min_height`` (m) above the ground (the plane, or the terrain under the feet)."""
    return env.base_height < min_height


def base_contact(env: LeggedVelocityEnv) -> torch.Tensor:
    """The base touching something (its touch site; with feet-only contacts it never does)."""
    if env.base_contact_force is None:  # the robot has no base touch site
        return torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)
    return env.base_contact_force > env.cfg.rewards.contact_force_threshold


def time_out(env: LeggedVelocityEnv) -> torch.Tensor:
    """The episode reached its length (``episode_length_s``); never together with a termination."""
    return (env.episode_length_buf >= env.max_episode_length) & ~env.terminated


TERMINATION_TERMS: dict[str, Callable[..., torch.Tensor]] = {
    fn.__name__: fn for fn in (bad_orientation, base_too_low, base_contact)
}


class OneStepEpisodes:
    """Warns once (a line on stderr) when, over the first ``STEPS`` policy steps, every env ended
    every episode at its first step: a termination that fires in the standing pose (such as
    ``base_too_low.min_height`` above the standing height) is a config error, not something to learn.
    The line names the terms that ended those episodes and their parameters."""

    STEPS = 5

    def __init__(self, terms: dict[str, tuple[Callable, dict]]) -> None:
        self.terms = terms
        self.episodes = self.one_step = 0
        self.ended_by = dict.fromkeys(terms, 0)

    def update(self, env: LeggedVelocityEnv, done_ids: torch.Tensor) -> None:
        """Count the episodes ending now (``done_ids``, before they reset); warn at step ``STEPS``."""
        self.episodes += len(done_ids)
        self.one_step += int((env.episode_length_buf[done_ids] == 1).sum())
        for name, fired in env.terminated_by.items():
            self.ended_by[name] += int(fired[done_ids].sum())
        if env.common_step_counter != self.STEPS or self.episodes < env.num_envs or self.one_step < self.episodes:
            return
        fired = [f"{name}{self._setting(env, name)} ({count} of {self.episodes})" for name, count in self.ended_by.items() if count]
        print(f"warning: every episode of the first {self.STEPS} steps ended at its first step, terminated by "
              f"{', '.join(fired) or 'no termination term'}: the robot cannot even stand; check env.terminations.terms "
              "(a threshold past the standing pose?)", file=sys.stderr, flush=True)

    def _setting(self, env: LeggedVelocityEnv, name: str) -> str:
        """`` (min_height=1.0, standing height 0.29 m)``: a term's parameters, for the message."""
        parts = [f"{key}={value}" for key, value in self.terms[name][1].items()]
        if name == "base_too_low":
            parts.append(f"standing height {env.cfg.robot.base_init_height:.3g} m")
        return f" ({', '.join(parts)})" if parts else ""
