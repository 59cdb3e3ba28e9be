"""CPU backend: mjbatch steps N simulations on a C++ thread pool with the GIL released."""

from __future__ import annotations

import mujoco
import numpy as np
import torch
from mjbatch import Batch

from legged_train.envs.backend import PhysicsBackend


class MjBatchBackend(PhysicsBackend):
    def __init__(self, model: mujoco.MjModel, num_envs: int, num_threads: int = 0):
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}: must be >= 1")
        self.model = model
        self.num_envs = num_envs
        self.device = torch.device("cpu")
        # num_threads=0: every logical CPU, clamped to num_envs.
        self.batch = Batch(model, num_envs, num_threads)
        self._fields: dict[str, torch.Tensor] = {}
        self._data_fields: dict[str, torch.Tensor] = {}
        for name in ("qpos", "qvel", "ctrl", "sensordata", "actuator_force", "site_xpos", "site_xmat", "xpos", "xquat"):
            # torch.from_numpy shares memory: the tensors follow the simulation with no copy.
            setattr(self, name, torch.from_numpy(self.batch.bind(name)))

    def step(self, nsubsteps: int = 1) -> None:
        self.batch.step(nstep=nsubsteps)

    def reset(self, env_ids: torch.Tensor, keyframe: int | None = None) -> None:
        self.batch.reset(self._ids(env_ids), keyframe=-1 if keyframe is None else keyframe)

    def forward(self, env_ids: torch.Tensor | None = None) -> None:
        self.batch.forward(None if env_ids is None else self._ids(env_ids))

    def model_field(self, name: str) -> torch.Tensor:
        if name not in self._fields:
            self._fields[name] = torch.from_numpy(self.batch.expand(name))
        return self._fields[name]

    def data_field(self, name: str) -> torch.Tensor:
        if name not in self._data_fields:
            self._data_fields[name] = torch.from_numpy(self.batch.bind(name))
        return self._data_fields[name]

    def expanded_model_fields(self) -> dict[str, torch.Tensor]:
        return dict(self._fields)

    @staticmethod
    def _ids(env_ids: torch.Tensor) -> np.ndarray:
        # mjbatch wants sorted unique int64 ids; the env always passes sorted ids from nonzero().
        return np.ascontiguousarray(env_ids.cpu().numpy(), dtype=np.int64)
