"""Which physics backend an env gets: the factory that imports the backends, kept apart from the
interface (`backend.py`), which the backends import, so neither imports the other's module."""

from __future__ import annotations

import warnings

import mujoco
import torch

from legged_train.envs.backend import PhysicsBackend


def resolve_backend_name(name: str, device: torch.device) -> str:
    """The backend "auto" stands for: MuJoCo Warp when the env's tensors live on a CUDA device
    (and it is installed), else mjbatch."""
    if name != "auto":
        return name
    if device.type != "cuda":
        return "mjbatch"
    from legged_train.envs.warp_backend import INSTALL_HINT, warp_available

    if warp_available():
        return "warp"
    warnings.warn(f"sim.backend='auto' on {device}: MuJoCo Warp is not installed, so the physics runs on the CPU with mjbatch ({INSTALL_HINT})", stacklevel=3)
    return "mjbatch"


def make_backend(model: mujoco.MjModel, num_envs: int, sim_cfg, device: torch.device) -> PhysicsBackend:
    """The backend `sim_cfg.backend` names ("auto", "mjbatch" or "warp") for `num_envs` copies of `model`."""
    name = resolve_backend_name(sim_cfg.backend, torch.device(device))
    if name == "warp":
        from legged_train.envs.warp_backend import WarpBackend

        return WarpBackend(model, num_envs, device)
    from legged_train.envs.mjbatch_backend import MjBatchBackend

    return MjBatchBackend(model, num_envs, sim_cfg.num_threads)
