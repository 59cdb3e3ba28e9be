"""Typed configuration of the depth camera (``depth_camera.py``) and ``validate()`` for bad input.
No torch here: the env config imports it."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

WORLD_GEOM_GROUP = 0  # the geom group the camera sees: the terrain's and the floor's
ROBOT_GEOM_GROUP = 1  # where build_model moves the robot's group-0 geoms when a camera is on
RAY_CASTERS = ("auto", "mujoco")


@dataclass
class DepthNoiseConfig:
    """What a stereo depth camera gets wrong. Zeros: a perfect camera."""

    depth_std: float = 0.01  # m, Gaussian noise on every pixel's depth
    dropout_prob: float = 0.01  # share of pixels lost at random (read 0)
    edge_dropout_prob: float = 0.3  # share of the pixels on a depth edge that are lost
    edge_threshold: float = 0.1  # m: a pixel whose depth differs from a neighbour's by more is on an edge


@dataclass
class DepthCameraConfig:
    """A depth camera fixed to a robot body. Defaults: an Intel RealSense D435 at the front of a Go1's
    trunk, downsampled (87 degrees horizontal field of view, 0.1 to 2 m, 64 x 48 pixels), looking 30
    degrees down: the ground from ~0.15 m to the 2 m far clip ahead of the feet."""

    enabled: bool = False
    body: str = ""  # the body it is fixed to; "" = the robot's base body
    pos: tuple[float, float, float] = (0.27, 0.0, 0.03)  # m in the body frame (Robot Parkour's Go1 mount)
    pitch_deg: float = 30.0  # down from the body's x axis (the optical axis, when 0)
    width: int = 64  # pixels
    height: int = 48  # pixels
    horizontal_fov_deg: float = 87.0
    near: float = 0.1  # m
    far: float = 2.0  # m
    update_period_s: float = 0.1  # s between images (rounded to whole policy steps)
    latency_s: float = 0.1  # s: the policy sees the newest image at least this old (rounded to steps)
    noise: DepthNoiseConfig = field(default_factory=DepthNoiseConfig)
    # How rays are cast: "auto" marches the terrain's heightfield in torch when the env has one (the
    # world the camera sees is then that heightfield alone; mj_ray's cost grows with the terrain's
    # size: ~2 ms a ray on the default 160 m terrain), else the backend's mj_ray; "mujoco" always mj_ray.
    ray_caster: str = "auto"
    march_step: float = 0.05  # m between samples along a ray (thinner features can be missed; hurdles are 0.1 m)
    march_refine: int = 6  # halvings of the last interval: the depth to within march_step / 2^6 (0.8 mm)

    def validate(self) -> None:
        """Raise ValueError naming the field (``DepthCameraConfig.<field>``), its value and what is allowed."""

        def need(ok: bool, name: str, value, allowed: str) -> None:
            if not ok:
                raise ValueError(f"DepthCameraConfig.{name}={value!r}: {allowed}")

        def is_number(value) -> bool:
            return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)

        def is_int(value) -> bool:
            return isinstance(value, numbers.Integral) and not isinstance(value, bool)

        need(isinstance(self.enabled, bool), "enabled", self.enabled, "must be true or false")
        need(isinstance(self.body, str), "body", self.body, "must be a body name ('' = the base body)")
        ok = isinstance(self.pos, (list, tuple)) and len(self.pos) == 3 and all(is_number(v) for v in self.pos)
        need(ok, "pos", self.pos, "must be three numbers (m, in the body frame)")
        need(is_number(self.pitch_deg) and -90.0 <= self.pitch_deg <= 90.0, "pitch_deg", self.pitch_deg, "must be in [-90, 90] (degrees down)")
        for name in ("width", "height"):
            value = getattr(self, name)
            need(is_int(value) and value >= 1, name, value, "must be an int >= 1 (pixels)")
        fov = self.horizontal_fov_deg
        need(is_number(fov) and 0.0 < fov < 180.0, "horizontal_fov_deg", fov, "must be in (0, 180) degrees")
        need(is_number(self.near) and self.near >= 0.0, "near", self.near, "must be >= 0 (m)")
        need(is_number(self.far) and self.far > self.near, "far", self.far,
             f"must be a number above the near clip (near={self.near!r} m)")
        need(is_number(self.update_period_s) and self.update_period_s > 0.0, "update_period_s", self.update_period_s, "must be > 0 (s)")
        need(is_number(self.latency_s) and self.latency_s >= 0.0, "latency_s", self.latency_s, "must be >= 0 (s)")
        need(self.ray_caster in RAY_CASTERS, "ray_caster", self.ray_caster, f"must be one of {', '.join(RAY_CASTERS)}")
        need(is_number(self.march_step) and self.march_step > 0.0, "march_step", self.march_step, "must be > 0 (m)")
        need(is_int(self.march_refine) and self.march_refine >= 0, "march_refine", self.march_refine, "must be an int >= 0")
        noise = self.noise
        need(isinstance(noise, DepthNoiseConfig), "noise", noise, "must be a DepthNoiseConfig")
        need(is_number(noise.depth_std) and noise.depth_std >= 0.0, "noise.depth_std", noise.depth_std, "must be >= 0 (m)")
        for name in ("dropout_prob", "edge_dropout_prob"):
            value = getattr(noise, name)
            need(is_number(value) and 0.0 <= value <= 1.0, f"noise.{name}", value, "must be in [0, 1]")
        need(is_number(noise.edge_threshold) and noise.edge_threshold > 0.0, "noise.edge_threshold", noise.edge_threshold, "must be > 0 (m)")

    def ray_directions(self) -> np.ndarray:
        """(height * width, 3) unit rays of the pixels, row-major from the top-left, in the camera
        frame (x the optical axis, y left, z up); the square pixels of a pinhole camera."""
        half_x = math.tan(math.radians(self.horizontal_fov_deg) / 2)
        half_y = half_x * self.height / self.width
        right = ((np.arange(self.width) + 0.5) / self.width * 2.0 - 1.0) * half_x
        down = ((np.arange(self.height) + 0.5) / self.height * 2.0 - 1.0) * half_y
        down_grid, right_grid = np.meshgrid(down, right, indexing="ij")
        rays = np.stack((np.ones_like(right_grid), -right_grid, -down_grid), axis=-1).reshape(-1, 3)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def rotation(self) -> np.ndarray:
        """(3, 3) the camera frame in the body frame: pitched ``pitch_deg`` down about the body's y axis."""
        pitch = math.radians(self.pitch_deg)
        c, s = math.cos(pitch), math.sin(pitch)
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
