"""The vectorized-environment API every runner in legged_train talks to.

It is the rsl_rl VecEnv shape with Gymnasium's timeout semantics:

- ``get_observations() -> (obs, extras)``, with ``extras["observations"]`` holding every named
  observation group (``"policy"`` is ``obs``; ``"critic"`` is privileged when the env has one).
- ``step(actions) -> (obs, rewards, dones, extras)``. Environments that finish are reset in the
  same call (same-step autoreset), so ``obs`` of a finished env is already its next episode's
  first observation. ``extras`` always carries:

  * ``"observations"``: the groups, as in ``get_observations``;
  * ``"terminated"``: bool (N,), a real end (a fall): do not bootstrap;
  * ``"truncated"``: bool (N,), a time limit: bootstrap from the final observation;
  * ``"time_outs"``: the same tensor as ``"truncated"`` (rsl_rl's name);
  * ``"final_observation"``: (N, num_obs), the policy observation the finished envs ended with,
    before their reset; zeros for the rows of envs that did not finish;
  * ``"final_critic_observation"``: the same for the critic group (envs with one).

  and, on steps where some env finished, ``"log"``: scalar tensors such as per-term episode
  reward sums, averaged over the envs that finished.

``dones = terminated | truncated``. All tensors live on ``device``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class VecEnv(ABC):
    num_envs: int
    num_obs: int
    num_privileged_obs: int | None
    num_actions: int
    max_episode_length: int
    device: torch.device

    @abstractmethod
    def get_observations(self) -> tuple[torch.Tensor, dict]:
        """Current policy observations and extras with ``extras["observations"]``."""

    @abstractmethod
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """Advance every env by one policy step; see the module docstring for extras."""

    @abstractmethod
    def reset(self) -> tuple[torch.Tensor, dict]:
        """Reset every env; returns what ``get_observations`` would."""

    def close(self) -> None:
        """Release simulator resources."""
