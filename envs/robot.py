"""Robot descriptions: which MJCF, which names mean what, and how the joints are driven.

A task names a `RobotConfig`; `build_model` turns it into the compiled MuJoCo model every backend
simulates. The MJCF may be bare (bodies, joints, geoms) or a complete robot file as it comes from a
vendor or MuJoCo Menagerie. What the env needs and the file lacks is added here:

- position actuators (PD inside MuJoCo) for `joint_names`;
- an IMU site on the base body, and gyro / velocimeter / up-vector sensors on it;
- a site and a touch sensor (normal contact force) at every foot;
- a floor plane.

Where each value comes from. A `RobotConfig` field left at None is taken from the file, else from
a Go1-like default; a field the config sets wins over the file, with a warning when the two differ.
`build_model` writes what it used back into the None fields, so `env.cfg.robot`, a run's
config.yaml and the exported deployment info show the values that ran.

- `kp`, `kd` (per joint, N m/rad and N m s/rad): the file's position actuators (gear folded in),
  else 35 and 0.5.
- `effort_limits` (N m): the file's actuator forcerange (times gear), for a motor its ctrlrange times
  gear, else the joint's actuatorfrcrange, else Go1's [23.7, 23.7, 35.55] per leg (12 joints only).
- Actuators: the file's position servos are kept (their ctrlrange and dynamics too) with the
  resolved gains and limits. Any other actuator (motor, velocity, general) is converted to a
  position servo with a warning that says so, because the env drives joints by position targets.
  The actuators must drive exactly `joint_names`, in that order; a file with none gets them added.
- Joint armature, damping and friction loss: always the file's; the loader never changes them.
- `default_joint_pos` and `base_init_height`: the keyframe named by `keyframe`, else one named
  "stand" or "home", else the file's first keyframe; without one, Go1's pose (12 joints only) and
  the height at which the lowest foot touches the floor.
- Feet: a foot name is a geom or a site. A geom foot is that geom. For a site foot the foot geom
  is the colliding geom (contype or conaffinity non-zero) of the site's body whose centre is
  nearest the site; if that body has none, its parent's, and so on up to (not including) the base.
  With feet-only contacts (the default) the foot geoms are the robot's only colliding geoms.

Finally, unless `check_standing` is False, one robot is simulated for a second holding the default
pose; if its base sinks more than 15% below the standing height, a warning says the gains are too weak.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import mujoco
import numpy as np

from legged_train.envs.robots.go1 import constants as go1

# Sensor names the env reads; the loader adds the sensors under these names when a file lacks them.
GYRO, VELOCIMETER, UP = "imu_gyro", "imu_vel", "imu_up"

# Go1's values (envs/robots/go1/constants.py) are the defaults for what neither the config nor the file gives.
DEFAULT_KP, DEFAULT_KD = go1.KP, go1.KD
STANDING_KEYFRAMES = ("stand", "home")  # looked for in this order, before the file's first keyframe

# The standing check: simulated seconds, and the allowed drop of the base as a fraction of its
# standing height (feet on the floor). Measured: Go1 at its kp=35 sinks 14.7% and trains well; robots
# with gains too weak sink more (Go1 at kp=25: 38%, minidog at kp=10: 29%).
STANDING_CHECK_S, STANDING_MAX_DROP = 1.0, 0.15
# reset() and the check start the lowest foot this far above the floor: not part of any sinking.
FOOT_CLEARANCE = 0.002


def foot_touch_sensor(foot: str) -> str:
    return f"{foot}_touch"


@dataclass
class RobotConfig:
    """What the env must know about a robot. Lists follow `joint_names` order.

    Fields left None come from the MJCF, else a Go1-like default: see the module docstring."""

    mjcf_path: str = go1.MJCF_PATH
    base_body: str = go1.BASE_BODY
    imu_site: str = go1.IMU_SITE
    # The feet: geoms or sites (a site is added at a geom foot's centre when missing).
    foot_names: list[str] = field(default_factory=lambda: list(go1.FOOT_NAMES))
    foot_radius: float = go1.FOOT_RADIUS
    joint_names: list[str] = field(default_factory=lambda: list(go1.JOINT_NAMES))
    default_joint_pos: list[float] | None = None  # rad; None: the file's keyframe
    kp: float | list[float] | None = None  # N m/rad; None: the file's position actuators
    kd: float | list[float] | None = None  # N m s/rad
    effort_limits: float | list[float] | None = None  # N m, symmetric
    # rad per unit action. With PPO's initial action std of 1 this explores +-0.25 rad, and keeps
    # rsl_rl's desired_kl=0.01 calibrated (at 0.5 the adaptive learning rate collapsed to ~1e-5).
    action_scale: float = 0.25
    # Height of the base above the floor when standing in the default pose; None: from the keyframe.
    base_init_height: float | None = None
    # The keyframe holding the standing pose; None: "stand", "home", else the file's first.
    keyframe: str | None = None
    # Sites whose touch sensors count as "undesired contacts" (knees, thighs) when full-body contacts are on.
    undesired_contact_sites: list[str] = field(default_factory=lambda: list(go1.UNDESIRED_CONTACT_SITES))
    # A touch site around the base: contact there is a fall.
    base_contact_site: str | None = go1.BASE_CONTACT_SITE
    # Simulate one robot holding the default pose at build time and warn if it sinks (~10 ms).
    check_standing: bool = True

    def __post_init__(self) -> None:
        # Also run by apply_overrides after it sets a field, so a run's config.yaml passes here too.
        self.mjcf_path = moved_asset_path(self.mjcf_path)

    def validate(self) -> None:
        def is_number(x) -> bool:
            return isinstance(x, (int, float, np.number)) and not isinstance(x, bool) and bool(np.isfinite(x))

        if not (isinstance(self.joint_names, (list, tuple)) and self.joint_names and all(isinstance(j, str) for j in self.joint_names)):
            raise ValueError(f"RobotConfig.joint_names={self.joint_names!r}: must be a non-empty list of joint names")
        if not (isinstance(self.foot_names, (list, tuple)) and self.foot_names and all(isinstance(f, str) for f in self.foot_names)):
            raise ValueError(f"RobotConfig.foot_names={self.foot_names!r}: must be a non-empty list of geom or site names")
        n = len(self.joint_names)
        for name, allowed in (("default_joint_pos", "a list of numbers"), ("kp", "a number >= 0"), ("kd", "a number >= 0"),
                              ("effort_limits", "a number > 0")):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                if len(value) != n:
                    raise ValueError(f"RobotConfig.{name} has {len(value)} entries; it needs one per joint in joint_names ({n}): got {value!r}")
                items = list(value)
            elif name == "default_joint_pos":
                raise ValueError(f"RobotConfig.default_joint_pos={value!r}: must be a list with one angle per joint ({n}), or None")
            else:
                items = [value]
            if not all(is_number(x) for x in items):
                raise ValueError(f"RobotConfig.{name}={value!r}: must be {allowed}, or one per joint ({n}), or None")
            if name in ("kp", "kd") and min(items) < 0:
                raise ValueError(f"RobotConfig.{name}={value!r}: gains must be >= 0")
            if name == "effort_limits" and min(items) <= 0:
                raise ValueError(f"RobotConfig.effort_limits={value!r}: limits must be > 0")
        for name in ("action_scale", "foot_radius"):
            value = getattr(self, name)
            if not (is_number(value) and value > 0):
                raise ValueError(f"RobotConfig.{name}={value!r}: must be a number > 0")
        if self.base_init_height is not None and not (is_number(self.base_init_height) and self.base_init_height > 0):
            raise ValueError(f"RobotConfig.base_init_height={self.base_init_height!r}: must be a number > 0 (m), or None")
        if not os.path.isfile(self.mjcf_path):
            raise FileNotFoundError(f"RobotConfig.mjcf_path={self.mjcf_path!r}: no such file")


ROBOTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "robots")


def moved_asset_path(path: str) -> str:
    """Compatibility: until robots had their own folders, the shipped MJCF files were
    ``envs/assets/<robot>.xml``, and runs recorded that path in their config.yaml (``env.robot.mjcf_path``).
    Such a path, when the file is gone, means the robot's file in ``envs/robots/<robot>/``; any other
    path is returned as it is."""
    if not isinstance(path, str) or os.path.isfile(path):
        return path
    folder, name = os.path.split(os.path.normpath(path))
    if os.path.basename(folder) != "assets" or os.path.basename(os.path.dirname(folder)) != "envs":
        return path
    moved = os.path.join(ROBOTS_DIR, os.path.splitext(name)[0], name)
    return moved if os.path.isfile(moved) else path


def _per_joint(value: float | list[float], n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def _as_config_value(values: np.ndarray) -> float | list[float]:
    """A number when every joint has the same value (readable in config.yaml), else a list."""
    return float(values[0]) if np.all(values == values[0]) else [float(v) for v in values]


def _names(items) -> set[str]:
    return {item.name for item in items}


def load_spec(path: str) -> mujoco.MjSpec:
    """Parse an MJCF file; a syntax error names the file (MuJoCo's own message does not)."""
    try:
        return mujoco.MjSpec.from_file(path)
    except ValueError as err:
        raise ValueError(f"{path}: {' '.join(str(err).split())}") from err


def _compile(spec: mujoco.MjSpec, path: str) -> mujoco.MjModel:
    try:
        return spec.compile()
    except ValueError as err:
        raise ValueError(f"{path}: {' '.join(str(err).split())}") from err


def build_model(robot: RobotConfig, timestep: float, full_body_contacts: bool) -> mujoco.MjModel:
    """Compile the robot into a model ready to simulate: see the module docstring for what is added,
    and for where the gains and the standing pose come from."""
    robot.validate()
    path = robot.mjcf_path
    spec = load_spec(path)
    spec.option.timestep = timestep
    # implicitfast integrates the actuators' damping stably at a 4-5 ms step; pyramidal cones with
    # impratio 1 are the cheap contact model legged RL uses on every simulator.
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_PYRAMIDAL
    spec.option.impratio = 1.0
    spec.visual.global_.bvactive = 0  # bounding-volume drawing, on by default, triples the step cost
    spec.visual.global_.offwidth = max(spec.visual.global_.offwidth, 1280)
    spec.visual.global_.offheight = max(spec.visual.global_.offheight, 720)

    if robot.base_body not in _names(spec.bodies):
        raise ValueError(f"RobotConfig.base_body={robot.base_body!r} is not a body of {path}; it has {sorted(_names(spec.bodies) - {'world'})}")
    joints = _names(spec.joints)
    missing = [j for j in robot.joint_names if j not in joints]
    if missing:
        raise ValueError(f"RobotConfig.joint_names: {missing} are not joints of {path}; it has {sorted(joints)}")
    _check_actuators(spec, robot)

    # The file as given, compiled once: MuJoCo resolves default classes, fromto, autolimits and
    # keyframes, so the values below are read as the simulator will see them. Element ids are valid
    # only until the spec is next edited, so everything that needs them is gathered here first.
    probe = _compile(spec, path)
    _check_free_base(probe, robot)
    feet = _find_feet(spec, probe, robot)
    other_robot_geoms = _other_robot_geoms(spec, probe, robot, feet)
    kp, kd, limits, ctrlranges = _resolve_gains(probe, robot)

    base = spec.body(robot.base_body)
    if robot.imu_site not in _names(spec.sites):
        base.add_site(name=robot.imu_site, pos=[0, 0, 0], size=[0.01, 0, 0], group=4)
    touch_sites = _add_foot_sites(spec, robot, feet)

    if not spec.actuators:
        for joint in robot.joint_names:
            spec.add_actuator(name=joint.removesuffix("_joint"), target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    for i, act in enumerate(spec.actuators):
        _set_position_servo(act, kp[i], kd[i], limits[i], ctrlranges[i])
    _add_sensors(spec, robot, touch_sites)

    if not any(g.type == mujoco.mjtGeom.mjGEOM_PLANE for g in spec.geoms):
        spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], contype=1, conaffinity=3)
    if not full_body_contacts:
        for geom in other_robot_geoms:
            geom.contype = geom.conaffinity = 0

    model = _compile(spec, path)
    # The env randomizes the base's centre of mass (body_ipos). MuJoCo skips the inertial-frame
    # transform of a body compiled with its inertial frame on its body frame ("sameframe"), which
    # would make that randomization a silent no-op; MuJoCo Warp always applies it.
    model.body_sameframe[model.body(robot.base_body).id] = mujoco.mjtSameFrame.mjSAMEFRAME_NONE
    _resolve_standing_pose(model, robot)
    if robot.check_standing:
        check_standing(model, robot)
    return model


# ----------------------------------------------------------------------------------- the base


def _check_free_base(model: mujoco.MjModel, robot: RobotConfig) -> None:
    """The env reads the base pose from qpos[0:7]: the base must float on the file's first joint."""
    body = model.body(robot.base_body)
    first = model.body_jntadr[body.id]
    if first < 0 or int(model.jnt_type[first]) != mujoco.mjtJoint.mjJNT_FREE or model.jnt_qposadr[first] != 0:
        raise ValueError(
            f"RobotConfig.base_body={robot.base_body!r} in {robot.mjcf_path}: the base must float on a free joint "
            "(<freejoint/> in the base body) that is the first joint of the file"
        )


# ---------------------------------------------------------------------------------------- feet


@dataclass
class _Foot:
    name: str
    geom: mujoco.MjsGeom  # the colliding foot geom
    geom_pos: np.ndarray  # its centre in its body's frame
    site: mujoco.MjsSite | None  # the file's site of the foot's name, if any
    site_pos: np.ndarray | None  # its position in its body's frame


def _find_feet(spec: mujoco.MjSpec, model: mujoco.MjModel, robot: RobotConfig) -> list[_Foot]:
    """Each foot's geom and site, with positions read from the compiled probe (ids are valid only now)."""
    geoms, sites = list(spec.geoms), {s.name: s for s in spec.sites}
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)  # world positions at qpos0, to find the geom nearest a site
    feet = []
    for foot in robot.foot_names:
        site = sites.get(foot)
        geom = next((g for g in geoms if g.name == foot), None)
        if geom is None and site is None:
            raise ValueError(f"RobotConfig.foot_names: {foot!r} is neither a geom nor a site of {robot.mjcf_path}")
        if geom is None:
            geom = _geom_near_site(geoms, model, data, robot, site)
        site_pos = model.site_pos[site.id].copy() if site is not None else None
        feet.append(_Foot(foot, geom, model.geom_pos[geom.id].copy(), site, site_pos))
    return feet


def _geom_near_site(geoms: list, model: mujoco.MjModel, data: mujoco.MjData, robot: RobotConfig, site) -> mujoco.MjsGeom:
    """The colliding geom of the site's body whose centre is nearest the site; if the body has none,
    its parent's, and so on up to (not including) the base."""
    base_id = model.body(robot.base_body).id
    site_body = body = int(model.site_bodyid[site.id])
    while body not in (0, base_id):
        candidates = [
            g for g in range(model.ngeom)
            if model.geom_bodyid[g] == body and (model.geom_contype[g] or model.geom_conaffinity[g])
        ]
        if candidates:
            nearest = min(candidates, key=lambda g: np.linalg.norm(data.geom_xpos[g] - data.site_xpos[site.id]))
            return next(g for g in geoms if g.id == nearest)
        body = int(model.body_parentid[body])
    raise ValueError(
        f"RobotConfig.foot_names: site {site.name!r} of {robot.mjcf_path} has no colliding geom (contype or "
        f"conaffinity non-zero) on its body {model.body(site_body).name!r} or the bodies between it and the base: "
        "give the foot a collision geom, or name the foot geom in foot_names"
    )


def _other_robot_geoms(spec: mujoco.MjSpec, model: mujoco.MjModel, robot: RobotConfig, feet: list[_Foot]) -> list[mujoco.MjsGeom]:
    """The robot's geoms (on the base's tree) other than the feet: those feet-only contacts turn off.
    The world's geoms (a terrain, obstacles in the file) keep colliding."""
    root = model.body_rootid[model.body(robot.base_body).id]
    foot_ids = {foot.geom.id for foot in feet}
    return [g for g in spec.geoms if model.body_rootid[model.geom_bodyid[g.id]] == root and g.id not in foot_ids]


def _add_foot_sites(spec: mujoco.MjSpec, robot: RobotConfig, feet: list[_Foot]) -> dict[str, str]:
    """A site per foot (its position is the foot position the env reads) and the site whose volume
    the foot's touch sensor watches. Returns foot -> touch site."""
    # The touch sensor counts contacts whose point lies inside its site: the zone must enclose the
    # bottom of the foot, so it is a little larger than the foot.
    zone = robot.foot_radius + 0.005
    touch_sites = {}
    for foot in feet:
        if foot.site is None:
            foot.geom.parent.add_site(name=foot.name, pos=foot.geom_pos, size=[zone, 0, 0], group=4)
            touch_sites[foot.name] = foot.name
        elif foot.site.type == mujoco.mjtGeom.mjGEOM_SPHERE and foot.site.size[0] >= robot.foot_radius:
            touch_sites[foot.name] = foot.name
        else:  # a marker site, too small to see the contact: a zone around it watches instead
            touch_sites[foot.name] = f"{foot.name}_touch_zone"
            foot.site.parent.add_site(name=touch_sites[foot.name], pos=foot.site_pos, size=[zone, 0, 0], group=4)
    return touch_sites


def _add_sensors(spec: mujoco.MjSpec, robot: RobotConfig, touch_sites: dict[str, str]) -> None:
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
            spec.add_sensor(name=foot_touch_sensor(foot), type=kind.mjSENS_TOUCH, objtype=site, objname=touch_sites[foot])
    for name in robot.undesired_contact_sites + ([robot.base_contact_site] if robot.base_contact_site else []):
        if name in _names(spec.sites) and name not in present:
            spec.add_sensor(name=name, type=kind.mjSENS_TOUCH, objtype=site, objname=name)


# ----------------------------------------------------------------------------------- actuators


def _check_actuators(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
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


def _resolve_gains(model: mujoco.MjModel, robot: RobotConfig):
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


def _set_position_servo(act: mujoco.MjsActuator, kp: float, kd: float, limit: float, ctrlrange) -> None:
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


# ----------------------------------------------------------------------------- standing pose


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


def _resolve_standing_pose(model: mujoco.MjModel, robot: RobotConfig) -> None:
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


def _feet_on_floor(model: mujoco.MjModel, data: mujoco.MjData, robot: RobotConfig, height: float) -> None:
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
    _feet_on_floor(model, data, robot, 1.0)
    return float(data.qpos[2])


def check_standing(model: mujoco.MjModel, robot: RobotConfig) -> float:
    """Simulate one robot holding its default pose for a second; warn if the base sinks more than
    15% below its standing height (gains too weak for the robot's weight). Returns the drop as a
    fraction of the standing height. `robot` is the config as build_model resolved it (no None)."""
    if robot.default_joint_pos is None or robot.base_init_height is None:
        raise ValueError("check_standing: pass the RobotConfig build_model resolved (default_joint_pos and base_init_height set)")
    data = mujoco.MjData(model)
    _feet_on_floor(model, data, robot, robot.base_init_height)
    start = float(data.qpos[2]) - FOOT_CLEARANCE  # standing on the floor
    data.ctrl[:] = robot.default_joint_pos  # actuators are in joint order
    for _ in range(round(STANDING_CHECK_S / model.opt.timestep)):
        mujoco.mj_step(model, data)
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
