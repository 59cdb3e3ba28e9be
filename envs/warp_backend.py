"""GPU backend: MuJoCo Warp steps N simulations ("worlds") in CUDA kernels.

Every tensor the env reads or writes is a zero-copy torch view (`wp.to_torch`) of a Warp array on
the env's device, so observations, rewards and resets never leave the GPU. On a CUDA device the
substeps of a policy step, the masked reset and the forward pass are each recorded once as a CUDA
graph and replayed: one launch instead of hundreds of kernel launches. Warp also runs on the CPU
device (single-threaded, about 1k steps/s): the tests use it to check this backend against mjbatch.

MuJoCo Warp computes in float32; mjbatch in float64. A checkpoint's physics state converts between
the two, so a run can move between backends.
"""

from __future__ import annotations

from typing import Callable

import mujoco
import torch

from legged_train.envs.backend import PhysicsBackend

INSTALL_HINT = "pip install 'legged-train[gpu]' (mujoco-warp and warp-lang)"
# The data fields the env reads as tensors, in the shapes the mjbatch backend gives them.
VIEW_FIELDS = ("qpos", "qvel", "ctrl", "sensordata", "actuator_force", "site_xpos", "site_xmat", "xpos", "xquat")


def warp_available() -> bool:
    try:
        import mujoco_warp  # noqa: F401
        import warp  # noqa: F401
    except ImportError:
        return False
    return True


def _import_warp():
    try:
        import mujoco_warp
        import warp
    except ImportError as err:
        raise ImportError(f"sim.backend='warp' needs MuJoCo Warp, which is not installed ({err}): {INSTALL_HINT}") from None
    warp.config.quiet = True  # no per-module compile chatter; errors still raise
    return warp, mujoco_warp


def warp_device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else torch.cuda.current_device()}"
    if device.type == "cpu":
        return "cpu"
    raise ValueError(f"sim.backend='warp' runs on 'cuda' or 'cpu' devices, not {str(device)!r}")


class WarpBackend(PhysicsBackend):
    def __init__(self, model: mujoco.MjModel, num_envs: int, device: str | torch.device = "cuda",
                 use_graph: bool = True, nconmax: int | None = None, njmax: int | None = None):
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}: must be >= 1")
        self.wp, self.mjw = _import_warp()
        self.model = model
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.wp_device = warp_device_name(self.device)
        self.use_graph = use_graph
        with self.wp.ScopedDevice(self.wp_device):
            self.wmodel = self.mjw.put_model(model)
            self.wdata = self.mjw.make_data(model, nworld=num_envs, nconmax=nconmax, njmax=njmax)
            # Persistent inputs of the recorded graphs: their contents change, never their addresses.
            self._mask = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
            self._keys = torch.full((num_envs,), -1, dtype=torch.int32, device=self.device)
            self._mask_wp = self.wp.from_torch(self._mask, dtype=self.wp.bool)
            self._keys_wp = self.wp.from_torch(self._keys, dtype=self.wp.int32)
        self._graphs: dict[object, object] = {}
        self._fields: dict[str, torch.Tensor] = {}
        self._data_fields: dict[str, torch.Tensor] = {}
        for name in VIEW_FIELDS:
            setattr(self, name, self.data_field(name))
        self._forward_all()

    # -------------------------------------------------------------------------------- physics

    def step(self, nsubsteps: int = 1) -> None:
        def substeps():
            for _ in range(nsubsteps):
                self.mjw.step(self.wmodel, self.wdata)

        self._run(("step", nsubsteps), substeps)

    def reset(self, env_ids: torch.Tensor, keyframe: int | None = None) -> None:
        self._select(env_ids)
        if keyframe is None:
            self._run("reset", lambda: self.mjw.reset_data(self.wmodel, self.wdata, reset=self._mask_wp))
        else:
            if not 0 <= keyframe < self.model.nkey:
                raise ValueError(f"keyframe={keyframe}: the model has {self.model.nkey} keyframes")
            # Worlds whose key is -1 are left alone.
            self._keys.copy_(torch.where(self._mask, keyframe, -1).to(torch.int32))
            self._run("reset_keyframe", lambda: self.mjw.reset_data_keyframe(self.wmodel, self.wdata, self._keys_wp))
        self.forward(env_ids)

    def forward(self, env_ids: torch.Tensor | None = None) -> None:
        if env_ids is None:
            self._forward_all()
            return
        # MuJoCo Warp's forward pass covers every world. The other worlds keep what they exposed
        # (as mjbatch's masked forward leaves them), so a reset never changes another env's sensors;
        # their state (qpos, qvel, warm start) is not written by a forward pass.
        self._select(env_ids)
        derived = ("sensordata", "actuator_force", "site_xpos", "site_xmat", "xpos", "xquat")
        kept = {name: getattr(self, name).clone() for name in derived}
        self._forward_all()
        others = ~self._mask
        for name in derived:
            view = getattr(self, name)
            view[others] = kept[name][others]

    def _forward_all(self) -> None:
        self._run("forward", lambda: self.mjw.forward(self.wmodel, self.wdata))

    # ------------------------------------------------------------------------------ fields

    def model_field(self, name: str) -> torch.Tensor:
        if name not in self._fields:
            shared = getattr(self.wmodel, name, None)
            if shared is None or not hasattr(shared, "shape"):
                raise ValueError(f"MuJoCo Warp's Model has no array field {name!r}")
            if shared.shape[0] != 1:
                raise ValueError(f"Model field {name!r} cannot be made per-world: its leading dimension is not a world batch")
            # One copy per world; kernels index a batched field by world (worldid % batch size).
            shared_values = self.wp.to_torch(shared)
            per_world = shared_values.expand(self.num_envs, *shared_values.shape[1:]).contiguous()
            setattr(self.wmodel, name, self.wp.from_torch(per_world, dtype=shared.dtype))
            self._fields[name] = per_world  # keeps the memory alive; the Warp array aliases it
            self._graphs.clear()  # recorded graphs hold the old array's address
        return self._fields[name]

    def data_field(self, name: str) -> torch.Tensor:
        if name not in self._data_fields:
            array = getattr(self.wdata, name, None)
            if array is None or not hasattr(array, "shape"):
                raise ValueError(f"MuJoCo Warp's Data has no array field {name!r}")
            view = self.wp.to_torch(array)
            if name == "site_xmat":  # (n, nsite, 3, 3) -> (n, nsite, 9), as MjData stores it
                view = view.view(self.num_envs, -1, 9)
            self._data_fields[name] = view
        return self._data_fields[name]

    def expanded_model_fields(self) -> dict[str, torch.Tensor]:
        return dict(self._fields)

    def rays(self, origins: torch.Tensor, directions: torch.Tensor, env_ids: torch.Tensor | None, geom_group: int) -> torch.Tensor:
        wp = self.wp
        num_rays = directions.shape[1]
        if env_ids is not None:  # MuJoCo Warp casts every world's rays: the others cast from where they are
            full_origins = torch.zeros(self.num_envs, num_rays, 3, device=self.device)
            full_directions = torch.zeros(self.num_envs, num_rays, 3, device=self.device)
            full_directions[..., 2] = -1.0
            ids = env_ids.to(self.device)
            full_origins[ids], full_directions[ids] = origins.to(self.device, torch.float32), directions.to(self.device, torch.float32)
            origins, directions = full_origins, full_directions
        with wp.ScopedDevice(self.wp_device):
            points = wp.from_torch(origins.to(self.device, torch.float32).contiguous(), dtype=wp.vec3)
            vectors = wp.from_torch(directions.to(self.device, torch.float32).contiguous(), dtype=wp.vec3)
            distances = wp.zeros((self.num_envs, num_rays), dtype=float)
            geom_ids = wp.zeros((self.num_envs, num_rays), dtype=int)
            normals = wp.zeros((self.num_envs, num_rays), dtype=wp.vec3)
            no_body = wp.full(num_rays, -1, dtype=int)
            groups = self.mjw._src.types.vec6(*[1.0 if g == geom_group else 0.0 for g in range(6)])
            self.mjw.rays(self.wmodel, self.wdata, points, vectors, groups, True, no_body, distances, geom_ids, normals)
        result = wp.to_torch(distances)
        return result if env_ids is None else result[env_ids.to(self.device)]

    # ---------------------------------------------------------------------------- internals

    def _select(self, env_ids: torch.Tensor) -> None:
        self._mask.zero_()
        self._mask[env_ids.to(self.device)] = True

    def _run(self, key: object, launch: Callable[[], None]) -> None:
        """Run a sequence of Warp launches: recorded as a graph on first use, then replayed (one
        launch instead of hundreds; Warp records graphs on the CPU device too)."""
        wp = self.wp
        with wp.ScopedDevice(self.wp_device):
            if not self.use_graph:
                launch()
                return
            graph = self._graphs.get(key)
            if graph is None:
                with wp.ScopedCapture() as capture:  # records, does not run
                    launch()
                graph = self._graphs[key] = capture.graph
            if self.device.type != "cuda":
                wp.capture_launch(graph)
                return
            # Order Warp's work after what torch queued, and torch's next work after Warp's,
            # without stopping the host.
            torch_stream = wp.stream_from_torch(torch.cuda.current_stream(self.device))
            warp_stream = wp.get_stream(self.wp_device)
            warp_stream.wait_stream(torch_stream)
            wp.capture_launch(graph)
            torch_stream.wait_stream(warp_stream)
