"""Soft Actor-Critic (Haarnoja et al. 2018, the version with automatic temperature).

- Actor: a Gaussian over pre-squash actions, squashed by tanh and scaled to the action bounds;
  its log-probability carries the tanh change-of-variables term.
- Critics: two Q networks with their own Polyak-averaged targets; targets use the smaller of the
  two (clipped double Q) to fight overestimation.
- Temperature: alpha is learned so that the policy entropy tracks ``target_entropy``
  (``-|A|`` by default).

The actor reads the ``policy`` observations; the critics read ``critic`` (privileged) observations
when the env has that group, else ``policy`` too.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from legged_train.algorithms.off_policy_common import (
    OffPolicyAlgorithm,
    OffPolicyConfig,
    checked_action_space,
    gradient_step,
    soft_update,
    td_targets,
)
from legged_train.config import check_fields
from legged_train.networks import make_hidden_layers, make_mlp
from legged_train.replay_buffer import ReplayBatch


@dataclass
class SACConfig(OffPolicyConfig):
    # Replay, schedule, discount and target fields (Polyak tau = 0.005 every gradient step): see OffPolicyConfig.
    total_timesteps: int = 20_000
    buffer_size: int = 1_000_000
    actor_learning_rate: float = 3e-4
    critic_learning_rate: float = 1e-3
    alpha_learning_rate: float = 1e-3
    # Temperature: learned when autotune_alpha, else fixed at init_alpha.
    init_alpha: float = 1.0
    autotune_alpha: bool = True
    # None -> -|A| (one nat below zero per action dimension).
    target_entropy: float | None = None
    # Actor and temperature step once every policy_frequency critic steps (TD3-style delay).
    policy_frequency: int = 1
    # 0 disables gradient clipping.
    max_grad_norm: float = 0.0
    # Bound of the squashed action on envs whose action space is unbounded (the legged envs).
    action_bound: float = 1.0
    actor_cfg: dict = field(default_factory=lambda: {"hidden_dims": [256, 256], "activation": "relu"})
    critic_cfg: dict = field(default_factory=lambda: {"hidden_dims": [256, 256], "activation": "relu"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, ("policy_frequency",), lambda v: v >= 1, ">= 1")
        names = ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate", "init_alpha", "action_bound")
        check_fields(self, names, lambda v: v > 0, "> 0")
        check_fields(self, ("max_grad_norm",), lambda v: v >= 0, ">= 0 (0 disables clipping)")


LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class SquashedGaussianActor(nn.Module):
    """MLP torso with mean and log-std heads; SAC squashes the sample with tanh.

    SAC builds any ``actor_class`` as ``cls(num_obs=, num_actions=, **cfg.actor_cfg)`` and expects
    ``forward(obs) -> (mean, log_std)``, each (B, num_actions).
    """

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        hidden_dims: list[int] | tuple[int, ...] = (256, 256),
        activation: str = "relu",
    ):
        super().__init__()
        self.torso = make_hidden_layers(num_obs, hidden_dims, activation)
        self.mean = nn.Linear(hidden_dims[-1], num_actions)
        self.log_std = nn.Linear(hidden_dims[-1], num_actions)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.torso(obs)
        # A soft clamp keeps std in a sane range without killing the gradient at the edges.
        log_std = torch.tanh(self.log_std(features))
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1.0)
        return self.mean(features), log_std


class MLPQCritic(nn.Module):
    """Q(s, a) from an MLP on the concatenated observation and action.

    SAC builds any ``critic_class`` as ``cls(num_obs=, num_actions=, **cfg.critic_cfg)`` and expects
    ``forward(obs, actions) -> (B,)``.
    """

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        hidden_dims: list[int] | tuple[int, ...] = (256, 256),
        activation: str = "relu",
    ):
        super().__init__()
        self.q = make_mlp(num_obs + num_actions, list(hidden_dims), 1, activation)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.q(torch.cat([obs, actions], dim=-1)).squeeze(-1)


def squashed_log_prob(pre_tanh: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """log pi(a|s) of a = center + scale * tanh(u), u ~ N(mean, std), summed over action dims.

    log|d a / d u| = log(scale) + log(1 - tanh(u)^2), and
    log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)) is the overflow-free form.
    """
    gaussian = torch.distributions.Normal(mean, log_std.exp()).log_prob(pre_tanh)
    log_det = torch.log(scale) + 2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))
    return (gaussian - log_det).sum(dim=-1)


class SquashedMeanPolicy(nn.Module):
    """center + scale * tanh(actor mean): SAC's deterministic action as one module (evaluation, export)."""

    def __init__(self, actor: nn.Module, center: torch.Tensor, scale: torch.Tensor):
        super().__init__()
        self.actor = actor
        self.register_buffer("center", center)
        self.register_buffer("scale", scale)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        mean, _ = self.actor(obs)
        return self.center + self.scale * torch.tanh(mean)


class SAC(OffPolicyAlgorithm):
    """SAC over a continuous (Box) action space."""

    name = "sac"
    checkpointed_modules = ("actor", "critic1", "critic2", "target_critic1", "target_critic2")
    checkpointed_optimizers = ("actor_optimizer", "critic_optimizer", "alpha_optimizer")
    trained_modules = ("policy", "critic1", "critic2")  # policy holds the actor

    def __init__(
        self,
        env,
        cfg: SACConfig,
        actor_class: type[nn.Module] = SquashedGaussianActor,
        critic_class: type[nn.Module] = MLPQCritic,
        device=None,
    ):
        space = checked_action_space(
            env, gym.spaces.Box, "SAC needs a continuous Box action space", "use DQN (DQNConfig) for Discrete actions"
        )
        super().__init__(env, cfg, device)
        self.num_actions = int(np.prod(space.shape))
        # The critic reads the privileged group when the env has one.
        self.critic_group = "critic" if getattr(env, "num_privileged_obs", None) else "policy"
        self.num_critic_obs = int(env.num_privileged_obs) if self.critic_group == "critic" else self.num_obs

        low = np.broadcast_to(space.low, space.shape).reshape(-1).astype(np.float64)
        high = np.broadcast_to(space.high, space.shape).reshape(-1).astype(np.float64)
        low = np.where(np.isfinite(low), low, -cfg.action_bound)
        high = np.where(np.isfinite(high), high, cfg.action_bound)
        self.action_low = torch.as_tensor(low, dtype=torch.float32, device=self.device)
        self.action_high = torch.as_tensor(high, dtype=torch.float32, device=self.device)
        self.action_center = (self.action_high + self.action_low) / 2
        self.action_scale = (self.action_high - self.action_low) / 2

        self.actor = actor_class(num_obs=self.num_obs, num_actions=self.num_actions, **cfg.actor_cfg).to(self.device)
        self.critic1 = critic_class(num_obs=self.num_critic_obs, num_actions=self.num_actions, **cfg.critic_cfg).to(
            self.device
        )
        self.critic2 = critic_class(num_obs=self.num_critic_obs, num_actions=self.num_actions, **cfg.critic_cfg).to(
            self.device
        )
        self.target_critic1 = copy.deepcopy(self.critic1).requires_grad_(False)
        self.target_critic2 = copy.deepcopy(self.critic2).requires_grad_(False)
        self.policy = SquashedMeanPolicy(self.actor, self.action_center, self.action_scale)

        self.target_entropy = float(cfg.target_entropy) if cfg.target_entropy is not None else -float(self.num_actions)
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), device=self.device, requires_grad=cfg.autotune_alpha)

        # foreach=True: one fused kernel per step instead of one per tensor (the CPU default is per tensor).
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_learning_rate, foreach=True)
        self.critic_optimizer = torch.optim.Adam(
            self.critic_parameters(), lr=cfg.critic_learning_rate, foreach=True
        )
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_learning_rate)
        # Actor-side stats are refreshed only on actor steps; keep the latest for the logs.
        self._actor_stats = {"train/actor_loss": 0.0, "train/entropy": 0.0}

    def critic_parameters(self) -> list[nn.Parameter]:
        return list(self.critic1.parameters()) + list(self.critic2.parameters())

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    def obs_spec(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        spec = {"policy": ((self.num_obs,), torch.float32)}
        if self.critic_group == "critic":
            spec["critic"] = ((self.num_critic_obs,), torch.float32)
        return spec

    def action_spec(self) -> tuple[tuple[int, ...], torch.dtype]:
        return (self.num_actions,), torch.float32

    # ------------------------------------------------------------------ acting
    def sample_actions(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized actions in the env's bounds and their log-probabilities (B,)."""
        mean, log_std = self.actor(obs)
        pre_tanh = mean + log_std.exp() * torch.randn_like(mean)
        actions = self.action_center + self.action_scale * torch.tanh(pre_tanh)
        return actions, squashed_log_prob(pre_tanh, mean, log_std, self.action_scale)

    @torch.no_grad()
    def act(self, obs: dict[str, torch.Tensor], timestep: int) -> torch.Tensor:
        """Uniform random actions until learning_starts (a wide first buffer), then policy samples."""
        policy_obs = obs["policy"]
        if timestep < self.cfg.learning_starts:
            u = torch.rand(policy_obs.shape[0], self.num_actions, device=self.device)
            return self.action_low + (self.action_high - self.action_low) * u
        return self.sample_actions(policy_obs)[0]

    # ------------------------------------------------------------------ learning
    def update(self, batch: ReplayBatch) -> dict[str, float]:
        """One critic step; an actor and temperature step every policy_frequency; target updates."""
        cfg = self.cfg
        obs, next_obs = batch.obs["policy"], batch.next_obs["policy"]
        critic_obs, next_critic_obs = batch.obs[self.critic_group], batch.next_obs[self.critic_group]

        with torch.no_grad():
            next_actions, next_log_prob = self.sample_actions(next_obs)
            next_q = torch.min(
                self.target_critic1(next_critic_obs, next_actions), self.target_critic2(next_critic_obs, next_actions)
            )
            soft_next_value = next_q - self.alpha * next_log_prob
            targets = td_targets(batch.rewards, soft_next_value, batch.terminated, cfg.gamma)

        q1 = self.critic1(critic_obs, batch.actions)
        q2 = self.critic2(critic_obs, batch.actions)
        critic1_loss = F.mse_loss(q1, targets)
        critic2_loss = F.mse_loss(q2, targets)
        critic_loss = critic1_loss + critic2_loss
        gradient_step(self.critic_optimizer, critic_loss, self.critic_parameters(), cfg.max_grad_norm)

        self.num_updates += 1
        if self.num_updates % cfg.policy_frequency == 0:
            self._update_actor_and_alpha(obs, critic_obs)
        if self.num_updates % cfg.target_update_interval == 0:
            soft_update(self.target_critic1, self.critic1, cfg.tau)
            soft_update(self.target_critic2, self.critic2, cfg.tau)

        return {
            "train/q_loss": critic_loss.item(),
            "train/critic1_loss": critic1_loss.item(),
            "train/critic2_loss": critic2_loss.item(),
            "train/mean_q": ((q1 + q2) / 2).mean().item(),
            "train/td_target_mean": targets.mean().item(),
            "train/alpha": self.alpha.item(),
            **self._actor_stats,
        }

    def _update_actor_and_alpha(self, obs: torch.Tensor, critic_obs: torch.Tensor) -> None:
        actions, log_prob = self.sample_actions(obs)
        # The critics only score the actions here: no gradients for their weights (saves the work).
        critic_params = self.critic_parameters()
        for param in critic_params:
            param.requires_grad_(False)
        q = torch.min(self.critic1(critic_obs, actions), self.critic2(critic_obs, actions))
        actor_loss = (self.alpha * log_prob - q).mean()
        gradient_step(self.actor_optimizer, actor_loss, self.actor.parameters(), self.cfg.max_grad_norm)
        for param in critic_params:
            param.requires_grad_(True)

        if self.cfg.autotune_alpha:
            # d loss / d log_alpha = -(log_pi + target_entropy): alpha grows while the entropy
            # (-log_pi) is below the target and shrinks while it is above.
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            gradient_step(self.alpha_optimizer, alpha_loss, [self.log_alpha], max_grad_norm=0.0)
        self._actor_stats = {"train/actor_loss": actor_loss.item(), "train/entropy": -log_prob.mean().item()}

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_stats": dict(self._actor_stats),
        }

    def load_state_dict(self, state: dict, load_optimizer: bool = True) -> None:
        super().load_state_dict(state, load_optimizer)
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"].to(self.device))
        self._actor_stats = dict(state["actor_stats"])
