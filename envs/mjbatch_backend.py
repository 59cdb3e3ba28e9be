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
        self._ray_buffers = None  # (points, directions, distances) of the last ray count used
        for name in ("qpos", "qvel", "ctrl", "sensordata", "actuator_force", "site_xpos", "site_xmat", "xpos", "xquat"):
            # torch.from_numpy shares memory: the tensors follow the simulation with no copy.
            setattr(self, name, torch.from_numpy(self.batch.bind(name)))

    def step(self, nsubsteps: int = 1) -> None:
        self.batch.step(nstep=nsubsteps)

    def reset(self, env_ids: torch.Tensor, keyframe: int | None = None) -> None:
        self.batch.reset(self._ids(env_ids), keyframe=-1 if keyframe is None else keyframe)

    def forward(self, env_ids: torch.Tensor | None = None) -> None:
        self.batch.forward(None if env_ids is None else self._ids(env_ids))

    def rays(self, origins: torch.Tensor, directions: torch.Tensor, env_ids: torch.Tensor | None, geom_group: int) -> torch.Tensor:
        num_rays = directions.shape[1]
        if self._ray_buffers is None or self._ray_buffers[0].shape[1] != num_rays:
            # mjbatch takes whole (num_sims, R, ...) arrays and fills the rows of `ids` only.
            shape = (self.num_envs, num_rays)
            self._ray_buffers = (np.zeros((*shape, 3), np.float32), np.zeros((*shape, 3), np.float32), np.zeros(shape, np.float32))
        points, vectors, distances = self._ray_buffers
        rows = slice(None) if env_ids is None else self._ids(env_ids)
        points[rows] = origins.detach().cpu().numpy()
        vectors[rows] = directions.detach().cpu().numpy()
        mask = np.zeros(6, np.uint8)
        mask[geom_group] = 1
        self.batch.rays(points, vectors, distances, geomgroup=mask, flg_static=True,
                        ids=None if env_ids is None else rows)
        return torch.from_numpy(distances[rows].copy())

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
