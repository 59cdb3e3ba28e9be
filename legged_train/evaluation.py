"""The standard evaluation of a velocity-tracking policy: the one figure everyone compares.

256 envs, seed 0, nominal physics (no randomization, no pushes; sensing noise as in training),
commands drawn once per env from forward U(-1, 1) m/s, lateral U(-0.5, 0.5) m/s, yaw U(-1, 1) rad/s
and held for 10 s of simulated time, deterministic actions. Measured after the first second:

- velocity_rmsd: root mean square over envs and steps of |commanded - measured| planar base
  velocity in the heading frame (m/s);
- yaw_rate_rmsd: the same for the yaw rate (rad/s);
- cost_of_transport: sum of |tau . qdot| dt over joints and steps, divided by m g times the planar
  distance travelled, over the envs whose commanded speed is >= 0.3 m/s;
- fall_rate: the fraction of envs that terminated (a fall) during the 10 s.

An env that falls stops counting towards the RMSDs and the cost of transport from its fall on.

A policy with a ``reset(dones)`` method (``runner.get_inference_policy()``: a recurrent policy's
memory) is reset for all envs before the first step and for the envs that fell after each step.
The policy reads the observation group ``obs_group``: by default its own ``policy.obs_group``
(``runner.get_inference_policy()`` has it: a privileged teacher reads "teacher"), else "policy".
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from legged_train.envs.legged import rewards
from legged_train.envs.legged.env import LeggedVelocityEnv, is_legged_env
from legged_train.observation_groups import observation_group

NUM_ENVS = 256
SEED = 0
DURATION_S = 10.0
WARMUP_S = 1.0
COMMAND_RANGES = ((-1.0, 1.0), (-0.5, 0.5), (-1.0, 1.0))  # forward m/s, lateral m/s, yaw rad/s
MIN_SPEED_FOR_COT = 0.3  # m/s
GRAVITY = 9.81

__all__ = ["standard_evaluation", "standard_commands", "TrackingSums", "is_legged_env", "policy_obs_group", "velocity_tracking_error"]


def standard_commands(num_envs: int = NUM_ENVS, seed: int = SEED) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    columns = [low + (high - low) * torch.rand(num_envs, generator=generator) for low, high in COMMAND_RANGES]
    return torch.stack(columns, dim=1)


def policy_obs_group(policy, obs_group: str | None = None) -> str:
    """The observation group to feed ``policy``: ``obs_group`` if given, else the policy's own
    ``obs_group`` attribute (an ``InferencePolicy`` has one), else "policy"."""
    return obs_group if obs_group is not None else getattr(policy, "obs_group", "policy")


def velocity_tracking_error(env: LeggedVelocityEnv) -> torch.Tensor:
    """(N,) m/s: |commanded - measured| planar base velocity in the heading frame, now."""
    return torch.norm(env.commands[:, :2] - env.base_lin_vel_heading, dim=1)


@torch.no_grad()
def standard_evaluation(
    env: LeggedVelocityEnv,
    policy: Callable[[torch.Tensor], torch.Tensor],
    device: str | torch.device | None = None,
    num_envs: int = NUM_ENVS,
    obs_group: str | None = None,
) -> dict[str, float]:
    """Run the standard evaluation on a fresh nominal copy of `env` (which is left untouched).

    ``obs_group``: the observation group fed to ``policy`` (default: ``policy_obs_group(policy)``)."""
    eval_env = env.make_eval_env(num_envs=num_envs, seed=SEED)
    # The episode must outlast the evaluation, or time-outs would reset envs mid-measurement.
    if eval_env.max_episode_length * eval_env.step_dt < DURATION_S + eval_env.step_dt:
        eval_env.cfg.episode_length_s = DURATION_S + 1.0
        eval_env.max_episode_length = math.ceil(eval_env.cfg.episode_length_s / eval_env.step_dt)
    try:
        return _measure(eval_env, policy, device, policy_obs_group(policy, obs_group))
    finally:
        eval_env.close()


def _measure(env: LeggedVelocityEnv, policy, device, obs_group: str) -> dict[str, float]:
    n = env.num_envs
    commands = standard_commands(n).to(env.device)
    env.set_commands(commands, hold=True)
    obs, extras = env.reset()
    reset_policy = getattr(policy, "reset", None)
    if reset_policy is not None:
        reset_policy()  # fresh episodes: a recurrent policy forgets what it played before
    steps, warmup = round(DURATION_S / env.step_dt), round(WARMUP_S / env.step_dt)
    fallen = torch.zeros(n, dtype=torch.bool, device=env.device)
    sums = TrackingSums(n, env.device)
    for t in range(steps):
        obs = observation_group(obs, extras, obs_group)
        actions = policy(obs if device is None else obs.to(device))
        obs, _, dones, extras = env.step(actions.to(env.device))
        if reset_policy is not None:
            reset_policy(dones)  # a fallen env no longer counts, but its new episode starts with a fresh memory
        fallen |= extras["terminated"]
        if t < warmup:
            continue
        sums.add(env, commands, ~fallen)

    moving = (torch.norm(commands[:, :2], dim=1) >= MIN_SPEED_FOR_COT) & ~fallen
    return {
        "velocity_rmsd": sums.velocity_rmsd(),
        "yaw_rate_rmsd": sums.yaw_rate_rmsd(),
        "cost_of_transport": sums.cost_of_transport(env, moving),
        "fall_rate": fallen.float().mean().item(),
    }


class TrackingSums:
    """Per-env running sums behind the standard evaluation's figures, so that every evaluation
    (this one, the terrain course of ``legged_train.course``) measures them the same way.

    ``add(env, commands, counting)`` after each step adds the counting envs' squared velocity and
    yaw-rate errors, joint energy and planar distance; the figures are then taken over any subset
    of envs (``envs``: a bool mask, default all)."""

    def __init__(self, num_envs: int, device: str | torch.device):
        zeros = lambda: torch.zeros(num_envs, device=device)  # noqa: E731
        self.vel_sq_sum, self.yaw_sq_sum, self.counted = zeros(), zeros(), zeros()
        self.energy, self.distance = zeros(), zeros()

    def add(self, env: LeggedVelocityEnv, commands: torch.Tensor, counting: torch.Tensor) -> None:
        alive = counting.float()
        self.vel_sq_sum += alive * torch.sum(torch.square(commands[:, :2] - env.base_lin_vel_heading), dim=1)
        self.yaw_sq_sum += alive * torch.square(commands[:, 2] - env.yaw_rate)
        self.counted += alive
        self.energy += alive * rewards.energy(env) * env.step_dt  # sum over joints of |tau . qdot|
        self.distance += alive * torch.norm(env.base_lin_vel_world[:, :2], dim=1) * env.step_dt

    def velocity_rmsd(self, envs: torch.Tensor | None = None) -> float:
        """m/s, root mean square over the counted steps of ``envs``."""
        return self._rms(self.vel_sq_sum, envs)

    def yaw_rate_rmsd(self, envs: torch.Tensor | None = None) -> float:
        return self._rms(self.yaw_sq_sum, envs)

    def _rms(self, sq_sum: torch.Tensor, envs: torch.Tensor | None) -> float:
        if envs is None:
            return math.sqrt((sq_sum.sum() / self.counted.sum().clamp(min=1.0)).item())
        if not bool((self.counted[envs] > 0).any()):
            return float("nan")  # nothing counted (every env fell in the first second): no figure
        return math.sqrt((sq_sum[envs].sum() / self.counted[envs].sum()).item())

    def cost_of_transport(self, env: LeggedVelocityEnv, envs: torch.Tensor) -> float:
        """Energy over m g times the distance, summed over ``envs`` (nan when they travelled nowhere)."""
        weight = env.total_mass() * GRAVITY
        transport = torch.sum((weight * self.distance)[envs])
        return (self.energy[envs].sum() / transport).item() if transport > 0 else float("nan")
