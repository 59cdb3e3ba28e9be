"""The policy interface the demonstration collectors drive, and an adapter for our actors.

A collector's policy is any object with

- ``act(obs, critic_obs) -> actions``: sampled actions (``demo_by_sample=True``); if it then has an
  ``action_mean`` attribute (rsl_rl's ActorCritic does), that mean is stored as well;
- ``act_inference(obs, critic_obs) -> actions``: the deterministic actions;
- ``reset(dones)``: forget the memory of the envs that finished (recurrent policies);
- optionally ``get_hidden_states()``: a tensor or a tuple of tensors with the env dimension second
  to last (rsl_rl's ``(num_layers, num_envs, hidden)``), the memory the next action will use.

``ActorPolicy`` gives that interface to one of our actor networks (``forward(obs)`` = mean action,
``distribution(obs)`` = the Gaussian), e.g. a PPO runner's ``runner.alg.actor``.
"""

from __future__ import annotations

import torch
from torch import nn


class ActorPolicy:
    """``act`` / ``act_inference`` / ``reset`` over an actor network.

    ``actor`` is the network (``forward`` = deterministic action; ``distribution(obs)`` for sampling,
    optional ``reset(dones)`` and ``get_hidden_states()`` for recurrent actors). ``info`` (plain
    types: checkpoint path, task, iteration) is recorded in the dataset's metadata.
    """

    def __init__(self, actor: nn.Module, device: str | torch.device | None = None, info: dict | None = None):
        self.actor = actor
        if device is None:
            parameter = next(actor.parameters(), None)
            device = parameter.device if parameter is not None else "cpu"
        self.device = torch.device(device)
        self.info = dict(info or {})
        self.action_mean: torch.Tensor | None = None
        actor.eval()  # no dropout / normalizer updates while collecting

    @classmethod
    def from_runner(cls, runner, info: dict | None = None) -> "ActorPolicy":
        """The runner's stochastic actor when it has one (PPO: ``runner.alg.actor``), else its
        deterministic policy module (then only ``act_inference`` works)."""
        actor = getattr(getattr(runner, "alg", None), "actor", None)
        if actor is None or not hasattr(actor, "distribution"):
            actor = runner.policy_module()
        runner.eval_mode()
        return cls(actor, device=runner.device, info=info)

    def act(self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None) -> torch.Tensor:
        if not hasattr(self.actor, "distribution"):
            raise ValueError(
                f"{type(self.actor).__name__} has no distribution(obs): sampled demonstrations need a stochastic "
                "actor (a PPO run); collect deterministic actions instead (demo_by_sample=False, no --sample)"
            )
        # One call of the network per step (a recurrent actor advances its memory once).
        distribution = self.actor.distribution(obs.to(self.device))
        self.action_mean = distribution.mean
        return distribution.sample()

    def act_inference(self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None) -> torch.Tensor:
        return self.actor(obs.to(self.device))

    def reset(self, dones: torch.Tensor | None = None) -> None:
        if hasattr(self.actor, "reset"):
            self.actor.reset(dones if dones is None else dones.to(self.device))

    def get_hidden_states(self):
        getter = getattr(self.actor, "get_hidden_states", None)
        return getter() if getter is not None else None
