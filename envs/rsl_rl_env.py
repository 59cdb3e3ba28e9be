"""rsl_rl 5's VecEnv interface over our envs, so that rsl-rl-lib's own OnPolicyRunner trains them.

rsl_rl (3.0 and later) reads observations as a TensorDict of named groups and hands each network
the groups its runner config names in ``obs_groups``. Our envs return ``(obs, extras)`` with the
groups in ``extras["observations"]``; ``RslRlVecEnv`` repackages them and forwards the rest:

- observations: ``TensorDict({"policy": (N, num_obs), "critic": (N, num_privileged_obs)})``, batch
  size ``[num_envs]``, on the env's device. ``critic`` is the legged envs' privileged group (the
  policy terms without noise, plus base velocity, contacts, physics parameters...), so the
  asymmetric actor-critic setting is ``obs_groups={"actor": ["policy"], "critic": ["critic"]}``.
  Envs without a privileged group (``GymVecEnv``) give ``policy`` only.
- ``extras["time_outs"]``: the time-limit truncations, which rsl_rl's PPO bootstraps;
- ``extras["log"]``: on steps where an env finished, the per-term episode reward sums and tracking
  errors, which rsl_rl's logger writes as ``Episode/<key>``;
- the other extras of ``legged_train.envs.vec_env`` (``terminated``, ``truncated``, ``final_observation``, ...)
  unchanged; only ``extras["observations"]`` is dropped, as its groups are the returned TensorDict.

rsl_rl's runner steps the env inside ``torch.inference_mode``, as our runners do; ``reset`` runs in
it too, so that the env's tensors are never updated in place outside it (inference tensors cannot be).

Needs rsl-rl-lib (with tensordict): ``pip install rsl-rl-lib`` or the ``dev`` extra.
"""

from __future__ import annotations

import torch
from rsl_rl.env import VecEnv as RslRlVecEnvBase
from tensordict import TensorDict

from legged_train.envs.vec_env import VecEnv


class RslRlVecEnv(RslRlVecEnvBase):
    """rsl_rl 5 view of one of our vectorized envs.

    Args:
        env: any env with the ``legged_train.envs.vec_env.VecEnv`` API, e.g. ``task.make_env(task.env_cfg, "cpu")``.

    Attributes rsl_rl reads: ``num_envs``, ``num_actions``, ``max_episode_length``, ``device``,
    ``cfg`` (the env config, which rsl_rl's W&B / Neptune writers upload), ``episode_length_buf``
    (the wrapped env's buffer: reading and assigning it act on the env) and ``unwrapped`` (the env).
    """

    def __init__(self, env: VecEnv):
        if not isinstance(env, VecEnv):
            raise TypeError(f"RslRlVecEnv wraps an envs.vec_env.VecEnv (e.g. a legged env), got {type(env).__name__}")
        self.env = env
        self.num_envs = env.num_envs
        self.num_actions = env.num_actions
        self.max_episode_length = env.max_episode_length
        self.device = torch.device(env.device)
        self.cfg = getattr(env, "cfg", {})

    @property
    def episode_length_buf(self) -> torch.Tensor:
        if not hasattr(self.env, "episode_length_buf"):
            raise AttributeError(f"{type(self.env).__name__} has no episode_length_buf (needed by init_at_random_ep_len=True)")
        return self.env.episode_length_buf

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        # rsl_rl's init_at_random_ep_len assigns a new tensor: it must land in the env, which counts on it.
        if not hasattr(self.env, "episode_length_buf"):
            raise AttributeError(f"{type(self.env).__name__} has no episode_length_buf (needed by init_at_random_ep_len=True)")
        current = self.env.episode_length_buf
        if tuple(value.shape) != tuple(current.shape):
            raise ValueError(f"episode_length_buf: shape {tuple(value.shape)}; expected {tuple(current.shape)} (num_envs,)")
        self.env.episode_length_buf = value.to(current.device, current.dtype)

    @property
    def unwrapped(self) -> VecEnv:
        """The wrapped env (rsl_rl's RND extension reads ``env.unwrapped.step_dt``)."""
        return self.env

    def get_observations(self) -> TensorDict:
        _, extras = self.env.get_observations()
        return self._groups(extras)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        _, rewards, dones, extras = self.env.step(actions)
        observations = self._groups(extras)
        extras = {key: value for key, value in extras.items() if key != "observations"}
        return observations, rewards, dones, extras

    def reset(self) -> TensorDict:
        with torch.inference_mode():
            _, extras = self.env.reset()
        return self._groups(extras)

    def close(self) -> None:
        self.env.close()

    def _groups(self, extras: dict) -> TensorDict:
        # No copies: the TensorDict holds the env's tensors; rsl_rl copies what it keeps into its storage.
        return TensorDict(dict(extras["observations"]), batch_size=[self.num_envs], device=self.device)
