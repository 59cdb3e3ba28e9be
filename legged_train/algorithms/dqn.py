"""Deep Q-Network (Mnih et al. 2015) with the double-DQN target and an optional dueling head.

The algorithm owns the maths: epsilon-greedy exploration, the TD target, the Huber loss, the
target network and its updates. ``OffPolicyRunner`` owns the loop, the replay buffer, logging
and checkpoints.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import gymnasium as gym
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
class DQNConfig(OffPolicyConfig):
    # Replay, schedule and discount fields: see OffPolicyConfig.
    batch_size: int = 64
    learning_rate: float = 1e-3
    # Double DQN: the online network picks the next action, the target network values it,
    # which removes most of max-operator overestimation.
    double_dqn: bool = True
    # Dueling head: Q = V + A - mean(A).
    dueling: bool = False
    # Epsilon falls linearly from initial to final over exploration_fraction * total_timesteps.
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    exploration_fraction: float = 0.1
    # The classic target network: a hard copy (tau = 1) every 500 gradient steps.
    target_update_interval: int = 500
    tau: float = 1.0
    # Huber loss threshold on the TD error.
    huber_delta: float = 1.0
    max_grad_norm: float = 10.0
    q_network_cfg: dict = field(default_factory=lambda: {"hidden_dims": [256, 256], "activation": "relu"})

    def __post_init__(self) -> None:
        super().__post_init__()
        names = ("exploration_initial_eps", "exploration_final_eps", "exploration_fraction")
        check_fields(self, names, lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        check_fields(self, ("learning_rate", "huber_delta", "max_grad_norm"), lambda v: v > 0, "> 0")


class MLPQNetwork(nn.Module):
    """Q(s, .) for every discrete action from an MLP; optionally a dueling head.

    DQN builds any ``q_network_class`` as ``cls(num_obs=, num_actions=, dueling=, **cfg.q_network_cfg)``
    and expects ``forward(obs) -> (B, num_actions)``.
    """

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        hidden_dims: list[int] | tuple[int, ...] = (256, 256),
        activation: str = "relu",
        dueling: bool = False,
    ):
        super().__init__()
        self.dueling = dueling
        if not dueling:
            self.q = make_mlp(num_obs, list(hidden_dims), num_actions, activation)
            return
        # A shared torso, then separate state-value and advantage streams.
        self.torso = make_hidden_layers(num_obs, hidden_dims, activation)
        self.value = nn.Linear(hidden_dims[-1], 1)
        self.advantage = nn.Linear(hidden_dims[-1], num_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if not self.dueling:
            return self.q(obs)
        features = self.torso(obs)
        return dueling_q_values(self.value(features), self.advantage(features))


def dueling_q_values(value: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
    """Q = V + A - mean_a(A): subtracting the mean makes V and A identifiable (Wang et al. 2016)."""
    return value + advantage - advantage.mean(dim=-1, keepdim=True)


def linear_schedule(start: float, end: float, duration: float, t: float) -> float:
    """start at t=0, end from t=duration on, linear in between."""
    if duration <= 0:
        return end
    return start + (end - start) * min(t / duration, 1.0)


class GreedyQPolicy(nn.Module):
    """argmax_a Q(s, a): DQN's deterministic policy as one module (evaluation, export)."""

    def __init__(self, q_network: nn.Module):
        super().__init__()
        self.q_network = q_network

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.q_network(obs).argmax(dim=-1)


class DQN(OffPolicyAlgorithm):
    """DQN over the env's ``policy`` observations and a Discrete action space."""

    name = "dqn"
    checkpointed_modules = ("q_network", "target_q_network")
    checkpointed_optimizers = ("optimizer",)
    trained_modules = ("policy",)  # holds q_network

    def __init__(self, env, cfg: DQNConfig, q_network_class: type[nn.Module] = MLPQNetwork, device=None):
        space = checked_action_space(
            env, gym.spaces.Discrete, "DQN needs a Discrete action space", "use SAC (SACConfig) for continuous (Box) actions"
        )
        super().__init__(env, cfg, device)
        self.num_actions = int(space.n)

        self.q_network = q_network_class(
            num_obs=self.num_obs, num_actions=self.num_actions, dueling=cfg.dueling, **cfg.q_network_cfg
        ).to(self.device)
        self.target_q_network = copy.deepcopy(self.q_network).requires_grad_(False)
        self.policy = GreedyQPolicy(self.q_network)
        self.optimizer = torch.optim.Adam(self.q_network.parameters(), lr=cfg.learning_rate, foreach=True)

    # What the runner's replay buffer must hold for this algorithm.
    def obs_spec(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"policy": ((self.num_obs,), torch.float32)}

    def action_spec(self) -> tuple[tuple[int, ...], torch.dtype]:
        return (), torch.long

    # ------------------------------------------------------------------ acting
    def epsilon(self, timestep: int) -> float:
        cfg = self.cfg
        duration = cfg.exploration_fraction * cfg.total_timesteps
        return linear_schedule(cfg.exploration_initial_eps, cfg.exploration_final_eps, duration, timestep)

    @torch.no_grad()
    def act(self, obs: dict[str, torch.Tensor], timestep: int) -> torch.Tensor:
        """Epsilon-greedy actions (N,) for all envs at once."""
        policy_obs = obs["policy"]
        greedy = self.act_deterministic(policy_obs)
        n = policy_obs.shape[0]
        random_actions = torch.randint(0, self.num_actions, (n,), device=self.device)
        explore = torch.rand(n, device=self.device) < self.epsilon(timestep)
        return torch.where(explore, random_actions, greedy)

    def exploration_stats(self, timestep: int) -> dict[str, float]:
        return {"exploration/epsilon": self.epsilon(timestep)}

    # ------------------------------------------------------------------ learning
    def update(self, batch: ReplayBatch) -> dict[str, float]:
        """One gradient step on a sampled batch; updates the target network on schedule."""
        cfg = self.cfg
        obs, next_obs = batch.obs["policy"], batch.next_obs["policy"]
        with torch.no_grad():
            if cfg.double_dqn:
                next_actions = self.q_network(next_obs).argmax(dim=-1, keepdim=True)
                next_q = self.target_q_network(next_obs).gather(-1, next_actions).squeeze(-1)
            else:
                next_q = self.target_q_network(next_obs).max(dim=-1).values
            targets = td_targets(batch.rewards, next_q, batch.terminated, cfg.gamma)

        q = self.q_network(obs).gather(-1, batch.actions.long().view(-1, 1)).squeeze(-1)
        loss = F.huber_loss(q, targets, delta=cfg.huber_delta)
        gradient_step(self.optimizer, loss, self.q_network.parameters(), cfg.max_grad_norm)

        self.num_updates += 1
        if self.num_updates % cfg.target_update_interval == 0:
            soft_update(self.target_q_network, self.q_network, cfg.tau)

        return {
            "train/q_loss": loss.item(),
            "train/mean_q": q.mean().item(),
            "train/td_target_mean": targets.mean().item(),
        }
