"""What DQN and SAC share: the replay-based config, the action-space check, the TD target, gradient
and target-network steps, and the plumbing around the maths (modes, checkpoints, deterministic acting).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from legged_train.config import RunnerConfig, check_fields


@dataclass
class OffPolicyConfig(RunnerConfig):
    """Fields every replay-based algorithm shares (base of DQNConfig and SACConfig).

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
    gamma: float = 0.99
    # Target networks: every target_update_interval gradient steps, target <- tau * online + (1 - tau) * target
    # (tau = 1 is a hard copy; a small tau with interval 1 is Polyak averaging).
    tau: float = 0.005
    target_update_interval: int = 1
    log_interval: int = 1_000
    save_interval: int = 10_000

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, ("total_timesteps", "learning_starts"), lambda v: v >= 0, ">= 0")
        names = ("train_freq", "gradient_steps", "buffer_size", "batch_size", "target_update_interval")
        check_fields(self, names, lambda v: v >= 1, ">= 1")
        check_fields(self, ("gamma",), lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        check_fields(self, ("tau",), lambda v: 0.0 < v <= 1.0, "in (0, 1]")


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


def checked_action_space(env, space_type: type[gym.Space], needs: str, instead: str) -> gym.Space:
    """The env's action space if it is a ``space_type``, else a TypeError: '<needs>, but ...; <instead>'."""
    space = action_space_of(env)
    if not isinstance(space, space_type):
        raise TypeError(f"{needs}, but the env's action space is {describe_space(space)}; {instead}")
    return space


def describe_space(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, gym.spaces.Box):
        return f"Box(shape={tuple(space.shape)})"
    return repr(space)


def td_targets(rewards: torch.Tensor, next_values: torch.Tensor, terminated: torch.Tensor, gamma: float) -> torch.Tensor:
    """r + gamma * V(s') on every transition that did not terminate; just r on terminal ones.

    Truncated (time-limit) transitions are not terminal: they bootstrap from the final observation.
    """
    return rewards + gamma * (~terminated).float() * next_values


def gradient_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, parameters, max_grad_norm: float) -> None:
    """One optimizer step on ``loss``; the gradient norm of ``parameters`` clipped to max_grad_norm (0: no clipping)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    optimizer.step()


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target (tau = 1 is a hard copy)."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


class OffPolicyAlgorithm:
    """The plumbing around an off-policy algorithm's maths, written once.

    A subclass builds its networks and optimizers and ``self.policy``, the deterministic policy as
    one module (obs -> actions: what evaluation runs and play.py exports), and names its parts:
    ``checkpointed_modules`` / ``checkpointed_optimizers`` (attribute names saved in checkpoints,
    under those names) and ``trained_modules`` (switched by ``train_mode`` / ``eval_mode``).
    """

    name: str
    checkpointed_modules: tuple[str, ...] = ()
    checkpointed_optimizers: tuple[str, ...] = ()
    trained_modules: tuple[str, ...] = ()
    policy: nn.Module

    def __init__(self, env, cfg: OffPolicyConfig, device=None):
        self.cfg = cfg
        self.device = torch.device(device if device is not None else cfg.device)
        self.num_obs = int(env.num_obs)
        self.num_updates = 0  # gradient steps taken; drives target updates (and SAC's delayed actor steps)

    @torch.no_grad()
    def act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy(obs)

    def exploration_stats(self, timestep: int) -> dict[str, float]:
        return {}

    def train_mode(self) -> None:
        for name in self.trained_modules:
            getattr(self, name).train()

    def eval_mode(self) -> None:
        for name in self.trained_modules:
            getattr(self, name).eval()

    def state_dict(self) -> dict:
        names = self.checkpointed_modules + self.checkpointed_optimizers
        return {**{name: getattr(self, name).state_dict() for name in names}, "num_updates": self.num_updates}

    def load_state_dict(self, state: dict, load_optimizer: bool = True) -> None:
        names = self.checkpointed_modules + (self.checkpointed_optimizers if load_optimizer else ())
        for name in names:
            getattr(self, name).load_state_dict(state[name])
        self.num_updates = int(state["num_updates"])
