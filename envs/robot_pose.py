"""A robot's standing pose: the default joint angles and base height (the config's, else a
keyframe's, else Go1's), the feet put on the floor, and the check that the gains can hold the
pose. Part of the loader: see `legged_train.envs.robot`'s docstring."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from legged_train.envs.robots.go1 import constants as go1

if TYPE_CHECKING:
    from legged_train.envs.robot import RobotConfig

STANDING_KEYFRAMES = ("stand", "home")  # looked for in this order, before the file's first keyframe
# The standing check: simulated seconds, and the allowed drop of the base as a fraction of its
# standing height (feet on the floor). Measured with the base held upright (see check_standing): Go1
# at its kp=35 sinks 12% and trains well, at kp=25 18%; Go2 9%, Spot 6%, G1 0.3%.
STANDING_CHECK_S, STANDING_MAX_DROP = 1.0, 0.15
# reset() and the check start the lowest foot this far above the floor: not part of any sinking.
FOOT_CLEARANCE = 0.002


def _pick_keyframe(model: mujoco.MjModel, robot: RobotConfig) -> int | None:
    keys = [model.key(i).name for i in range(model.nkey)]
    if robot.keyframe is not None:
        if robot.keyframe not in keys:
            raise ValueError(f"RobotConfig.keyframe={robot.keyframe!r} is not a keyframe of {robot.mjcf_path}; it has {keys}")
        return keys.index(robot.keyframe)
    for name in STANDING_KEYFRAMES:
        if name in keys:
            return keys.index(name)
    return 0 if keys else None


def resolve_standing_pose(model: mujoco.MjModel, robot: RobotConfig) -> None:
    """default_joint_pos and base_init_height: the config's, else the keyframe's, else the defaults.
    Writes them back into the config's None fields; warns where the config differs from the keyframe."""
    n, path = len(robot.joint_names), robot.mjcf_path
    qposadr = [model.joint(j).qposadr[0] for j in robot.joint_names]
    key = _pick_keyframe(model, robot)
    if key is not None:
        key_name = model.key(key).name or f"#{key}"
        key_pose, key_height = model.key_qpos[key, qposadr], float(model.key_qpos[key, 2])
        if robot.default_joint_pos is None:
            robot.default_joint_pos = [float(x) for x in key_pose]
        elif not np.allclose(robot.default_joint_pos, key_pose):
            warnings.warn(f"{path}: RobotConfig.default_joint_pos={list(robot.default_joint_pos)} differs from keyframe "
                          f"{key_name!r} ({[round(float(x), 4) for x in key_pose]}); using the config's.", stacklevel=3)
        if robot.base_init_height is None:
            robot.base_init_height = key_height
        elif not np.isclose(robot.base_init_height, key_height):
            warnings.warn(f"{path}: RobotConfig.base_init_height={robot.base_init_height} differs from keyframe "
                          f"{key_name!r} ({key_height:.4f}); using the config's.", stacklevel=3)
        return
    if robot.default_joint_pos is None:
        if n != len(go1.STANDING_POSE):
            raise ValueError(f"RobotConfig.default_joint_pos is None and {path} has no keyframe: set default_joint_pos "
                             f"(one angle per joint, {n}) or add a <keyframe> with the standing pose")
        robot.default_joint_pos = list(go1.STANDING_POSE)
    if robot.base_init_height is None:
        robot.base_init_height = _standing_height(model, robot)


def feet_on_floor(model: mujoco.MjModel, data: mujoco.MjData, robot: RobotConfig, height: float) -> None:
    """Set the base upright at `height` in the default pose, then shift it so that the lowest foot
    rests on the floor, as the env's reset does."""
    data.qpos[:3] = [0.0, 0.0, height]
    data.qpos[3:7] = [1.0, 0.0, 0.0, 0.0]
    data.qpos[[model.joint(j).qposadr[0] for j in robot.joint_names]] = robot.default_joint_pos
    mujoco.mj_kinematics(model, data)
    foot_z = min(data.site_xpos[model.site(f).id, 2] for f in robot.foot_names)
    data.qpos[2] -= foot_z - robot.foot_radius - FOOT_CLEARANCE
    mujoco.mj_kinematics(model, data)


def _standing_height(model: mujoco.MjModel, robot: RobotConfig) -> float:
    data = mujoco.MjData(model)
    feet_on_floor(model, data, robot, 1.0)
    return float(data.qpos[2])


def check_standing(model: mujoco.MjModel, robot: RobotConfig) -> float:
    """Simulate one robot holding its default pose for a second; warn if the base sinks more than
    15% below its standing height (gains too weak for the robot's weight). Returns the drop as a
    fraction of the standing height. `robot` is the config as build_model resolved it (no None).

    The base is held upright over its start (a jig: after each step its tilt, heading and horizontal
    motion are undone; it stays free to sink): the check asks whether the servos carry the weight,
    not whether the pose balances. A biped holding a pose open-loop tips over within a second
    whatever its gains (the policy is what balances it)."""
    if robot.default_joint_pos is None or robot.base_init_height is None:
        raise ValueError("check_standing: pass the RobotConfig build_model resolved (default_joint_pos and base_init_height set)")
    data = mujoco.MjData(model)
    feet_on_floor(model, data, robot, robot.base_init_height)
    start = float(data.qpos[2]) - FOOT_CLEARANCE  # standing on the floor
    upright = data.qpos[:7].copy()
    data.ctrl[:] = robot.default_joint_pos  # actuators are in joint order
    for _ in range(round(STANDING_CHECK_S / model.opt.timestep)):
        mujoco.mj_step(model, data)
        data.qpos[[0, 1, 3, 4, 5, 6]] = upright[[0, 1, 3, 4, 5, 6]]
        data.qvel[[0, 1, 3, 4, 5]] = 0.0
    end = float(data.qpos[2])
    drop = (start - end) / start
    if drop > STANDING_MAX_DROP:
        warnings.warn(
            f"{robot.mjcf_path}: the robot cannot hold its default pose: in {STANDING_CHECK_S:g} s the base sank from "
            f"{start:.3f} m to {end:.3f} m ({drop:.0%}, more than {STANDING_MAX_DROP:.0%}) with kp={robot.kp}, kd={robot.kd}, "
            f"effort_limits={robot.effort_limits}. Raise kp (RobotConfig.kp or the file's position actuators), check "
            "effort_limits and default_joint_pos, or set RobotConfig.check_standing=False to skip this check.",
            stacklevel=3,
        )
    return drop
