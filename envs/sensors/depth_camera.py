"""A depth camera on every env's robot, rendered by batched ray casting through the physics backend.

One pinhole camera per env, fixed to a body of the robot (``DepthCameraConfig``): each pixel is a
ray from the camera's centre through the pixel's centre, cast by the backend (mjbatch's
``Batch.rays`` on the CPU, MuJoCo Warp's ``rays`` on a GPU: ``PhysicsBackend.rays``). The image holds
the depth along the optical axis (z-depth, what a RealSense reports), clipped to [near, far]; a ray
that hits nothing within ``far`` reads ``far``.

The camera sees the world, never the robot: rays hit only geom group ``WORLD_GEOM_GROUP`` (0), where
the terrain and the floor are, and ``build_model`` moves the robot's group-0 geoms to group 1 (a
group MuJoCo still draws, so videos look the same). A geom a user adds to the world in another
group is invisible to the camera.

Timing, as a real camera's (Robot Parkour: 10 Hz, about 0.1 s old): the camera renders every
``update_period_s`` (all envs at once, on the env's step counter) and the policy sees the newest
image at least ``latency_s`` old. An env whose episode starts sees its new start at once (its
queue is refilled, as an observation history is), never its last episode's last view.

Noise (``DepthNoiseConfig``), drawn once per rendered image from the env's generator: Gaussian
depth noise, pixel dropout, and dropout at depth edges (a stereo camera loses the pixels along the
outline of an obstacle). A dropped pixel reads 0, as a RealSense's invalid pixels do.

The observation term ``depth_image`` (``envs/legged/observations.py``) gives the image scaled to
[0, 1] ((depth - near) / (far - near); a dropped pixel reads 0), shape (N, 1, height, width).
"""

from __future__ import annotations

import math

import torch

from legged_train.envs.legged.observations import quat_rotate_inverse
from legged_train.envs.sensors.config import WORLD_GEOM_GROUP, DepthCameraConfig


def march_heightfield(ground, origins: torch.Tensor, directions: torch.Tensor, max_distance: torch.Tensor,
                      step: float, refine: int, top: float) -> torch.Tensor:
    """Ray distances to a heightfield, by marching: (n, 3) origins, (n, R, 3) unit directions, (R,)
    longest distance of interest per ray; ``ground`` maps (..., 2) x, y to heights (``TerrainHeights``:
    MuJoCo's own triangles). Returns (n, R) distances, -1 for rays that stay above the ground within
    their ``max_distance``; a ray rising above ``top`` (the terrain's highest point) stops there.

    mj_ray tests every heightfield cell in the rectangle a ray spans inside the terrain's bounding
    box, milliseconds a ray on a 160 m terrain; this samples each ray every ``step`` metres (only the
    rays that have not hit yet), then halves the last interval ``refine`` times. It misses what is
    thinner than ``step`` along a ray (a spike of one cell seen at a glancing angle)."""
    n, num_rays, _ = directions.shape
    flat_dirs = directions.reshape(-1, 3)
    flat_origins = origins[:, None, :].expand(-1, num_rays, -1).reshape(-1, 3)
    flat_max = max_distance.expand(n, -1).reshape(-1)
    active = torch.arange(n * num_rays, device=directions.device)
    hit = torch.full((n * num_rays,), -1.0, device=directions.device)
    t = 0.0
    while len(active) > 0:
        t += step
        points = flat_origins[active] + t * flat_dirs[active]
        below = points[:, 2] <= ground(points[:, :2])
        hit[active[below]] = t
        sky = (points[:, 2] > top) & (flat_dirs[active, 2] >= 0.0)  # above everything, and rising
        active = active[~below & ~sky & (t < flat_max[active])]
    found = (hit > 0).nonzero().squeeze(1)
    low, high = hit[found] - step, hit[found]
    for _ in range(refine):  # the ground lies between low (above it) and high (at or below it)
        middle = 0.5 * (low + high)
        points = flat_origins[found] + middle[:, None] * flat_dirs[found]
        below = points[:, 2] <= ground(points[:, :2])
        high = torch.where(below, middle, high)
        low = torch.where(below, low, middle)
    hit[found] = high
    return hit.view(n, num_rays)


class DepthCamera:
    """The cameras of all envs: renders, keeps the queue of recent images, applies noise.

    ``image`` is what the policy sees now, (N, 1, height, width) float32 in metres (0 = dropped)."""

    def __init__(self, cfg: DepthCameraConfig, sim, body_id: int, step_dt: float, generator: torch.Generator,
                 terrain_heights=None):
        self.cfg, self.sim, self.body_id, self.generator = cfg, sim, body_id, generator
        # On a terrain the world the camera sees is one heightfield: marched in torch (see
        # march_heightfield) unless cfg.ray_caster is "mujoco"; anything else: the backend's mj_ray.
        self.terrain_heights = terrain_heights if cfg.ray_caster != "mujoco" else None
        self.terrain_top = float(terrain_heights.heights.max()) if self.terrain_heights is not None else 0.0
        self.device = sim.device
        n = sim.num_envs
        self.period_steps = max(1, round(cfg.update_period_s / step_dt))
        self.latency_steps = max(0, round(cfg.latency_s / step_dt))
        # Images rendered at least latency_steps ago, plus the newest one being waited on.
        self.queue_length = math.ceil(self.latency_steps / self.period_steps) + 1
        rays = torch.as_tensor(cfg.ray_directions(), dtype=torch.float32, device=self.device)
        rotation = torch.as_tensor(cfg.rotation(), dtype=torch.float32, device=self.device)
        self.rays_body = rays @ rotation.T  # (P, 3) in the body frame
        self.axis_cosine = rays[:, 0]  # z-depth = ray distance x cos(angle to the optical axis)
        self.max_distance = cfg.far / self.axis_cosine  # the far clip along each ray
        self.offset = torch.as_tensor(cfg.pos, dtype=torch.float32, device=self.device)
        shape = (n, self.queue_length, cfg.height, cfg.width)
        self.queue = torch.full(shape, cfg.far, device=self.device)  # newest first
        self.queue_steps = torch.zeros(n, self.queue_length, dtype=torch.long, device=self.device)  # when rendered
        self.image = torch.full((n, 1, cfg.height, cfg.width), cfg.far, device=self.device)

    # ------------------------------------------------------------------------------ rendering

    def render(self, env_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(len(env_ids), height, width) z-depth in metres of the given envs (all: None), noise-free."""
        cfg = self.cfg
        pos = self.sim.xpos[:, self.body_id].to(self.device, torch.float32)
        quat = self.sim.xquat[:, self.body_id].to(self.device, torch.float32)
        if env_ids is not None:
            pos, quat = pos[env_ids], quat[env_ids]
        # Body frame -> world: the inverse rotation of the conjugate quaternion.
        to_world = (quat * torch.tensor([1.0, -1.0, -1.0, -1.0], device=self.device))[:, None, :]
        origin = pos + quat_rotate_inverse(to_world, self.offset.expand(len(pos), 1, 3))[:, 0]  # (n, 3)
        directions = quat_rotate_inverse(to_world, self.rays_body.expand(len(pos), -1, -1))  # (n, P, 3)
        if self.terrain_heights is not None:
            distance = march_heightfield(self.terrain_heights, origin, directions, self.max_distance,
                                         cfg.march_step, cfg.march_refine, self.terrain_top)
        else:
            distance = self.sim.rays(origin[:, None, :].expand_as(directions), directions, env_ids, WORLD_GEOM_GROUP)
        depth = distance * self.axis_cosine
        depth = torch.where((distance < 0.0) | (depth > cfg.far), cfg.far, depth.clamp(min=cfg.near))
        return depth.view(-1, cfg.height, cfg.width)

    def add_noise(self, depth: torch.Tensor) -> torch.Tensor:
        """``depth`` (n, H, W) as the sensor gives it: noisy, clipped, with lost pixels at 0."""
        noise, cfg = self.cfg.noise, self.cfg
        clean = depth
        if noise.depth_std > 0.0:
            gauss = torch.randn(depth.shape, generator=self.generator, device=self.device)
            depth = (depth + noise.depth_std * gauss).clamp(cfg.near, cfg.far)
        lost = torch.zeros(depth.shape, dtype=torch.bool, device=self.device)
        if noise.edge_dropout_prob > 0.0:  # the scene's edges, not the noise's
            edge = torch.zeros_like(lost)
            step_x = (clean[:, :, 1:] - clean[:, :, :-1]).abs() > noise.edge_threshold
            step_y = (clean[:, 1:, :] - clean[:, :-1, :]).abs() > noise.edge_threshold
            edge[:, :, 1:] |= step_x
            edge[:, :, :-1] |= step_x
            edge[:, 1:, :] |= step_y
            edge[:, :-1, :] |= step_y
            lost |= edge & (torch.rand(depth.shape, generator=self.generator, device=self.device) < noise.edge_dropout_prob)
        if noise.dropout_prob > 0.0:
            lost |= torch.rand(depth.shape, generator=self.generator, device=self.device) < noise.dropout_prob
        return depth.masked_fill(lost, 0.0)

    # ------------------------------------------------------------------------------- timing

    def step(self, step_counter: int, noisy: bool) -> None:
        """Called once per env step, after the physics: render if an image is due, then show the
        newest image at least ``latency_steps`` old."""
        if step_counter % self.period_steps == 0:
            depth = self.render()
            self.queue = torch.roll(self.queue, 1, dims=1)
            self.queue_steps = torch.roll(self.queue_steps, 1, dims=1)
            self.queue[:, 0] = self.add_noise(depth) if noisy else depth
            self.queue_steps[:, 0] = step_counter
        old_enough = self.queue_steps <= step_counter - self.latency_steps  # (N, L), newest first
        # The newest old-enough slot; the oldest one while none is (the queue's start, a refill).
        slot = torch.where(old_enough.any(dim=1), old_enough.float().argmax(dim=1), self.queue_length - 1)
        self.image = self.queue[torch.arange(len(slot), device=self.device), slot].unsqueeze(1)

    def reset(self, env_ids: torch.Tensor, step_counter: int, noisy: bool) -> None:
        """Envs whose episode starts now: their whole queue is one fresh image, shown at once."""
        if len(env_ids) == 0:
            return
        depth = self.render(env_ids)
        depth = self.add_noise(depth) if noisy else depth
        self.queue[env_ids] = depth[:, None].expand(-1, self.queue_length, -1, -1)
        # Counted as rendered long enough ago to be seen now, and to be replaced in turn.
        self.queue_steps[env_ids] = step_counter - self.latency_steps
        self.image[env_ids] = depth[:, None]

    def normalized_image(self) -> torch.Tensor:
        """(N, 1, H, W): the image scaled to [0, 1], (depth - near) / (far - near); dropped pixels 0."""
        cfg = self.cfg
        return torch.where(self.image > 0.0, (self.image - cfg.near) / (cfg.far - cfg.near), 0.0).clamp(0.0, 1.0)

    # ---------------------------------------------------------------------------- exact resume

    def state_dict(self) -> dict:
        return {"queue": self.queue.cpu().clone(), "queue_steps": self.queue_steps.cpu().clone(), "image": self.image.cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        for name in ("queue", "queue_steps", "image"):
            current = getattr(self, name)
            if tuple(state[name].shape) != tuple(current.shape):
                raise ValueError(f"env state camera.{name} has shape {tuple(state[name].shape)}; this env's is {tuple(current.shape)}")
            current.copy_(state[name].to(current))
