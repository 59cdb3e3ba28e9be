"""Gymnasium control tasks for the off-policy algorithms.

- ``cartpole_dqn``: CartPole-v1 with DQN (double DQN); reaches a deterministic return of 500.
- ``pendulum_sac``: Pendulum-v1 with SAC; reaches about -150.

The training configs hold the hyperparameters ``bench/offpolicy.py`` was tuned with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from envs.gym_wrapper import GymVecEnv, make_gym_vec_env
from tasks.registry import register_task


@dataclass
class GymTaskConfig:
    env_id: str = "CartPole-v1"
    num_envs: int = 1
    seed: int = 0
    # None keeps the env's registered time limit (500 for CartPole-v1, 200 for Pendulum-v1).
    max_episode_steps: int | None = None

    def __post_init__(self) -> None:
        if self.num_envs < 1:
            raise ValueError(f"num_envs={self.num_envs!r} must be >= 1")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps={self.max_episode_steps!r} must be >= 1 or None")


def make_gym_task_env(cfg: GymTaskConfig, device: str | torch.device = "cpu") -> GymVecEnv:
    return make_gym_vec_env(
        cfg.env_id, num_envs=cfg.num_envs, seed=cfg.seed, device=device, max_episode_steps=cfg.max_episode_steps
    )


def cartpole_env() -> GymTaskConfig:
    return GymTaskConfig(env_id="CartPole-v1", num_envs=1)


def cartpole_dqn_train():
    from legged_train.algorithms.dqn import DQNConfig

    return DQNConfig(experiment_name="cartpole_dqn")


def pendulum_env() -> GymTaskConfig:
    return GymTaskConfig(env_id="Pendulum-v1", num_envs=1)


def pendulum_sac_train():
    from legged_train.algorithms.sac import SACConfig

    return SACConfig(experiment_name="pendulum_sac")


register_task("cartpole_dqn", cartpole_env, cartpole_dqn_train, make_gym_task_env)
register_task("pendulum_sac", pendulum_env, pendulum_sac_train, make_gym_task_env)
