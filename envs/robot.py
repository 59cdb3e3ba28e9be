"""Robot descriptions: which MJCF, which names mean what, and how the joints are driven.

A task names a `RobotConfig`; `build_model` turns it into the compiled MuJoCo model every backend
simulates. The MJCF may be bare (bodies, joints, geoms): what the env needs and the file lacks is
added here, so a user can bring their own robot with nothing but a kinematic tree and a config:

- position actuators (PD inside MuJoCo) for `joint_names`, with `kp`, `kd` and `effort_limits`;
- an IMU site on the base body, and gyro / velocimeter / up-vector sensors on it;
- a site and a touch sensor (normal contact force) at every foot;
- a floor plane.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import mujoco
import numpy as np

ASSET_DIR = os.path.join(os.path.dirname(__file__), "assets")

# Sensor names the env reads; the loader adds the sensors under these names when a file lacks them.
GYRO, VELOCIMETER, UP = "imu_gyro", "imu_vel", "imu_up"


def foot_touch_sensor(foot: str) -> str:
    return f"{foot}_touch"


@dataclass
class RobotConfig:
    """What the env must know about a robot. Lists follow `joint_names` order."""

    mjcf_path: str = os.path.join(ASSET_DIR, "go1.xml")
    base_body: str = "trunk"
    imu_site: str = "imu"
    # Sites at the centres of the feet (added at the foot geoms' centres when missing).
    foot_names: list[str] = field(default_factory=lambda: ["FR_foot", "FL_foot", "RR_foot", "RL_foot"])
    foot_radius: float = 0.023
    joint_names: list[str] = field(
        default_factory=lambda: [f"{leg}_{part}_joint" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf")]
    )
    default_joint_pos: list[float] = field(default_factory=lambda: [-0.1, 0.9, -1.8, 0.1, 0.9, -1.8] * 2)
    kp: float | list[float] = 35.0
    kd: float | list[float] = 0.5
    effort_limits: list[float] = field(default_factory=lambda: [23.7, 23.7, 35.55] * 4)
    # rad per unit action. With PPO's initial action std of 1 this explores +-0.25 rad, and keeps
    # rsl_rl's desired_kl=0.01 calibrated (at 0.5 the adaptive learning rate collapsed to ~1e-5).
    action_scale: float = 0.25
    # Height of the base above the floor when standing in the default pose.
    base_init_height: float = 0.29
    # Sites whose touch sensors count as "undesired contacts" (knees, thighs) when full-body contacts are on.
    undesired_contact_sites: list[str] = field(
        default_factory=lambda: [f"{leg}_{part}_touch" for leg in ("FR", "FL", "RR", "RL") for part in ("thigh", "calf")]
    )
    # A touch site around the base: contact there is a fall.
    base_contact_site: str | None = "trunk_touch"

    def validate(self) -> None:
        n = len(self.joint_names)
        for name in ("default_joint_pos", "effort_limits"):
            value = getattr(self, name)
            if len(value) != n:
                raise ValueError(f"RobotConfig.{name} has {len(value)} entries; it needs one per joint in joint_names ({n})")
        for name in ("kp", "kd"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)) and len(value) != n:
                raise ValueError(f"RobotConfig.{name} has {len(value)} entries; give a number or one per joint ({n})")
            if np.any(np.asarray(value, dtype=float) < 0):
                raise ValueError(f"RobotConfig.{name}={value!r}: gains must be >= 0")
        if self.action_scale <= 0:
            raise ValueError(f"RobotConfig.action_scale={self.action_scale!r}: must be > 0")
        if not os.path.isfile(self.mjcf_path):
            raise FileNotFoundError(f"RobotConfig.mjcf_path={self.mjcf_path!r}: no such file")


def _per_joint(value: float | list[float], n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def _names(items) -> set[str]:
    return {item.name for item in items}


def build_model(robot: RobotConfig, timestep: float, full_body_contacts: bool) -> mujoco.MjModel:
    """Compile the robot into a model ready to simulate: see the module docstring for what is added."""
    robot.validate()
    spec = mujoco.MjSpec.from_file(robot.mjcf_path)
    spec.option.timestep = timestep
    # implicitfast integrates the actuators' damping stably at a 4-5 ms step; pyramidal cones with
    # impratio 1 are the cheap contact model legged RL uses on every simulator.
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_PYRAMIDAL
    spec.option.impratio = 1.0
    spec.visual.global_.bvactive = 0  # bounding-volume drawing, on by default, triples the step cost
    spec.visual.global_.offwidth = max(spec.visual.global_.offwidth, 1280)
    spec.visual.global_.offheight = max(spec.visual.global_.offheight, 720)

    bodies = _names(spec.bodies)
    for name, kind in ((robot.base_body, "base_body"),):
        if name not in bodies:
            raise ValueError(f"RobotConfig.{kind}={name!r} is not a body of {robot.mjcf_path}")
    joints = _names(spec.joints)
    missing = [j for j in robot.joint_names if j not in joints]
    if missing:
        raise ValueError(f"RobotConfig.joint_names: {missing} are not joints of {robot.mjcf_path}; it has {sorted(joints)}")

    base = spec.body(robot.base_body)
    if robot.imu_site not in _names(spec.sites):
        base.add_site(name=robot.imu_site, pos=[0, 0, 0], size=[0.01, 0, 0], group=4)
    _add_foot_sites(spec, robot)

    if not spec.actuators:
        for joint in robot.joint_names:
            spec.add_actuator(name=joint.removesuffix("_joint"), target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    _check_actuators(spec, robot)
    # The config, not the file, is the source of truth for the gains: it is what gets deployed.
    n = len(robot.joint_names)
    kp, kd, limits = _per_joint(robot.kp, n), _per_joint(robot.kd, n), np.asarray(robot.effort_limits, float)
    for i, act in enumerate(spec.actuators):
        act.set_to_position(kp=kp[i], kv=kd[i])
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-limits[i], limits[i]]
    _add_sensors(spec, robot)

    if not any(g.type == mujoco.mjtGeom.mjGEOM_PLANE for g in spec.geoms):
        spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], contype=1, conaffinity=3)
    if not full_body_contacts:
        feet = set(_foot_geom_names(spec, robot))
        for geom in spec.geoms:
            if geom.type != mujoco.mjtGeom.mjGEOM_PLANE and geom.name not in feet:
                geom.contype = geom.conaffinity = 0

    return spec.compile()


def _foot_geom_names(spec: mujoco.MjSpec, robot: RobotConfig) -> list[str]:
    """The foot geoms: those named like the feet."""
    names = _names(spec.geoms)
    found = [f for f in robot.foot_names if f in names]
    if len(found) == len(robot.foot_names):
        return found
    raise ValueError(
        f"RobotConfig.foot_names={robot.foot_names!r}: each foot needs a geom of that name in {robot.mjcf_path} "
        f"(found {found})"
    )


def _add_foot_sites(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
    sites = _names(spec.sites)
    for foot in robot.foot_names:
        if foot in sites:
            continue
        geom = spec.geom(foot)
        if geom is None:
            raise ValueError(f"RobotConfig.foot_names: {foot!r} is neither a site nor a geom of {robot.mjcf_path}")
        # The touch sensor counts contacts inside its site, so the site is a little larger than the foot.
        geom.parent.add_site(name=foot, pos=geom.pos, size=[robot.foot_radius + 0.005, 0, 0], group=4)


def _add_sensors(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
    kind, site = mujoco.mjtSensor, mujoco.mjtObj.mjOBJ_SITE
    present = _names(spec.sensors)
    if GYRO not in present:
        spec.add_sensor(name=GYRO, type=kind.mjSENS_GYRO, objtype=site, objname=robot.imu_site)
    if VELOCIMETER not in present:
        spec.add_sensor(name=VELOCIMETER, type=kind.mjSENS_VELOCIMETER, objtype=site, objname=robot.imu_site)
    if UP not in present:  # the world's z axis seen from the base: minus the projected gravity
        xbody = mujoco.mjtObj.mjOBJ_XBODY
        spec.add_sensor(name=UP, type=kind.mjSENS_FRAMEZAXIS, objtype=xbody, objname="world", reftype=xbody, refname=robot.base_body)
    for foot in robot.foot_names:
        if foot_touch_sensor(foot) not in present:
            spec.add_sensor(name=foot_touch_sensor(foot), type=kind.mjSENS_TOUCH, objtype=site, objname=foot)
    for name in robot.undesired_contact_sites + ([robot.base_contact_site] if robot.base_contact_site else []):
        if name in _names(spec.sites) and name not in present:
            spec.add_sensor(name=name, type=kind.mjSENS_TOUCH, objtype=site, objname=name)


def _check_actuators(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
    """The env writes targets in joint_names order: the actuators must drive exactly those joints."""
    driven = [act.target for act in spec.actuators]
    if driven != list(robot.joint_names):
        raise ValueError(
            f"the actuators of {robot.mjcf_path} drive {driven}; RobotConfig.joint_names lists {robot.joint_names}. "
            "Give one position actuator per joint in joint_names order, or none (the loader then adds them)."
        )
