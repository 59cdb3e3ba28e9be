"""A robot file's joint actuators: which kind each is, the gains and torque limits the file gives,
how they combine with the config's (`RobotConfig.kp`, `kd`, `effort_limits`), and the position
servos the env drives. Part of the loader: see `legged_train.envs.robot`'s docstring."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from legged_train.envs.robots.go1 import constants as go1

if TYPE_CHECKING:
    from legged_train.envs.robot import RobotConfig

# Go1's values (envs/robots/go1/constants.py) are the defaults for what neither the config nor the file gives.
DEFAULT_KP, DEFAULT_KD = go1.KP, go1.KD


def _per_joint(value: float | list[float], n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def _as_config_value(values: np.ndarray) -> float | list[float]:
    """A number when every joint has the same value (readable in config.yaml), else a list."""
    return float(values[0]) if np.all(values == values[0]) else [float(v) for v in values]


def check_actuators(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
    """The env writes targets in joint_names order: the actuators must drive exactly those joints."""
    if not spec.actuators:
        return
    driven = [act.target for act in spec.actuators]
    not_joints = [act.name or f"#{i}" for i, act in enumerate(spec.actuators) if act.trntype != mujoco.mjtTrn.mjTRN_JOINT]
    if not_joints:
        raise ValueError(f"{robot.mjcf_path}: actuators {not_joints} do not drive a joint directly; the env needs one joint actuator per joint")
    if driven == list(robot.joint_names):
        return
    hint = (
        f"list joint_names in the file's actuator order: {driven}" if sorted(driven) == sorted(robot.joint_names)
        else "give one actuator per joint in joint_names order, or none (the loader then adds them)"
    )
    raise ValueError(f"the actuators of {robot.mjcf_path} drive {driven}; RobotConfig.joint_names lists {list(robot.joint_names)}: {hint}")


def _actuator_kind(model: mujoco.MjModel, i: int) -> str:
    """'position' for a position servo (gain kp, bias -kp q - kv qdot), else motor, velocity or general."""
    gain, bias = mujoco.mjtGain(int(model.actuator_gaintype[i])), mujoco.mjtBias(int(model.actuator_biastype[i]))
    dyn = mujoco.mjtDyn(int(model.actuator_dyntype[i]))
    gainprm, biasprm = model.actuator_gainprm[i], model.actuator_biasprm[i]
    if gain != mujoco.mjtGain.mjGAIN_FIXED or dyn not in (mujoco.mjtDyn.mjDYN_NONE, mujoco.mjtDyn.mjDYN_FILTEREXACT):
        return "general"
    if bias == mujoco.mjtBias.mjBIAS_NONE:
        return "motor"
    if bias == mujoco.mjtBias.mjBIAS_AFFINE and biasprm[0] == 0 and gainprm[0] > 0 and not gainprm[1:3].any():
        if np.isclose(-biasprm[1], gainprm[0]):
            return "position"
        if biasprm[1] == 0 and dyn == mujoco.mjtDyn.mjDYN_NONE:
            return "velocity"
    return "general"


def _file_gains(model: mujoco.MjModel, robot: RobotConfig) -> tuple[list, list, list, list, list[str]]:
    """Per joint: the file's kp, kd, torque limit, ctrlrange (None where the file gives none) and
    actuator kind ('none' when the file has no actuators), all in joint units (gear folded in)."""
    n = len(robot.joint_names)
    kp, kd, limit, ctrlrange, kinds = [None] * n, [None] * n, [None] * n, [None] * n, ["none"] * n

    def symmetric(low: float, high: float) -> float:
        return min(-low, high)  # the env's limits are symmetric: keep the tighter side

    for j, name in enumerate(robot.joint_names):
        joint = model.joint(name).id
        if model.jnt_actfrclimited[joint]:
            limit[j] = symmetric(*model.jnt_actfrcrange[joint])
        if model.nu == 0:
            continue
        a, gear = j, model.actuator_gear[j, 0]  # actuators are in joint order (checked)
        kinds[j] = _actuator_kind(model, a)
        if kinds[j] == "position":
            # With gear g the servo's torque is g * (kp (ctrl - g q) - kv g qdot): per joint, kp g^2.
            kp[j], kd[j] = model.actuator_gainprm[a, 0] * gear**2, -model.actuator_biasprm[a, 2] * gear**2
            if model.actuator_ctrllimited[a]:
                ctrlrange[j] = sorted(model.actuator_ctrlrange[a] / gear)
        actuator_limit = None
        if model.actuator_forcelimited[a]:
            actuator_limit = symmetric(*model.actuator_forcerange[a]) * abs(gear)
        elif kinds[j] == "motor" and model.actuator_ctrllimited[a]:  # torque = gain * gear * ctrl
            actuator_limit = symmetric(*model.actuator_ctrlrange[a]) * abs(gear * model.actuator_gainprm[a, 0])
        if actuator_limit is not None:  # MuJoCo applies both the actuator's and the joint's limit
            limit[j] = actuator_limit if limit[j] is None else min(limit[j], actuator_limit)
    return kp, kd, limit, ctrlrange, kinds


def resolve_gains(model: mujoco.MjModel, robot: RobotConfig):
    """kp, kd and torque limits per joint: the config's, else the file's, else the defaults. Writes
    them back into the config's None fields. Warns where the config overrides different file values
    and where non-position actuators are converted."""
    n, path = len(robot.joint_names), robot.mjcf_path
    file_kp, file_kd, file_limit, ctrlranges, kinds = _file_gains(model, robot)
    names = [model.actuator(i).name or robot.joint_names[i] for i in range(n)] if model.nu else list(robot.joint_names)

    def resolve(field_name: str, file_values: list, default) -> np.ndarray:
        config = getattr(robot, field_name)
        if config is not None:
            values = _per_joint(config, n)
            differ: dict[tuple[float, float], list[str]] = {}  # (file, config) -> actuators, for a short message
            for j in range(n):
                if file_values[j] is not None and not np.isclose(file_values[j], values[j]):
                    differ.setdefault((file_values[j], values[j]), []).append(names[j])
            if differ:
                listed = "; ".join(f"{', '.join(who)}: file {f:g}, config {c:g}" for (f, c), who in differ.items())
                warnings.warn(f"{path}: RobotConfig.{field_name} overrides the file's values ({listed}). "
                              f"Set RobotConfig.{field_name}=None to use the file's.", stacklevel=4)
            return values
        if default is None and any(v is None for v in file_values):
            lacking = [robot.joint_names[j] for j in range(n) if file_values[j] is None]
            raise ValueError(f"RobotConfig.{field_name} is None and {path} gives no value for joints {lacking} "
                             f"(no forcerange on their actuators, no actuatorfrcrange on the joints): set RobotConfig.{field_name}")
        defaults = _per_joint(default, n) if default is not None else np.zeros(n)
        return np.array([defaults[j] if file_values[j] is None else file_values[j] for j in range(n)])

    kp = resolve("kp", file_kp, DEFAULT_KP)
    kd = resolve("kd", file_kd, DEFAULT_KD)
    limits = resolve("effort_limits", file_limit, go1.EFFORT_LIMITS if n == len(go1.EFFORT_LIMITS) else None)
    converted = [f"{names[j]} ({kinds[j]})" for j in range(n) if kinds[j] not in ("position", "none")]
    if converted:
        warnings.warn(
            f"{path}: actuators {', '.join(converted)} are not position servos; the env drives joints by position "
            f"targets, so they are converted to position servos with kp={_as_config_value(kp)}, kd={_as_config_value(kd)} "
            f"and torque limits {_as_config_value(limits)} (set RobotConfig.kp/kd/effort_limits to choose).",
            stacklevel=3,
        )
    robot.kp, robot.kd, robot.effort_limits = _as_config_value(kp), _as_config_value(kd), [float(x) for x in limits]
    return kp, kd, limits, ctrlranges


def set_position_servo(act: mujoco.MjsActuator, kp: float, kd: float, limit: float, ctrlrange) -> None:
    """Make an actuator a joint position servo: torque = kp (ctrl - q) - kd qdot, clamped to +-limit.
    Its dynamics (a position servo's timeconst) and the file's armature/damping stay as they are."""
    gainprm, biasprm = np.zeros(len(act.gainprm)), np.zeros(len(act.biasprm))
    gainprm[0], biasprm[1], biasprm[2] = kp, -kp, -kd
    act.gaintype, act.biastype = mujoco.mjtGain.mjGAIN_FIXED, mujoco.mjtBias.mjBIAS_AFFINE
    act.gainprm, act.biasprm = gainprm, biasprm
    if act.dyntype != mujoco.mjtDyn.mjDYN_FILTEREXACT:  # a position servo's low-pass filter is kept
        act.dyntype = mujoco.mjtDyn.mjDYN_NONE
    act.gear = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # gains are per joint: ctrl is the joint angle
    act.inheritrange = 0.0  # a position servo's (resolved) ctrlrange is set below
    act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE if ctrlrange is not None else mujoco.mjtLimited.mjLIMITED_FALSE
    if ctrlrange is not None:
        act.ctrlrange = ctrlrange
    act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    act.forcerange = [-limit, limit]
