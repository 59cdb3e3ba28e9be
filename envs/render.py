"""Offscreen rendering of a simulation state to frames and MP4 files.

Headless machines render with EGL: set MUJOCO_GL=egl before mujoco is first imported (play.py does
this when there is no display)."""

from __future__ import annotations

import mujoco
import numpy as np


class OffscreenRenderer:
    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480, track_body: str | None = "trunk"):
        self.model = model
        self.data = mujoco.MjData(model)
        self.renderer = mujoco.Renderer(model, height=height, width=width)
        self.camera = mujoco.MjvCamera()
        if track_body is not None:
            # A chase camera: the robot stays in frame however far it walks.
            self.camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            self.camera.trackbodyid = model.body(track_body).id
            self.camera.distance, self.camera.azimuth, self.camera.elevation = 1.6, 135.0, -15.0
        else:
            mujoco.mjv_defaultFreeCamera(model, self.camera)

    def render(self, qpos: np.ndarray) -> np.ndarray:
        """One RGB frame (H, W, 3) uint8 of the robot in configuration qpos."""
        self.data.qpos[:] = qpos
        mujoco.mj_forward(self.model, self.data)
        self.renderer.update_scene(self.data, self.camera)
        return self.renderer.render().copy()

    def close(self) -> None:
        self.renderer.close()


def write_mp4(frames: list[np.ndarray], path: str, fps: float) -> None:
    """Write RGB frames to an H.264 MP4 (imageio's bundled ffmpeg)."""
    import imageio.v2 as imageio

    if not frames:
        raise ValueError(f"write_mp4: no frames to write to {path}")
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
