"""Left-right symmetry of the legged env: the mirror image of every observation group and of the
actions, for symmetry augmentation and the mirror loss in PPO and distillation (issue 23).

The mirror is the world reflected in its x-z plane (y -> -y), which takes a robot walking forward to
its mirror image walking forward. Everything follows from the robot's own layout, not from names:

- joints: each joint's partner is the joint whose anchor, in the standing pose, lies at its mirrored
  place (a joint on the centre plane, a waist's, is its own partner); the sign says whether the
  partner turns the same way (a pitch joint) or the other (a roll or yaw joint): the reflected axis
  of a hinge is the pseudovector (-ax, ay, -az), and the partner's axis is that or its opposite;
- feet: each foot's partner is the foot at its mirrored place in the standing pose;
- vectors in the base or world frame (velocities, gravity, offsets) flip y; pseudovectors (angular
  velocities) flip x and z; the command (forward, lateral, yaw rate) flips lateral and yaw;
- the gait clock shifts by the phase that makes each foot's offset its partner's (half a cycle in
  a trot, pace or alternating gait, none in a bound or pronk);
- the height scan's grid swaps its points y <-> -y.

Each term's mirror is a signed permutation of its columns, so a group's mirror (any terms, any
history) is one: ``mirrored = obs[:, permutation] * signs``. A group with a term that has no rule
here cannot be mirrored (a clear error names it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np
import torch

from legged_train.envs.legged.gaits import standing_foot_xy
from legged_train.envs.robot_pose import feet_on_floor

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv

MATCH_TOLERANCE = 0.01  # m between a joint's or foot's mirrored place and its partner's


@dataclass
class SignedPermutation:
    """``x -> x[..., permutation] * signs`` over the last dimension."""

    permutation: torch.Tensor  # long (W,)
    signs: torch.Tensor  # float (W,)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., self.permutation] * self.signs

    @staticmethod
    def concat(parts: list[SignedPermutation]) -> SignedPermutation:
        offsets = np.cumsum([0] + [len(p.permutation) for p in parts[:-1]])
        permutation = torch.cat([p.permutation + int(offset) for p, offset in zip(parts, offsets)])
        return SignedPermutation(permutation, torch.cat([p.signs for p in parts]))


def _signed(permutation, signs, device) -> SignedPermutation:
    return SignedPermutation(torch.as_tensor(np.asarray(permutation), dtype=torch.long, device=device),
                             torch.as_tensor(np.asarray(signs, dtype=np.float32), device=device))


def _partners(points: np.ndarray, names: list, what: str, axes: np.ndarray | None = None) -> np.ndarray:
    """Index of each point's mirror image (x, -y, z) among the points; with ``axes``, of the point
    there whose axis is the mirror image of its own (joints sharing an anchor, a hip's three, differ
    by their axes). ValueError naming those without one."""
    mirrored = points * np.array([1.0, -1.0, 1.0])[: points.shape[1]]
    distance = np.linalg.norm(mirrored[:, None, :] - points[None, :, :], axis=2)
    if axes is not None:
        reflected = axes * np.array([-1.0, 1.0, -1.0])  # a rotation axis is a pseudovector
        distance = distance + (1.0 - np.abs(reflected @ axes.T))  # an axis at right angles costs 1
    partner = distance.argmin(axis=1)
    lonely = [names[i] for i in range(len(points)) if distance[i, partner[i]] > MATCH_TOLERANCE or partner[partner[i]] != i]
    if lonely:
        raise ValueError(f"symmetry: the robot is not left-right symmetric: {what} {lonely} have no mirror image "
                         f"within {MATCH_TOLERANCE} m in the standing pose")
    return partner


def joint_mirror(model: mujoco.MjModel, robot) -> tuple[np.ndarray, np.ndarray]:
    """(partner (J,), sign (J,)) of the robot's joints: in the mirror image, joint j's angle is
    ``sign[j]`` x its partner's. Both are symmetric (sign[partner[j]] == sign[j]), so a joint vector's
    mirror is ``x[partner] * sign``."""
    data = mujoco.MjData(model)
    feet_on_floor(model, data, robot, robot.base_init_height)  # upright at the origin: world axes are the base's
    ids = [model.joint(name).id for name in robot.joint_names]
    anchors = data.xanchor[ids] - data.qpos[:3]
    axes = data.xaxis[ids]
    partner = _partners(anchors, list(robot.joint_names), "joints", axes)
    alignment = np.sum(axes[partner] * axes * np.array([-1.0, 1.0, -1.0]), axis=1)
    return partner, np.sign(alignment)


class Symmetry:
    """The mirror of an env's observation groups (``observation(group_name)``) and actions (``actions``),
    as signed permutations on the env's device."""

    def __init__(self, env: LeggedVelocityEnv):
        self.env, device = env, env.device
        robot = env.cfg.robot
        joint_partner, joint_sign = joint_mirror(env.mj_model, robot)
        feet = standing_foot_xy(env.mj_model, robot)
        foot_partner = _partners(feet, list(robot.foot_names), "feet")
        # In the mirror each foot does what its partner did: the mirrored clock runs behind by the
        # partner's offset minus the foot's, the same for every foot in a symmetric gait.
        offsets = env.foot_phase_offsets.cpu().numpy()
        shift = (offsets[foot_partner] - offsets) % 1.0
        quarters = shift * 4
        if np.abs((shift - shift[0] + 0.5) % 1.0 - 0.5).max() > 1e-6 or abs(quarters[0] - round(quarters[0])) > 1e-6:
            raise ValueError(f"symmetry: gait {env.cfg.gait!r} is not left-right symmetric: each foot's partner must "
                             "step the same whole number of quarter cycles after it")
        # sin, cos of (phase - quarter / 4): the same, (-cos, sin), (-sin, -cos) or (cos, -sin).
        clock = {0: ([0, 1], [1, 1]), 1: ([1, 0], [-1, 1]), 2: ([0, 1], [-1, -1]), 3: ([1, 0], [1, -1])}[int(round(quarters[0])) % 4]

        nf = len(foot_partner)
        joints = (joint_partner, joint_sign)
        default = np.asarray(robot.default_joint_pos)
        if not np.allclose(default[joint_partner] * joint_sign, default, atol=1e-6):
            raise ValueError(f"symmetry: RobotConfig.default_joint_pos={list(default)} is not its own mirror image "
                             f"(mirrored: {list(default[joint_partner] * joint_sign)}); joint angles about it would not mirror")
        per_foot = np.repeat(foot_partner * 3, 3) + np.tile(np.arange(3), nf)
        scan = np.asarray(env.height_scan_cfg.points())
        scan_partner = _partners(scan, [tuple(p) for p in scan], "height scan points")
        self.rules = {
            "base_lin_vel": ([0, 1, 2], [1, -1, 1]),
            "projected_gravity": ([0, 1, 2], [1, -1, 1]),
            "base_pos": ([0, 1, 2], [1, -1, 1]),
            "base_com_offset": ([0, 1, 2], [1, -1, 1]),
            "push_vel": ([0, 1], [1, -1]),
            "base_ang_vel": ([0, 1, 2], [-1, 1, -1]),
            "base_quat": ([0, 1, 2, 3], [1, -1, 1, -1]),  # (w, x, y, z) of the mirrored rotation
            "command": ([0, 1, 2], [1, -1, -1]),
            "base_height": ([0], [1]),
            "friction": ([0], [1]),
            "added_base_mass": ([0], [1]),
            "motor_strength": ([0], [1]),
            "gait_clock": clock,
            "joint_pos": joints,
            "joint_vel": joints,
            "joint_pos_abs": joints,  # the zero angles are mirror images too (a symmetric standing pose)
            "last_action": joints,
            "foot_pos_base": (per_foot, np.tile([1, -1, 1], nf)),
            "foot_contact": (foot_partner, np.ones(nf)),
            "foot_contact_force": (foot_partner, np.ones(nf)),
            "foot_height": (foot_partner, np.ones(nf)),
            "foot_terrain_height": (foot_partner, np.ones(nf)),
            "feet_air_time": (foot_partner, np.ones(nf)),
            "height_scan": (scan_partner, np.ones(len(scan_partner))),
            "terrain_scan": (scan_partner, np.ones(len(scan_partner))),
        }
        camera = env.cfg.depth_camera
        if camera.enabled and camera.pos[1] == 0.0:  # on the plane of symmetry: its image flips left-right
            pixels = np.arange(camera.height * camera.width).reshape(camera.height, camera.width)
            self.rules["depth_image"] = (pixels[:, ::-1].ravel(), np.ones(pixels.size))
        self.actions = _signed(*joints, device)  # joint position targets about the default pose

    def observation(self, group: str) -> SignedPermutation:
        """The mirror of observation group ``group`` (its terms in order, each history step alike)."""
        compiled = self.env.obs_groups[group]
        missing = [name for name in compiled.term_names if name not in self.rules]
        if missing:
            raise ValueError(f"symmetry: observation group {group!r} has terms {missing} without a mirror rule; "
                             f"terms that have one: {sorted(self.rules)}")
        step = SignedPermutation.concat([_signed(*self.rules[name], self.env.device) for name in compiled.term_names])
        return SignedPermutation.concat([step] * compiled.history_length)
