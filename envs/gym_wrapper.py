"""Gymnasium environments behind the project's VecEnv API.

``GymVecEnv`` runs a list of Gymnasium env factories in one process (Gymnasium's own
``SyncVectorEnv`` in same-step autoreset mode) and hands torch tensors on ``device`` to the
runners, with the same ``extras`` the legged env produces:

- ``terminated`` / ``truncated`` / ``time_outs`` (alias of ``truncated``), bool (N,);
- ``final_observation`` (N, num_obs): the last observation of the envs that finished this step
  (before their reset), zeros on the other rows;
- ``episode``: on steps where some env finished, ``{"returns": (k,), "lengths": (k,)}`` for the
  k episodes that ended, in env order (Gymnasium envs have no reward terms, so no ``log``).

Actions: Discrete spaces take action indices 0..n-1 of shape (N,) (or (N, 1)); Box spaces take float
actions of shape (N, *shape), clipped to the space bounds before they reach the env, so an
unbounded policy output never makes a physics env blow up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from legged_train.envs.vec_env import VecEnv

EnvFactory = Callable[[], gym.Env]


class GymVecEnv(VecEnv):
    """Vectorized Gymnasium envs (Box observations; Discrete or Box actions) as torch tensors.

    Args:
        env_fns: one factory per env, e.g. ``[lambda: gym.make("CartPole-v1")] * 4``.
        device: where observations, rewards and extras live.
        seed: env i is reset with seed ``seed + i`` the first time; its action space is
            seeded the same way. ``None`` leaves Gymnasium's own seeding.
    """

    def __init__(self, env_fns: Sequence[EnvFactory], device: str | torch.device = "cpu", seed: int | None = 0):
        if len(env_fns) == 0:
            raise ValueError("GymVecEnv: env_fns is empty; pass at least one Gymnasium env factory")
        self.env_fns = list(env_fns)
        self.device = torch.device(device)
        self.seed = seed
        self.envs = SyncVectorEnv(self.env_fns, autoreset_mode=AutoresetMode.SAME_STEP)

        self.observation_space = self.envs.single_observation_space
        self.action_space = self.envs.single_action_space
        if not isinstance(self.observation_space, gym.spaces.Box):
            raise TypeError(
                f"GymVecEnv: observation space {self.observation_space} is not supported; "
                "allowed: gymnasium.spaces.Box (wrap other spaces, e.g. with FlattenObservation)"
            )
        if isinstance(self.action_space, gym.spaces.Discrete):
            self.is_discrete = True
            self.num_actions = int(self.action_space.n)
            self.action_shape: tuple[int, ...] = ()
        elif isinstance(self.action_space, gym.spaces.Box):
            self.is_discrete = False
            self.num_actions = int(np.prod(self.action_space.shape))
            self.action_shape = tuple(self.action_space.shape)
            self.action_low = torch.as_tensor(self.action_space.low, dtype=torch.float32, device=self.device)
            self.action_high = torch.as_tensor(self.action_space.high, dtype=torch.float32, device=self.device)
        else:
            raise TypeError(
                f"GymVecEnv: action space {self.action_space} is not supported; "
                "allowed: gymnasium.spaces.Discrete, gymnasium.spaces.Box"
            )

        self.num_envs = self.envs.num_envs
        self.num_obs = int(np.prod(self.observation_space.shape))
        self.num_privileged_obs = None
        spec = self.envs.envs[0].spec
        # An env without a time limit (made without gym.make or max_episode_steps) reports sys.maxsize.
        self.max_episode_length = int(spec.max_episode_steps) if spec and spec.max_episode_steps else sys.maxsize

        self._episode_returns = torch.zeros(self.num_envs, dtype=torch.float32, device=self.device)
        self._episode_lengths = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self._obs = self._reset_all(seed)

    # ------------------------------------------------------------------ helpers
    def _to_obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        """(rows, *obs_shape) numpy observations -> (rows, num_obs) float32 tensor on the device."""
        obs = np.asarray(obs)
        return torch.as_tensor(obs, dtype=torch.float32, device=self.device).reshape(obs.shape[0], -1)

    def _reset_all(self, seed: int | None) -> torch.Tensor:
        seeds = None if seed is None else [seed + i for i in range(self.num_envs)]
        obs, _ = self.envs.reset(seed=seeds)
        if seed is not None:
            self.envs.action_space.seed(seed)
            self.action_space.seed(seed)
        self._episode_returns.zero_()
        self._episode_lengths.zero_()
        return self._to_obs_tensor(obs)

    def _to_env_actions(self, actions: torch.Tensor) -> np.ndarray:
        actions = torch.as_tensor(actions).detach()
        if self.is_discrete:
            if actions.dim() == 2 and actions.shape[1] == 1:
                actions = actions[:, 0]
            if actions.shape != (self.num_envs,):
                raise ValueError(
                    f"GymVecEnv.step: discrete actions must have shape ({self.num_envs},) or ({self.num_envs}, 1), "
                    f"got {tuple(actions.shape)}"
                )
            if actions.is_floating_point():
                actions = actions.round()
            # Agents pick indices 0..n-1; a Discrete(n, start=s) space numbers its actions from s.
            return actions.to("cpu", torch.int64).numpy() + int(self.action_space.start)
        actions = actions.to(self.device, torch.float32).reshape(self.num_envs, *self.action_shape)
        actions = torch.clamp(actions, self.action_low, self.action_high)
        return actions.cpu().numpy().astype(self.action_space.dtype, copy=False)

    def _observation_extras(self, obs: torch.Tensor) -> dict:
        return {"observations": {"policy": obs}}

    # ------------------------------------------------------------------ VecEnv API
    def get_observations(self) -> tuple[torch.Tensor, dict]:
        return self._obs, self._observation_extras(self._obs)

    def reset(self) -> tuple[torch.Tensor, dict]:
        self._obs = self._reset_all(self.seed)
        return self.get_observations()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        obs_np, rew_np, term_np, trunc_np, infos = self.envs.step(self._to_env_actions(actions))
        obs = self._to_obs_tensor(obs_np)
        rewards = torch.as_tensor(rew_np, dtype=torch.float32, device=self.device)
        terminated = torch.as_tensor(term_np, dtype=torch.bool, device=self.device)
        truncated = torch.as_tensor(trunc_np, dtype=torch.bool, device=self.device)
        dones = terminated | truncated

        final_observation = torch.zeros_like(obs)
        extras = self._observation_extras(obs)
        extras.update(terminated=terminated, truncated=truncated, time_outs=truncated)

        self._episode_returns += rewards
        self._episode_lengths += 1
        if dones.any():
            finished = np.flatnonzero(infos["_final_obs"])
            final_obs_np = np.stack([np.asarray(infos["final_obs"][i]) for i in finished])
            final_observation[torch.as_tensor(finished, device=self.device)] = self._to_obs_tensor(final_obs_np)
            returns = self._episode_returns[dones].clone()
            lengths = self._episode_lengths[dones].clone()
            extras["episode"] = {"returns": returns, "lengths": lengths}
            self._episode_returns[dones] = 0.0
            self._episode_lengths[dones] = 0
        extras["final_observation"] = final_observation

        self._obs = obs
        return obs, rewards, dones, extras

    def make_eval_env(self, num_envs: int | None = None, seed: int = 0) -> GymVecEnv:
        """A fresh env of the same kind, built from the same factories (cycled to ``num_envs``)."""
        num_envs = self.num_envs if num_envs is None else num_envs
        if num_envs < 1:
            raise ValueError(f"make_eval_env: num_envs={num_envs} is invalid; allowed: an integer >= 1")
        env_fns = [self.env_fns[i % len(self.env_fns)] for i in range(num_envs)]
        return GymVecEnv(env_fns, device=self.device, seed=seed)

    def close(self) -> None:
        self.envs.close()


def make_gym_vec_env(
    env_id: str,
    num_envs: int = 1,
    seed: int | None = 0,
    device: str | torch.device = "cpu",
    max_episode_steps: int | None = None,
    **make_kwargs,
) -> GymVecEnv:
    """``GymVecEnv`` of ``num_envs`` copies of the registered Gymnasium env ``env_id``."""
    if num_envs < 1:
        raise ValueError(f"make_gym_vec_env: num_envs={num_envs} is invalid; allowed: an integer >= 1")
    if env_id not in gym.registry:
        raise ValueError(f"make_gym_vec_env: env_id={env_id!r} is not a registered Gymnasium env")

    def make() -> gym.Env:
        return gym.make(env_id, max_episode_steps=max_episode_steps, **make_kwargs)

    return GymVecEnv([make] * num_envs, device=device, seed=seed)
