"""Robot descriptions: which MJCF, which names mean what, and how the joints are driven.

The loader is three modules: this one (the config, feet, sensors and the floor), `robot_actuators`
(gains, torque limits, position servos) and `robot_pose` (the standing pose and its check). A task names a `RobotConfig`; `build_model` turns it into the compiled MuJoCo model every backend
simulates. The MJCF may be bare (bodies, joints, geoms) or a complete robot file as it comes from a
vendor or MuJoCo Menagerie. What the env needs and the file lacks is added here:

- position actuators (PD inside MuJoCo) for `joint_names`;
- an IMU site on the base body, and gyro / velocimeter / up-vector sensors on it;
- a site and a touch sensor (normal contact force) at every foot;
- a floor plane, or, given a built terrain (`envs/terrain/`), its heightfield in the plane's place.

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
- Feet: a foot name is a geom or a site. A geom foot is that geom. For a site foot the foot geoms
  are the sole: the colliding geoms (contype or conaffinity non-zero) of the site's body whose
  lowest points, with the joints at zero, lie within 1 cm of the lowest one's (a humanoid's sole is
  often several geoms: Menagerie's G1 has four spheres, H1 three capsules; a shin capsule ending
  above a quadruped's foot sphere is not part of it); if that body has none, its parent's, and so
  on up to (not including) the base. With feet-only contacts (the default) the
  foot geoms are the robot's only colliding geoms. A foot of one sphere is watched by a sphere around
  its site; any other sole by a box around all its geoms.
- `locked_joints`: joints of the file removed before anything else, their bodies welded to their
  parents at the joint's zero angle, with the actuators and keyframe entries that belonged to them
  (unitree_rl_gym trains its G1 with waist and arms locked like this).

Finally, unless `check_standing` is False, one robot is simulated for a second holding the default
pose; if its base sinks more than 15% below the standing height, a warning says the gains are too weak.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import mujoco
import numpy as np

from legged_train.envs.robot_actuators import check_actuators, resolve_gains, set_position_servo
from legged_train.envs.robot_pose import check_standing, resolve_standing_pose
from legged_train.envs.robots.go1 import constants as go1

# Sensor names the env reads; the loader adds the sensors under these names when a file lacks them.
GYRO, VELOCIMETER, UP = "imu_gyro", "imu_vel", "imu_up"
# Whole-body sensors, added on request (build_model's whole_body_sensors): the robot's angular momentum
# about its centre of mass (world frame), and how many contacts its bodies make with each other.
ANGULAR_MOMENTUM, SELF_CONTACTS = "robot_angular_momentum", "robot_self_contacts"


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
    # Joints of the file to weld at their zero angle (removed with their actuators): see the module docstring.
    locked_joints: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Also run by apply_overrides after it sets a field, so a run's config.yaml passes here too.
        self.mjcf_path = moved_asset_path(self.mjcf_path)

    @classmethod
    def from_constants(cls, robot) -> RobotConfig:
        """The config of a shipped robot from its ``envs/robots/<robot>/constants.py`` module: every
        value the module names, taken from it rather than from the file or the Go1 defaults."""
        return cls(
            mjcf_path=robot.MJCF_PATH,
            base_body=robot.BASE_BODY,
            imu_site=robot.IMU_SITE,
            foot_names=list(robot.FOOT_NAMES),
            foot_radius=robot.FOOT_RADIUS,
            joint_names=list(robot.JOINT_NAMES),
            default_joint_pos=list(robot.STANDING_POSE),
            kp=robot.KP,
            kd=robot.KD,
            effort_limits=list(robot.EFFORT_LIMITS),
            base_init_height=robot.NOMINAL_HEIGHT,
            undesired_contact_sites=list(robot.UNDESIRED_CONTACT_SITES),
            base_contact_site=robot.BASE_CONTACT_SITE,
            locked_joints=list(getattr(robot, "LOCKED_JOINTS", [])),
        )

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
        if not (isinstance(self.locked_joints, (list, tuple)) and all(isinstance(j, str) for j in self.locked_joints)):
            raise ValueError(f"RobotConfig.locked_joints={self.locked_joints!r}: must be a list of joint names (empty: none)")
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


def build_model(robot: RobotConfig, timestep: float, full_body_contacts: bool, terrain=None,
                whole_body_sensors: bool = False, depth_camera: bool = False) -> mujoco.MjModel:
    """Compile the robot into a model ready to simulate: see the module docstring for what is added,
    and for where the gains and the standing pose come from. ``terrain``: a built
    ``legged_train.envs.terrain.Terrain`` to stand on instead of the plane (None: the plane).
    ``whole_body_sensors``: also the ANGULAR_MOMENTUM and SELF_CONTACTS sensors (off: they cost a
    subtree-velocity pass and a contact scan every step, and only some reward terms read them).
    ``depth_camera``: the robot's geoms leave geom group 0, which the depth camera's rays see
    (``envs/sensors/depth_camera.py``), for group 1 (drawn as before)."""
    robot.validate()
    path = robot.mjcf_path
    spec = load_spec(path)
    if robot.locked_joints:
        _lock_joints(spec, robot)
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
    check_actuators(spec, robot)

    # The file as given, compiled once: MuJoCo resolves default classes, fromto, autolimits and
    # keyframes, so the values below are read as the simulator will see them. Element ids are valid
    # only until the spec is next edited, so everything that needs them is gathered here first.
    probe = _compile(spec, path)
    _check_free_base(probe, robot)
    feet = _find_feet(spec, probe, robot)
    other_robot_geoms = _other_robot_geoms(spec, probe, robot, feet)
    kp, kd, limits, ctrlranges = resolve_gains(probe, robot)

    base = spec.body(robot.base_body)
    if robot.imu_site not in _names(spec.sites):
        base.add_site(name=robot.imu_site, pos=[0, 0, 0], size=[0.01, 0, 0], group=4)
    touch_sites = _add_foot_sites(spec, robot, feet)

    if not spec.actuators:
        for joint in robot.joint_names:
            spec.add_actuator(name=joint.removesuffix("_joint"), target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    for i, act in enumerate(spec.actuators):
        set_position_servo(act, kp[i], kd[i], limits[i], ctrlranges[i])
    _add_sensors(spec, robot, touch_sites)
    if whole_body_sensors:
        _add_whole_body_sensors(spec, robot)

    if not any(g.type == mujoco.mjtGeom.mjGEOM_PLANE for g in spec.geoms):
        spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], contype=1, conaffinity=3)
    if depth_camera:
        from legged_train.envs.sensors.config import ROBOT_GEOM_GROUP, WORLD_GEOM_GROUP

        for geom in spec.geoms:
            if geom.parent.name != "world" and geom.group == WORLD_GEOM_GROUP:
                geom.group = ROBOT_GEOM_GROUP
    if not full_body_contacts:
        for geom in other_robot_geoms:
            geom.contype = geom.conaffinity = 0

    model = _finish(_compile(spec, path), robot)
    if terrain is None:
        return model
    # The standing pose and its check above ran on the plane, where the robot stands at the world
    # origin (on a terrain that is a tile's corner); the terrain model then gets the same resolved
    # values. Imported here: only terrain runs need the heightfield module.
    from legged_train.envs.terrain.heightfield import add_heightfield

    add_heightfield(spec, terrain)
    terrain_model = _compile(spec, path)
    terrain_model.body_sameframe[terrain_model.body(robot.base_body).id] = mujoco.mjtSameFrame.mjSAMEFRAME_NONE
    return terrain_model


def _finish(model: mujoco.MjModel, robot: RobotConfig) -> mujoco.MjModel:
    # The env randomizes the base's centre of mass (body_ipos). MuJoCo skips the inertial-frame
    # transform of a body compiled with its inertial frame on its body frame ("sameframe"), which
    # would make that randomization a silent no-op; MuJoCo Warp always applies it.
    model.body_sameframe[model.body(robot.base_body).id] = mujoco.mjtSameFrame.mjSAMEFRAME_NONE
    resolve_standing_pose(model, robot)
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


def _lock_joints(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
    """Remove ``robot.locked_joints`` from the spec (their bodies weld to their parents at the joint's
    zero angle) with the actuators driving them and their entries in every keyframe."""
    joints = {j.name: j for j in spec.joints}
    unknown = [j for j in robot.locked_joints if j not in joints]
    if unknown:
        raise ValueError(f"RobotConfig.locked_joints: {unknown} are not joints of {robot.mjcf_path}; it has {sorted(joints)}")
    driven = [j for j in robot.locked_joints if j in robot.joint_names]
    if driven:
        raise ValueError(f"RobotConfig.locked_joints: {driven} are also in joint_names; a joint is either driven or locked")
    probe = _compile(spec, robot.mjcf_path)
    locked = set(robot.locked_joints)
    one_dof = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    free = [j for j in robot.locked_joints if int(probe.jnt_type[probe.joint(j).id]) not in one_dof]
    if free:
        raise ValueError(f"RobotConfig.locked_joints: {free} are not hinge or slide joints; only those can be locked")
    drop_qpos = [probe.joint(j).qposadr[0] for j in locked]
    drop_qvel = [probe.joint(j).dofadr[0] for j in locked]
    actuators = list(spec.actuators)
    drop_ctrl = [i for i, a in enumerate(actuators) if a.target in locked]
    for key in spec.keys:
        key.qpos = np.delete(np.asarray(key.qpos), drop_qpos) if len(key.qpos) else key.qpos
        key.qvel = np.delete(np.asarray(key.qvel), drop_qvel) if len(key.qvel) else key.qvel
        key.ctrl = np.delete(np.asarray(key.ctrl), drop_ctrl) if len(key.ctrl) else key.ctrl
    for i in reversed(drop_ctrl):
        spec.delete(actuators[i])
    for sensor in list(spec.sensors):
        if sensor.objname in locked:
            spec.delete(sensor)
    for name in robot.locked_joints:
        spec.delete(joints[name])


# ---------------------------------------------------------------------------------------- feet


@dataclass
class _Foot:
    name: str
    geoms: list[mujoco.MjsGeom]  # the colliding foot geoms, on one body
    geom_pos: np.ndarray  # (G, 3) their centres in that body's frame
    geom_extent: np.ndarray  # (G, 3) their half-extents along that body's axes (bounding boxes)
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
            named = sorted({g.name for g in geoms if g.name} | set(sites) - {""})
            raise ValueError(f"RobotConfig.foot_names: {foot!r} is neither a geom nor a site of {robot.mjcf_path}; "
                             f"its named geoms and sites: {named}")
        foot_geoms = [geom] if geom is not None else _sole(geoms, model, data, robot, site)
        ids = [g.id for g in foot_geoms]
        site_pos = model.site_pos[site.id].copy() if site is not None else None
        feet.append(_Foot(foot, foot_geoms, model.geom_pos[ids].copy(), _half_extents(model, ids), site, site_pos))
    return feet


def _half_extents(model: mujoco.MjModel, ids: list[int]) -> np.ndarray:
    """(G, 3) each geom's half-extent along its body's axes: its axis-aligned bounding box (aabb) turned
    by its orientation in the body."""
    extents = []
    for g in ids:
        rotation = np.zeros(9)
        mujoco.mju_quat2Mat(rotation, model.geom_quat[g])
        extents.append(np.abs(rotation.reshape(3, 3)) @ model.geom_aabb[g, 3:])
    return np.asarray(extents)


SOLE_BAND = 0.01  # m: geoms of a foot body whose lowest points lie this close to the lowest one's form the sole


def _sole(geoms: list, model: mujoco.MjModel, data: mujoco.MjData, robot: RobotConfig, site) -> list[mujoco.MjsGeom]:
    """The sole of a site foot: the colliding geoms of the site's body whose lowest points (in ``data``'s
    pose) lie within SOLE_BAND of the lowest; if the body has none, its parent's, and so on up to (not
    including) the base."""
    base_id = model.body(robot.base_body).id
    site_body = body = int(model.site_bodyid[site.id])
    while body not in (0, base_id):
        colliding = [g for g in range(model.ngeom)
                     if model.geom_bodyid[g] == body and (model.geom_contype[g] or model.geom_conaffinity[g])]
        if colliding:
            # The lowest point of each geom's bounding box (its aabb turned into the world).
            centre = data.geom_xpos[colliding] + np.einsum("gij,gj->gi", data.geom_xmat[colliding].reshape(-1, 3, 3),
                                                           model.geom_aabb[colliding, :3])
            reach = np.einsum("gj,gj->g", np.abs(data.geom_xmat[colliding].reshape(-1, 3, 3)[:, 2, :]), model.geom_aabb[colliding, 3:])
            bottom = centre[:, 2] - reach
            sole = {g for g, z in zip(colliding, bottom) if z <= bottom.min() + SOLE_BAND}
            return [g for g in geoms if g.id in sole]
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
    foot_ids = {geom.id for foot in feet for geom in foot.geoms}
    return [g for g in spec.geoms if model.body_rootid[model.geom_bodyid[g.id]] == root and g.id not in foot_ids]


def _add_foot_sites(spec: mujoco.MjSpec, robot: RobotConfig, feet: list[_Foot]) -> dict[str, str]:
    """A site per foot (its position is the foot position the env reads) and the site whose volume
    the foot's touch sensor watches. Returns foot -> touch site."""
    # The touch sensor counts contacts whose point lies inside its site: the zone must enclose the
    # bottom of the foot, so it is a little larger than the foot.
    zone = robot.foot_radius + 0.005
    touch_sites = {}
    for foot in feet:
        body = foot.geoms[0].parent
        if len(foot.geoms) > 1 or foot.geoms[0].type != mujoco.mjtGeom.mjGEOM_SPHERE:
            # A sole of several geoms, or of a box or capsule: a box around all of it, a little larger.
            low = (foot.geom_pos - foot.geom_extent).min(axis=0) - 0.005
            high = (foot.geom_pos + foot.geom_extent).max(axis=0) + 0.005
            touch_sites[foot.name] = f"{foot.name}_touch_zone"
            body.add_site(name=touch_sites[foot.name], type=mujoco.mjtGeom.mjGEOM_BOX, pos=(low + high) / 2,
                          size=(high - low) / 2, group=4)
            if foot.site is None:  # the foot's position: the middle of the sole, at its geoms' centre height
                body.add_site(name=foot.name, pos=foot.geom_pos.mean(axis=0), size=[0.01, 0, 0], group=4)
        elif foot.site is None:
            body.add_site(name=foot.name, pos=foot.geom_pos[0], size=[zone, 0, 0], group=4)
            touch_sites[foot.name] = foot.name
        elif foot.site.type == mujoco.mjtGeom.mjGEOM_SPHERE and foot.site.size[0] >= robot.foot_radius:
            touch_sites[foot.name] = foot.name
        else:  # a marker site, too small to see the contact: a zone around it watches instead
            touch_sites[foot.name] = f"{foot.name}_touch_zone"
            foot.site.parent.add_site(name=touch_sites[foot.name], pos=foot.site_pos, size=[zone, 0, 0], group=4)
    return touch_sites


def _add_whole_body_sensors(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
    kind, subtree = mujoco.mjtSensor, mujoco.mjtObj.mjOBJ_XBODY
    spec.add_sensor(name=ANGULAR_MOMENTUM, type=kind.mjSENS_SUBTREEANGMOM, objtype=mujoco.mjtObj.mjOBJ_BODY, objname=robot.base_body)
    # Contacts with both geoms on the robot's tree ("found": their number). Parent and child bodies
    # never collide in MuJoCo, so these are real self-collisions: a foot on the other foot, knee on knee.
    spec.add_sensor(name=SELF_CONTACTS, type=kind.mjSENS_CONTACT, objtype=subtree, objname=robot.base_body,
                    reftype=subtree, refname=robot.base_body, intprm=[1, 0, 1])


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
