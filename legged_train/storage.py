"""Rollout storage for on-policy learning: fixed-size (steps x envs) tensors, GAE, minibatches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch


@dataclass
class Minibatch:
    obs: torch.Tensor
    critic_obs: torch.Tensor
    actions: torch.Tensor
    old_log_probs: torch.Tensor
    old_values: torch.Tensor
    old_mean: torch.Tensor
    old_std: torch.Tensor
    returns: torch.Tensor
    advantages: torch.Tensor


class RolloutStorage:
    """Holds one rollout of ``num_steps`` transitions from each of ``num_envs`` envs.

    ``dones[t]`` marks the end of an episode at step t (terminated or truncated): GAE does not
    look past it. The value of a truncated step's final observation is folded into its reward
    before it is stored (see ``PPO.process_env_step``), so truncation still bootstraps.
    """

    def __init__(
        self,
        num_envs: int,
        num_steps: int,
        num_obs: int,
        num_critic_obs: int,
        num_actions: int,
        device: torch.device | str = "cpu",
    ):
        self.num_envs = num_envs
        self.num_steps = num_steps
        self.device = torch.device(device)

        def zeros(*shape: int) -> torch.Tensor:
            return torch.zeros(num_steps, num_envs, *shape, device=self.device)

        self.obs = zeros(num_obs)
        self.critic_obs = zeros(num_critic_obs)
        self.actions = zeros(num_actions)
        self.rewards = zeros()
        self.dones = zeros()
        self.values = zeros()
        self.log_probs = zeros()
        self.action_mean = zeros(num_actions)
        self.action_std = zeros(num_actions)
        self.returns = zeros()
        self.advantages = zeros()
        self.step = 0

    def add(
        self,
        obs: torch.Tensor,
        critic_obs: torch.Tensor,
        actions: torch.Tensor,
        log_probs: torch.Tensor,
        values: torch.Tensor,
        action_mean: torch.Tensor,
        action_std: torch.Tensor,
    ) -> None:
        """Record what the policy saw and did; ``set_step_result`` adds reward and done after env.step."""
        if self.step >= self.num_steps:
            raise RuntimeError(f"rollout storage is full ({self.num_steps} steps); call clear() after the update")
        t = self.step
        self.obs[t].copy_(obs)
        self.critic_obs[t].copy_(critic_obs)
        self.actions[t].copy_(actions)
        self.log_probs[t].copy_(log_probs)
        self.values[t].copy_(values)
        self.action_mean[t].copy_(action_mean)
        self.action_std[t].copy_(action_std)

    def set_step_result(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        self.rewards[self.step].copy_(rewards)
        self.dones[self.step].copy_(dones)
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    @property
    def full(self) -> bool:
        return self.step == self.num_steps

    def compute_returns(self, last_values: torch.Tensor, gamma: float, lam: float) -> None:
        """Generalized advantage estimation over the stored rollout."""
        self.advantages.copy_(compute_gae(self.rewards, self.values, self.dones, last_values, gamma, lam))
        self.returns.copy_(self.advantages + self.values)

    def minibatches(self, num_mini_batches: int, num_epochs: int) -> Iterator[Minibatch]:
        """Shuffled minibatches over all (step, env) samples, a fresh permutation per epoch."""
        batch_size = self.num_steps * self.num_envs
        if num_mini_batches < 1 or num_mini_batches > batch_size:
            raise ValueError(f"num_mini_batches={num_mini_batches} must be in [1, {batch_size}] (steps x envs)")
        mini_batch_size = batch_size // num_mini_batches
        flat = {
            "obs": self.obs.flatten(0, 1),
            "critic_obs": self.critic_obs.flatten(0, 1),
            "actions": self.actions.flatten(0, 1),
            "old_log_probs": self.log_probs.flatten(0, 1),
            "old_values": self.values.flatten(0, 1),
            "old_mean": self.action_mean.flatten(0, 1),
            "old_std": self.action_std.flatten(0, 1),
            "returns": self.returns.flatten(0, 1),
            "advantages": self.advantages.flatten(0, 1),
        }
        for _ in range(num_epochs):
            permutation = torch.randperm(batch_size, device=self.device)
            for i in range(num_mini_batches):
                ids = permutation[i * mini_batch_size : (i + 1) * mini_batch_size]
                yield Minibatch(**{name: tensor[ids] for name, tensor in flat.items()})


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """Advantages A_t = sum_k (gamma*lam)^k delta_{t+k}, cut at episode ends.

    delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t); all tensors are (steps, envs)
    except ``last_values`` (envs,), the value of the observation after the last step.
    """
    num_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_values)
    next_values = last_values
    for t in reversed(range(num_steps)):
        not_done = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * next_values * not_done - values[t]
        next_advantage = delta + gamma * lam * not_done * next_advantage
        advantages[t] = next_advantage
        next_values = values[t]
    return advantages
