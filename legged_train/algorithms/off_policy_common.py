"""What DQN and SAC share: the off-policy config fields, the env's action space, a multi-head torso."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from legged_train.config import RunnerConfig
from legged_train.networks import make_activation

def action_space_of(env) -> gym.Space:
    """The env's single-env action space.

    Gymnasium-backed envs (``GymVecEnv``) carry ``action_space``; the legged envs only say
    ``num_actions`` and take unbounded continuous actions (the env scales them to joint targets),
    which is a Box with infinite bounds.
    """
    space = getattr(env, "action_space", None)
    if isinstance(space, gym.Space):
        return space
    return gym.spaces.Box(low=-np.inf, high=np.inf, shape=(int(env.num_actions),), dtype=np.float32)


def describe_space(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, gym.spaces.Box):
        return f"Box(shape={tuple(space.shape)})"
    return repr(space)


def hidden_layers(in_dim: int, hidden_dims: list[int] | tuple[int, ...], activation: str) -> nn.Sequential:
    """[Linear, activation] per hidden width: a torso for networks with several heads."""
    if not hidden_dims or any(int(h) < 1 for h in hidden_dims):
        raise ValueError(f"hidden_dims={list(hidden_dims)!r} must be a non-empty list of positive ints")
    layers: list[nn.Module] = []
    for width in hidden_dims:
        layers += [nn.Linear(in_dim, int(width)), make_activation(activation)]
        in_dim = int(width)
    return nn.Sequential(*layers)


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target (tau = 1 is a hard copy)."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


@dataclass
class OffPolicyConfig(RunnerConfig):
    """Runner fields every replay-based algorithm shares (base of DQNConfig and SACConfig).

    Counting: a *timestep* is one env transition (a vector step of N envs is N timesteps); an
    *iteration* of the runner is one vector step, and ``log_interval`` / ``save_interval`` /
    ``eval_interval`` count iterations.
    """

    # Env transitions that learn() collects when called without total_timesteps; also the length
    # the exploration schedules are laid out over.
    total_timesteps: int = 100_000
    # Transitions collected before the first gradient step (the buffer needs some variety).
    learning_starts: int = 1_000
    # Vector env steps between training rounds, and gradient steps per round.
    train_freq: int = 1
    gradient_steps: int = 1
    buffer_size: int = 100_000
    batch_size: int = 256
    # Put the replay buffer in checkpoints, so a resumed run continues with the same data.
    save_replay_buffer: bool = False
    log_interval: int = 1_000
    save_interval: int = 10_000

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("total_timesteps", "learning_starts"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 0")
        for name in ("train_freq", "gradient_steps", "buffer_size", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
