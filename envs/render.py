"""Offscreen rendering of a simulation state to frames and MP4 files.

Headless machines render with EGL: set MUJOCO_GL=egl before mujoco is first imported (play.py does
this when there is no display)."""

from __future__ import annotations

import mujoco
import numpy as np


FRAMED_HEIGHT = 0.8  # m: the tallest robot the default camera distances frame (Go1, Go2: about 0.5)


def robot_height(model: mujoco.MjModel, body_id: int) -> float:
    """Vertical extent (m) of the geoms of ``body_id``'s tree, in the first keyframe (else qpos0):
    from the lowest to the highest point of their bounding spheres."""
    data = mujoco.MjData(model)
    if model.nkey > 0:
        data.qpos[:] = model.key_qpos[0]
    mujoco.mj_kinematics(model, data)
    root = model.body_rootid[body_id]
    geoms = [g for g in range(model.ngeom) if model.body_rootid[model.geom_bodyid[g]] == root]
    if not geoms:
        return 0.0
    z, radius = data.geom_xpos[geoms, 2], model.geom_rbound[geoms]
    return float(np.max(z + radius) - np.min(z - radius))


class OffscreenRenderer:
    """Renders a model's states offscreen. The camera chases `track_body` (a body name; the caller
    knows its robot's base, e.g. `env.cfg.robot.base_body`); None tracks the first body after the
    world, the floating base in a robot file, or gives a free camera when there is no such body."""

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480, track_body: str | None = None):
        self.model = model
        self.data = mujoco.MjData(model)
        if track_body is not None:
            bodies = [model.body(i).name for i in range(model.nbody)]
            if track_body not in bodies:
                raise ValueError(f"OffscreenRenderer: track_body={track_body!r} is not a body of the model; it has {bodies}")
            body_id = bodies.index(track_body)
        else:
            body_id = 1 if model.nbody > 1 else None
        self.renderer = mujoco.Renderer(model, height=height, width=width)
        self.camera = mujoco.MjvCamera()
        if body_id is not None:
            # A chase camera: the robot stays in frame however far it walks.
            self.camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            self.camera.trackbodyid = body_id
            # MuJoCo's tracking camera moves its lookat with the body's subtree centre of mass: over a
            # terrain it follows the robot up and down steps as well as along.
            self.camera.distance, self.camera.azimuth, self.camera.elevation = 1.6, 135.0, -15.0
            if model.nhfield > 0:
                # Over a terrain, further back and higher: the relief shows, and a slope or flight of
                # stairs rising behind the robot stays below the camera instead of hiding it.
                self.camera.distance, self.camera.elevation = 2.4, -30.0
            # Those distances frame a robot up to FRAMED_HEIGHT tall (Go1, Go2); a taller one (Spot, a
            # humanoid) is filmed from proportionally further back.
            self.camera.distance *= max(1.0, robot_height(model, body_id) / FRAMED_HEIGHT)
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


def with_depth_inset(frame: np.ndarray, depth: np.ndarray, share: float = 0.3) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with what the depth camera shows in its top-right corner: ``depth``
    (h, w) in [0, 1] (the ``depth_image`` term: near is dark, far and lost pixels as the policy sees
    them), enlarged by whole pixels to about ``share`` of the frame's width, in a white border."""
    height, width = frame.shape[:2]
    scale = max(1, int(share * width / depth.shape[1]))
    inset = np.repeat(np.repeat((np.clip(depth, 0.0, 1.0) * 255).astype(np.uint8), scale, axis=0), scale, axis=1)
    inset = inset[: height - 4, : width - 4]
    out = frame.copy()
    h, w = inset.shape
    out[0 : h + 4, width - w - 4 : width] = 255  # the border
    out[2 : h + 2, width - w - 2 : width - 2] = inset[:, :, None]
    return out


def env_frame(renderer: OffscreenRenderer, env, env_id: int = 0) -> np.ndarray:
    """A frame of env ``env_id``, with its depth camera's image inset when the env has one."""
    frame = renderer.render(env.qpos_numpy(env_id))
    if getattr(env, "depth_camera", None) is not None:
        frame = with_depth_inset(frame, env.depth_image[env_id, 0].detach().cpu().numpy())
    return frame


def write_mp4(frames: list[np.ndarray], path: str, fps: float) -> None:
    """Write RGB frames to an H.264 MP4 (imageio's bundled ffmpeg)."""
    import imageio.v2 as imageio

    if not frames:
        raise ValueError(f"write_mp4: no frames to write to {path}")
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
