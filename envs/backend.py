"""The physics-backend interface: N simulations of one compiled MuJoCo model.

The env logic (observations, rewards, terminations, randomization) is written once, in torch, over
the tensors a backend exposes. The CPU backend (`MjBatchBackend`) gives zero-copy views of mjbatch's
arrays; a GPU backend gives zero-copy views of MuJoCo Warp's. Everything the env needs goes through
this narrow surface, so a new backend slots in without touching env code. Which backend an env
gets is decided in `backend_factory` (this module imports none of them).

Tensor semantics (all (num_envs, ...), float64 on the CPU backend):
- `qpos`, `qvel`, `ctrl`: the state and controls; writes reach the simulation at its next call.
- `sensordata`, `actuator_force`, `site_xpos`, `site_xmat`, `xpos`, `xquat`: derived, valid after a
  `step`/`forward`/`reset` (after `step` they describe the start of the last substep, as mj_step does).
- `model_field(name)`: per-env copies of an MjModel field (geom_friction, body_mass, body_ipos,
  actuator_gainprm, ...), seeded from the model and applied before each physics call.
- `state_dict()` / `load_state_dict()`: the full physics state and the per-env model fields, so a
  resumed run steps on exactly as the uninterrupted one would.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import mujoco
import torch


# What mj_step reads besides the model: MuJoCo's mjSTATE_INTEGRATION set. The warm start matters
# for exactness: the constraint solver starts from it and stops at a tolerance.
STATE_FIELDS = ("time", "qpos", "qvel", "act", "qacc_warmstart", "ctrl", "qfrc_applied", "xfrc_applied")


class PhysicsBackend(ABC):
    model: mujoco.MjModel
    num_envs: int
    device: torch.device

    qpos: torch.Tensor
    qvel: torch.Tensor
    ctrl: torch.Tensor
    sensordata: torch.Tensor
    actuator_force: torch.Tensor
    site_xpos: torch.Tensor
    site_xmat: torch.Tensor
    xpos: torch.Tensor
    xquat: torch.Tensor

    @abstractmethod
    def step(self, nsubsteps: int = 1) -> None:
        """Advance every simulation by `nsubsteps` physics steps."""

    @abstractmethod
    def reset(self, env_ids: torch.Tensor, keyframe: int | None = None) -> None:
        """Reset the given envs to the model's defaults or a keyframe, then recompute derived fields.

        Writes to `qpos`/`qvel` made *after* this call set the state; call `forward` after them."""

    @abstractmethod
    def forward(self, env_ids: torch.Tensor | None = None) -> None:
        """Recompute derived fields (positions, sensors) from the current state, without stepping."""

    def set_state(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor | None = None) -> None:
        """Put the given envs in a given state (qpos, and qvel or rest) and recompute derived fields."""
        self.qpos[env_ids] = qpos.to(self.qpos)
        self.qvel[env_ids] = 0.0 if qvel is None else qvel.to(self.qvel)
        self.forward(env_ids)

    @abstractmethod
    def model_field(self, name: str) -> torch.Tensor:
        """Per-env values of an MjModel field; writes change that env's physics."""

    @abstractmethod
    def data_field(self, name: str) -> torch.Tensor:
        """A (num_envs, ...) view of an MjData field (``time``, ``qacc_warmstart``, ...); writes reach the simulation."""

    @abstractmethod
    def expanded_model_fields(self) -> dict[str, torch.Tensor]:
        """The model fields made per-env so far by ``model_field``."""

    def state_dict(self) -> dict:
        """Every env's physics state and per-env model fields, as CPU tensors."""
        return {
            "data": {name: self.data_field(name).cpu().clone() for name in STATE_FIELDS},
            "model": {name: field.cpu().clone() for name, field in self.expanded_model_fields().items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; shapes must match (same model, same number of envs)."""
        targets = [(f"data.{n}", self.data_field(n), v) for n, v in state["data"].items()]
        targets += [(f"model.{n}", self.model_field(n), v) for n, v in state["model"].items()]
        for name, target, value in targets:
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"physics state {name} has shape {tuple(value.shape)}; this simulation has {tuple(target.shape)}"
                )
        for _, target, value in targets:
            target.copy_(value.to(target))

    @abstractmethod
    def rays(self, origins: torch.Tensor, directions: torch.Tensor, env_ids: torch.Tensor | None, geom_group: int) -> torch.Tensor:
        """Cast rays in the envs ``env_ids`` (all: None): ``origins`` and unit ``directions`` (n, R, 3)
        in the world frame. Returns (n, R) float32 distances to the first geom of ``geom_group`` hit,
        -1 where a ray hits none (mj_ray's convention)."""

    def sensor(self, name: str) -> torch.Tensor:
        """A view of one sensor's columns of `sensordata`."""
        sensor = self.model.sensor(name)
        return self.sensordata[:, sensor.adr[0] : sensor.adr[0] + sensor.dim[0]]
