"""Reference-motion clips: the project's own file format, and AMP for hardware's JSON files.

A clip is a robot's root and joint trajectory at a fixed frame rate. On disk (``.npz``, read with
``allow_pickle=False``):

==================  ==========================================================================
``fps``             frames per second (float)
``joint_names``     (J,) unicode: the column order of ``joint_pos``
``root_pos``        (T, 3) world position of the robot's base (m)
``root_quat``       (T, 4) world orientation of the base, (w, x, y, z)
``joint_pos``       (T, J) joint angles (rad)
``weight``          optional float, how often a library samples this clip relative to others (1)
``loop``            optional bool, whether the clip's last frame continues into its first (True)
``header``          optional JSON text: ``{"meta": {...}}``, how the clip was made (gait, speed)
==================  ==========================================================================

Velocities are not stored: they are finite differences of the positions (the root's angular
velocity through the relative rotation of consecutive frames), so they always agree with them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from legged_train.demonstrations.files import write_npz_atomic


@dataclass
class MotionClip:
    fps: float
    joint_names: list[str]
    root_pos: np.ndarray
    root_quat: np.ndarray
    joint_pos: np.ndarray
    weight: float = 1.0
    loop: bool = True
    name: str = ""
    meta: dict = field(default_factory=dict)  # how it was made (gait, speed...), saved in the header

    def __post_init__(self) -> None:
        self.root_pos = np.asarray(self.root_pos, dtype=np.float64)
        self.root_quat = np.asarray(self.root_quat, dtype=np.float64)
        self.joint_pos = np.asarray(self.joint_pos, dtype=np.float64)
        self.joint_names = [str(name) for name in self.joint_names]
        self.validate()

    @property
    def num_frames(self) -> int:
        return self.root_pos.shape[0]

    @property
    def duration(self) -> float:
        return (self.num_frames - 1) / self.fps

    def validate(self) -> None:
        where = f"motion clip {self.name!r}" if self.name else "motion clip"
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"{where}: fps={self.fps!r} must be > 0")
        t = self.root_pos.shape[0] if self.root_pos.ndim == 2 else -1
        if t < 2:
            raise ValueError(f"{where} has {max(t, 0)} frame(s); a clip needs at least 2 (velocities come from consecutive frames)")
        shapes = {"root_pos": (t, 3), "root_quat": (t, 4), "joint_pos": (t, len(self.joint_names))}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{where}: {name} has shape {getattr(self, name).shape}; expected {shape}")
        for name in shapes:
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{where}: {name} holds NaN or Inf")
        if not self.weight > 0:
            raise ValueError(f"{where}: weight={self.weight!r} must be > 0")
        norms = np.linalg.norm(self.root_quat, axis=1)
        if np.abs(norms - 1.0).max() > 1e-3:
            raise ValueError(f"{where}: root_quat rows must be unit quaternions (w, x, y, z); norms range {norms.min():.4f}..{norms.max():.4f}")
        self.root_quat = self.root_quat / norms[:, None]

    # ---------------------------------------------------------------------------------- files

    def save(self, path: str) -> str:
        arrays = {
            "fps": np.float64(self.fps),
            "joint_names": np.array(self.joint_names, dtype=np.str_),
            "root_pos": self.root_pos,
            "root_quat": self.root_quat,
            "joint_pos": self.joint_pos,
            "weight": np.float64(self.weight),
            "loop": np.bool_(self.loop),
        }
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        write_npz_atomic(os.path.abspath(path), arrays, header={"format": "legged_train motion clip", "meta": self.meta})
        return path

    @classmethod
    def load(cls, path: str) -> "MotionClip":
        """A clip from the project's ``.npz`` format or AMP for hardware's ``.json``."""
        if str(path).endswith(".json"):
            return load_amp_hardware_json(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in ("fps", "joint_names", "root_pos", "root_quat", "joint_pos") if k not in data]
                if missing:
                    raise ValueError(f"motion file {path!r} lacks {missing}; see legged_train/motions/clip.py for the format")
                return cls(
                    fps=float(data["fps"]),
                    joint_names=list(data["joint_names"]),
                    root_pos=data["root_pos"],
                    root_quat=data["root_quat"],
                    joint_pos=data["joint_pos"],
                    weight=float(data["weight"]) if "weight" in data else 1.0,
                    loop=bool(data["loop"]) if "loop" in data else True,
                    name=os.path.splitext(os.path.basename(path))[0],
                    meta=json.loads(str(data["header"])).get("meta", {}) if "header" in data else {},
                )
        except (OSError, EOFError) as err:
            raise ValueError(f"motion file {path!r} cannot be read as .npz: {err}") from None

    # ------------------------------------------------------------------------------ transforms

    def with_joint_order(self, joint_names: list[str]) -> "MotionClip":
        """The same clip with its columns in ``joint_names``' order; the two sets must be equal."""
        if list(joint_names) == self.joint_names:
            return self
        if sorted(joint_names) != sorted(self.joint_names):
            raise ValueError(
                f"motion clip {self.name!r} has joints {self.joint_names}; the robot has {list(joint_names)}"
            )
        columns = [self.joint_names.index(name) for name in joint_names]
        return self._replace(joint_names=list(joint_names), joint_pos=self.joint_pos[:, columns])

    def resampled(self, dt: float) -> "MotionClip":
        """The clip at one frame every ``dt`` seconds: positions interpolated linearly, orientations
        by spherical interpolation. Frames run from 0 to the clip's duration (its last frame kept
        when the duration is a multiple of dt)."""
        if abs(dt * self.fps - 1.0) < 1e-9:
            return self
        times = np.arange(0.0, self.duration + 1e-9, dt)
        if len(times) < 2:
            raise ValueError(f"motion clip {self.name!r} lasts {self.duration:.3f} s: shorter than two frames at dt={dt}")
        source = times * self.fps
        i0 = np.minimum(np.floor(source).astype(int), self.num_frames - 2)
        frac = (source - i0)[:, None]
        lerp = lambda x: x[i0] * (1.0 - frac) + x[i0 + 1] * frac  # noqa: E731
        quat = quat_slerp(self.root_quat[i0], self.root_quat[i0 + 1], frac[:, 0])
        return self._replace(fps=1.0 / dt, root_pos=lerp(self.root_pos), root_quat=quat, joint_pos=lerp(self.joint_pos))

    def velocities(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(root linear velocity in the world frame, root angular velocity in the base frame, joint
        velocities), one row per frame: central differences inside the clip, one-sided at its ends.
        The angular velocity comes from the relative rotation between frames (quaternion-aware)."""
        dt = 1.0 / self.fps
        lin = np.gradient(self.root_pos, dt, axis=0)
        joint = np.gradient(self.joint_pos, dt, axis=0)
        # Between frames i and i+1: q_{i+1} = q_i * dq, so dq's rotation vector / dt is the angular
        # velocity in the base frame over that interval; a frame's value averages its two intervals.
        q = self.root_quat
        step = quat_to_rotvec(quat_multiply(quat_conjugate(q[:-1]), q[1:])) / dt
        ang = np.empty_like(lin)
        ang[0], ang[-1] = step[0], step[-1]
        ang[1:-1] = 0.5 * (step[:-1] + step[1:])
        return lin, ang, joint

    def _replace(self, **changes) -> "MotionClip":
        fields = dict(fps=self.fps, joint_names=self.joint_names, root_pos=self.root_pos, root_quat=self.root_quat,
                      joint_pos=self.joint_pos, weight=self.weight, loop=self.loop, name=self.name, meta=self.meta)
        fields.update(changes)
        return MotionClip(**fields)


# -------------------------------------------------------------------- AMP for hardware's files

# A frame of AMP for hardware (Escontrela et al. 2022) for a 12-joint quadruped: root position (3),
# root orientation as x, y, z, w (4), joint angles (12), foot positions (12), root linear (3) and
# angular (3) velocity, joint velocities (12), foot velocities (12) = 61 values. Only the poses
# are read: velocities and feet are recomputed (by finite differences and forward kinematics).
AMP_HARDWARE_FRAME = 61


def load_amp_hardware_json(path: str, joint_names: list[str] | None = None) -> MotionClip:
    """A clip from an AMP-for-hardware motion file (``Frames``, ``FrameDuration``, ``MotionWeight``,
    ``LoopMode``). Its joint columns carry no names: they are taken to be in ``joint_names`` order
    (default: the Go1 / A1 order FR, FL, RR, RL x hip, thigh, calf)."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"motion file {path!r} is not readable JSON: {err}") from None
    missing = [key for key in ("Frames", "FrameDuration") if key not in data]
    if missing:
        raise ValueError(f"motion file {path!r} lacks {missing} (an AMP-for-hardware file has Frames, FrameDuration, MotionWeight, LoopMode)")
    frames = np.asarray(data["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != AMP_HARDWARE_FRAME:
        raise ValueError(f"motion file {path!r}: Frames has shape {frames.shape}; expected (T, {AMP_HARDWARE_FRAME}) for a 12-joint quadruped")
    if joint_names is None:
        joint_names = [f"{leg}_{part}_joint" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf")]
    xyzw = frames[:, 3:7]
    return MotionClip(
        fps=1.0 / float(data["FrameDuration"]),
        joint_names=joint_names,
        root_pos=frames[:, 0:3],
        root_quat=np.concatenate((xyzw[:, 3:4], xyzw[:, :3]), axis=1),
        joint_pos=frames[:, 7:19],
        weight=float(data.get("MotionWeight", 1.0)),
        loop=str(data.get("LoopMode", "Wrap")).lower() == "wrap",
        name=os.path.splitext(os.path.basename(path))[0],
        meta={"source": "amp_for_hardware_json"},
    )


# --------------------------------------------------------------------------- quaternion maths
# (w, x, y, z), numpy, batched over leading dimensions.


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack((
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ), axis=-1)


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vector (axis x angle) of unit quaternions, taking the short way round."""
    q = np.where(q[..., :1] < 0.0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    # angle / sin(angle / 2) -> 2 as the angle -> 0
    factor = np.where(sin_half > 1e-12, angle / np.maximum(sin_half, 1e-12), 2.0)
    return q[..., 1:] * factor


def quat_from_rotvec(v: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * angle
    factor = np.where(angle > 1e-12, np.sin(half) / np.maximum(angle, 1e-12), 0.5)
    return np.concatenate((np.cos(half), v * factor), axis=-1)


def quat_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation from a (t=0) to b (t=1), the short way."""
    relative = quat_multiply(quat_conjugate(a), b)
    return quat_multiply(a, quat_from_rotvec(quat_to_rotvec(relative) * np.asarray(t)[..., None]))


def yaw_quat(yaw: np.ndarray) -> np.ndarray:
    """Rotations about the world z axis by ``yaw`` (rad)."""
    half = 0.5 * np.asarray(yaw, dtype=np.float64)
    zeros = np.zeros_like(half)
    return np.stack((np.cos(half), zeros, zeros, np.sin(half)), axis=-1)
