"""A library of reference clips served as AMP observations.

Each clip is put in the robot's joint order, resampled to the policy's step, and turned into
*states* with the attributes the env's observation terms read (base pose and velocities in the base
frame, joint angles and velocities, foot positions by MuJoCo forward kinematics of the robot's
model). The AMP observation of a frame is then computed by the same ``ObservationGroup`` code as the
env's ``amp`` group, once, at load: serving a batch of frame pairs is an index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mujoco
import numpy as np
import torch

from legged_train.envs.mjbatch_backend import MjBatchBackend
from legged_train.envs.legged.observations import ObservationGroup, quat_rotate_inverse
from legged_train.motions.clip import MotionClip


@dataclass
class MotionState:
    """Frames of reference motion, as the observation terms see the env (see envs/legged/observations.py)."""

    base_pos: torch.Tensor
    base_quat: torch.Tensor
    base_lin_vel: torch.Tensor
    base_ang_vel: torch.Tensor
    projected_gravity: torch.Tensor
    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    default_joint_pos: torch.Tensor
    foot_pos: torch.Tensor


def clip_states(clip: MotionClip, model: mujoco.MjModel, robot, device: torch.device) -> tuple[MotionState, torch.Tensor, torch.Tensor]:
    """A clip (already in the robot's joint order and the policy's frame rate) as a MotionState,
    with the MuJoCo qpos and qvel of its frames (for reference-state initialization)."""
    lin_world, ang_base, joint_vel = clip.velocities()
    n = clip.num_frames
    qpos_ids = [model.joint(j).qposadr[0] for j in robot.joint_names]
    dof_ids = [model.joint(j).dofadr[0] for j in robot.joint_names]
    qpos = np.zeros((n, model.nq))
    qpos[:] = model.qpos0
    qpos[:, :3], qpos[:, 3:7], qpos[:, qpos_ids] = clip.root_pos, clip.root_quat, clip.joint_pos
    qvel = np.zeros((n, model.nv))
    # A free joint's velocity: linear in the world frame, angular in the body frame.
    qvel[:, :3], qvel[:, 3:6], qvel[:, dof_ids] = lin_world, ang_base, joint_vel
    kinematics = MjBatchBackend(model, n, 1)
    kinematics.set_state(torch.arange(n), torch.from_numpy(qpos), torch.from_numpy(qvel))
    sites = [model.site(f).id for f in robot.foot_names]

    def tensor(x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x), dtype=torch.float32, device=device)

    quat = tensor(clip.root_quat)
    down = torch.tensor([0.0, 0.0, -1.0], device=device).expand(n, 3)
    state = MotionState(
        base_pos=tensor(clip.root_pos),
        base_quat=quat,
        base_lin_vel=quat_rotate_inverse(quat, tensor(lin_world)),
        base_ang_vel=tensor(ang_base),
        projected_gravity=quat_rotate_inverse(quat, down),
        joint_pos=tensor(clip.joint_pos),
        joint_vel=tensor(joint_vel),
        default_joint_pos=tensor(robot.default_joint_pos),
        foot_pos=tensor(kinematics.site_xpos[:, sites].numpy()),
    )
    return state, tensor(qpos), tensor(qvel)


def clip_command(clip: MotionClip) -> list[float]:
    """The velocity command a clip follows: the generator's (in its meta), else the clip's mean
    forward and lateral velocity in the heading frame and its mean yaw rate."""
    meta = clip.meta or {}
    if all(key in meta for key in ("speed", "lateral_speed", "yaw_rate")):
        return [float(meta["speed"]), float(meta["lateral_speed"]), float(meta["yaw_rate"])]
    lin_world, ang_base, _ = clip.velocities()
    w, x, y, z = clip.root_quat.T
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    forward = np.cos(yaw) * lin_world[:, 0] + np.sin(yaw) * lin_world[:, 1]
    lateral = -np.sin(yaw) * lin_world[:, 0] + np.cos(yaw) * lin_world[:, 1]
    yaw_rate = np.gradient(np.unwrap(yaw), 1.0 / clip.fps)
    return [float(forward.mean()), float(lateral.mean()), float(yaw_rate.mean())]


class MotionLibrary:
    """Reference clips for one robot, served as AMP observation pairs (s, s') one policy step apart.

    Args:
        clips: MotionClip objects or paths (``.npz`` / AMP-for-hardware ``.json``).
        robot: the env's resolved RobotConfig (joint and foot names, standing pose).
        model: the env's compiled MuJoCo model (forward kinematics of the feet).
        dt: the policy step (s): clips are resampled to it.
        amp_group: the env's ``amp`` ObservationGroupConfig (terms; noise is ignored: references are clean).
        weights: per-clip sampling weights overriding the clips' own.
    """

    def __init__(self, clips: list, robot, model: mujoco.MjModel, dt: float, amp_group, device="cpu",
                 weights: list[float] | None = None, seed: int = 0):
        if not clips:
            raise ValueError("the motion library needs at least one clip (AMPConfig.motion_files is empty)")
        self.device = torch.device(device)
        loaded = [clip if isinstance(clip, MotionClip) else MotionClip.load(os.fspath(clip)) for clip in clips]
        if weights is not None:
            if len(weights) != len(loaded) or not all(w > 0 for w in weights):
                raise ValueError(f"motion_weights={weights!r}: need one weight > 0 per motion file ({len(loaded)})")
        self.clips = [clip.with_joint_order(list(robot.joint_names)).resampled(dt) for clip in loaded]
        self.names = [clip.name for clip in self.clips]
        self.group: ObservationGroup | None = None
        observations, qpos, qvel, commands, starts = [], [], [], [], []
        offset = 0
        for clip in self.clips:
            state, clip_qpos, clip_qvel = clip_states(clip, model, robot, self.device)
            if self.group is None:
                terms = list(amp_group.terms)
                self.group = ObservationGroup("amp", terms, [0.0] * len(terms), 1, state)
            observations.append(self.group.compute(state))
            qpos.append(clip_qpos)
            qvel.append(clip_qvel)
            commands.append(torch.as_tensor(clip_command(clip), dtype=torch.float32, device=self.device).expand(clip.num_frames, 3))
            starts.append(offset)
            offset += clip.num_frames
        self.observations = torch.cat(observations)  # (total frames, amp width)
        self.qpos, self.qvel, self.commands = torch.cat(qpos), torch.cat(qvel), torch.cat(commands)
        self.clip_start = torch.tensor(starts, device=self.device)
        self.clip_frames = torch.tensor([clip.num_frames for clip in self.clips], device=self.device)
        clip_weights = torch.tensor(weights if weights is not None else [clip.weight for clip in self.clips], dtype=torch.float32)
        self.clip_weights = (clip_weights / clip_weights.sum()).to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    @property
    def observation_width(self) -> int:
        return self.observations.shape[1]

    def _sample_frames(self, n: int, last_excluded: int) -> torch.Tensor:
        """Global frame indices: a clip by weight, then a frame uniformly in its first frames."""
        clips = torch.multinomial(self.clip_weights, n, replacement=True, generator=self.generator)
        usable = (self.clip_frames[clips] - last_excluded).clamp(min=1)
        frames = (torch.rand(n, generator=self.generator, device=self.device) * usable).long()
        return self.clip_start[clips] + frames

    def sample_pairs(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` pairs of consecutive frames' AMP observations: (s, s'), each (n, width)."""
        index = self._sample_frames(n, last_excluded=1)
        return self.observations[index], self.observations[index + 1]

    def sample_states(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` reference frames as MuJoCo (qpos, qvel), with the velocity command (forward,
        lateral, yaw rate) of each frame's clip: for reference-state initialization."""
        index = self._sample_frames(n, last_excluded=0)
        return self.qpos[index], self.qvel[index], self.commands[index]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
