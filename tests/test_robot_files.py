"""Robot files as they come: site feet, the file's own actuators, armature, damping and keyframe,
motor actuators, a robot too weak to stand, syntax errors, config errors, and a video frame of a
robot whose base is not called trunk. The MJCF variants are in tests/assets/minidog_*.xml."""

from __future__ import annotations

import contextlib
import os
import re
import warnings

import mujoco
import numpy as np
import pytest
import torch

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.robot import RobotConfig, build_model, check_standing
from legged_train.envs.robots.go1 import constants as go1

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
STAND = [0.0, 0.8, -1.6] * 4


def robot_file(name: str, **fields) -> RobotConfig:
    """A RobotConfig for tests/assets/<name>.xml that leaves gains and pose to the file unless given."""
    fields.setdefault("base_body", "torso")
    return RobotConfig(
        mjcf_path=os.path.join(ASSETS, f"{name}.xml"), foot_radius=0.018, undesired_contact_sites=[], base_contact_site=None, **fields
    )


def make_env(robot: RobotConfig, num_envs: int = 2) -> LeggedVelocityEnv:
    cfg = LeggedEnvConfig(num_envs=num_envs, robot=robot)
    cfg.sim.num_threads = 1
    cfg.domain_rand.enabled = False
    cfg.noise.enabled = False
    return LeggedVelocityEnv(cfg)


def settle(env: LeggedVelocityEnv, steps: int = 50) -> None:
    for _ in range(steps):
        env.step(torch.zeros(env.num_envs, env.num_actions))


@contextlib.contextmanager
def no_warnings():
    """Any warning inside fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def colliding_geoms(model: mujoco.MjModel) -> list[int]:
    return [g for g in range(model.ngeom) if model.geom_contype[g] or model.geom_conaffinity[g]]


# ------------------------------------------------------------------------------------- site feet


def test_site_feet_find_their_geoms_and_stand_on_them():
    # minidog_legs: feet are sites; each calf has a colliding capsule, an unnamed colliding foot
    # sphere and a visual-only sphere at the foot. The foot geom is the colliding geom nearest the site.
    robot = robot_file("minidog_legs", kp=15.0, kd=0.3, effort_limits=10.0, default_joint_pos=STAND)
    with no_warnings():
        env = make_env(robot)
    model = env.mj_model
    for foot in robot.foot_names:
        site = model.site(foot)
        feet_here = [g for g in colliding_geoms(model) if model.geom_bodyid[g] == site.bodyid[0]]
        assert len(feet_here) == 1  # the calf capsule was turned off, the visual sphere never collided
        geom = feet_here[0]
        assert model.geom_type[geom] == mujoco.mjtGeom.mjGEOM_SPHERE and model.geom_size[geom, 0] == pytest.approx(0.018)
        assert model.geom_group[geom] == 0  # not the visual sphere (group 2)
        # The file's foot site (5 mm) is too small to contain the contact: a touch zone was added.
        assert model.site(f"{foot}_touch_zone").size[0] == pytest.approx(0.018 + 0.005)
    # Feet-only contacts: the robot's colliding geoms are exactly the four feet, plus the added floor.
    assert len(colliding_geoms(model)) == 4 + 1
    settle(env)
    assert torch.all(env.foot_force > 1.0), env.foot_force
    assert torch.all((env.base_pos[:, 2] > 0.15) & (env.base_pos[:, 2] < 0.25))
    assert torch.allclose(env.foot_height, torch.zeros_like(env.foot_height), atol=0.01)


def test_a_site_foot_without_a_colliding_geom_is_a_clear_error(tmp_path):
    # The FR leg's geoms are visual only: nothing between the FR_foot site and the base can touch the floor.
    spec = mujoco.MjSpec.from_file(os.path.join(ASSETS, "minidog_legs.xml"))
    for geom in spec.geoms:
        if geom.parent.name.startswith("FR_"):
            geom.contype = geom.conaffinity = 0
    path = tmp_path / "no_fr_foot.xml"
    path.write_text(spec.to_xml())
    robot = robot_file("minidog_legs", kp=15.0, kd=0.3, effort_limits=10.0, default_joint_pos=STAND)
    robot.mjcf_path = str(path)
    with pytest.raises(ValueError, match=r"site 'FR_foot' of .*no_fr_foot.xml has no colliding geom .* on its body 'FR_calf'"):
        build_model(robot, 0.004, False)
    robot.foot_names = ["FR_paw", "FL_foot", "RR_foot", "RL_foot"]
    with pytest.raises(ValueError, match=r"'FR_paw' is neither a geom nor a site of"):
        build_model(robot, 0.004, False)


# --------------------------------------------------------------------- the file's own actuators


def test_the_files_servos_armature_damping_and_keyframe_are_used():
    robot = robot_file("minidog_servos")  # kp, kd, effort_limits, default_joint_pos, base_init_height: None
    with no_warnings():
        env = make_env(robot)
    model = env.mj_model
    limits = [12.0, 12.0, 15.0] * 4
    assert model.actuator_gainprm[:, 0].tolist() == [20.0] * 12
    assert model.actuator_biasprm[:, 1:3].tolist() == [[-20.0, -0.5]] * 12
    assert model.actuator_forcerange[:, 1].tolist() == limits
    # Armature and damping come from the file, untouched.
    assert model.dof_armature[6:].tolist() == [0.01] * 12 and model.dof_damping[6:].tolist() == [0.1] * 12
    # The "home" keyframe (not the first one, "lying") gives the standing pose.
    home = [0.05, 0.75, -1.5, -0.05, 0.75, -1.5] * 2
    assert robot.default_joint_pos == pytest.approx(home) and robot.base_init_height == pytest.approx(0.23)
    # The resolved values are written back, so the config and the deployment info show what ran.
    assert (robot.kp, robot.kd, robot.effort_limits) == (20.0, 0.5, limits)
    info = env.deployment_info()
    assert info["kp"] == [20.0] * 12 and info["effort_limits"] == limits and info["default_joint_pos"] == pytest.approx(home)
    assert env.default_joint_pos.tolist() == pytest.approx(home)
    settle(env)
    assert torch.all(env.foot_force > 1.0)
    # Rebuilding from the written-back config (as make_eval_env does) agrees with the file: no warning.
    with no_warnings():
        env.make_eval_env(num_envs=1)


def test_config_values_override_the_file_with_a_warning_naming_both():
    robot = robot_file("minidog_servos", kp=25.0, default_joint_pos=STAND, base_init_height=0.25)
    with pytest.warns(UserWarning) as record:
        env = make_env(robot)
    messages = "\n".join(str(w.message) for w in record)
    assert "RobotConfig.kp overrides the file's values (FR_hip, FR_thigh, FR_calf" in messages
    assert "file 20, config 25" in messages
    assert "RobotConfig.default_joint_pos=[0.0, 0.8, -1.6" in messages and "differs from keyframe 'home'" in messages
    assert "RobotConfig.base_init_height=0.25 differs from keyframe 'home' (0.2300)" in messages
    assert env.mj_model.actuator_gainprm[:, 0].tolist() == [25.0] * 12  # the config wins
    assert env.mj_model.actuator_biasprm[:, 2].tolist() == [-0.5] * 12  # kd not set: the file's
    assert env.default_joint_pos.tolist() == pytest.approx(STAND)


def test_motor_actuators_become_position_servos_with_a_warning():
    robot = robot_file("minidog_motors", kp=15.0, kd=0.3, default_joint_pos=STAND)
    with pytest.warns(UserWarning, match=r"minidog_motors.xml: actuators FR_hip \(motor\), .* are not position servos; .* converted "
                      r"to position servos with kp=15.0, kd=0.3 and torque limits \[10.0, 10.0, 8.0"):
        env = make_env(robot)
    model = env.mj_model
    assert (model.actuator_biastype == mujoco.mjtBias.mjBIAS_AFFINE).all()
    assert model.actuator_gainprm[:, 0].tolist() == [15.0] * 12 and model.actuator_biasprm[:, 2].tolist() == [-0.3] * 12
    # Torque limits from the motors' ctrlrange times gear; gear is 1 now: ctrl is the joint angle.
    assert model.actuator_forcerange[:, 1].tolist() == [10.0, 10.0, 8.0] * 4
    assert model.actuator_gear[:, 0].tolist() == [1.0] * 12 and not model.actuator_ctrllimited.any()
    settle(env)
    assert torch.all(env.foot_force > 1.0)


def test_go1_defaults_resolve_to_the_same_gains_and_pose():
    robot = RobotConfig()
    assert robot.kp is None and robot.default_joint_pos is None
    with no_warnings():
        model = build_model(robot, 0.004, False)
    assert (robot.kp, robot.kd, robot.effort_limits) == (35.0, 0.5, go1.EFFORT_LIMITS)
    assert robot.default_joint_pos == go1.STANDING_POSE and robot.base_init_height == 0.29
    assert model.actuator_gainprm[:, 0].tolist() == [35.0] * 12
    assert model.actuator_forcerange[:, 1].tolist() == go1.EFFORT_LIMITS


def test_actuators_in_another_order_say_which_order_to_use():
    robot = robot_file("minidog_servos")
    robot.joint_names = robot.joint_names[3:] + robot.joint_names[:3]
    with pytest.raises(ValueError, match=r"list joint_names in the file's actuator order: \['FR_hip_joint'"):
        build_model(robot, 0.004, False)


# ----------------------------------------------------------------------------- standing check


def test_a_robot_too_weak_to_stand_gets_a_warning():
    robot = robot_file("minidog_weak")  # the file's servos have kp 2 for a 3 kg body
    with pytest.warns(UserWarning, match=r"minidog_weak.xml: the robot cannot hold its default pose: in 1 s the base sank from "
                      r"0.2\d\d m to .* with kp=2.0, kd=0.05, .* Raise kp"):
        model = build_model(robot, 0.004, False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drop = check_standing(model, robot)
    assert drop > 0.15
    with no_warnings():  # it can be turned off
        build_model(robot_file("minidog_weak", check_standing=False), 0.004, False)
        # The same legs with the servos of minidog_servos hold their pose, and so does Go1.
        strong = robot_file("minidog_servos")
        assert check_standing(build_model(strong, 0.004, False), strong) < 0.15
        go1 = RobotConfig()
        assert check_standing(build_model(go1, 0.004, False), go1) < 0.15


# ------------------------------------------------------------------------------------- errors


def test_an_mjcf_syntax_error_names_the_file():
    path = os.path.join(ASSETS, "broken.xml")
    with pytest.raises(ValueError, match=re.escape(path) + r": XML parse error .*MISMATCHED_ELEMENT.*XMLElement name=worldbody") as error:
        build_model(robot_file("broken", base_body="base"), 0.004, False)
    assert "\n" not in str(error.value)  # one line


@pytest.mark.parametrize(
    "field, value",
    [
        ("commands.lin_vel_x", [0.5]),
        ("commands.lin_vel_y", (-0.5, 0.0, 0.5)),
        ("commands.ang_vel_yaw", ["slow", "fast"]),
        ("domain_rand.friction", 0.8),
        ("domain_rand.added_base_mass", [2.0, -1.0]),
        ("domain_rand.motor_strength", []),
    ],
)
def test_a_bad_low_high_pair_names_the_field_and_value(field, value):
    cfg = LeggedEnvConfig()
    section, name = field.split(".")
    setattr(getattr(cfg, section), name, value)
    message = re.escape(f"LeggedEnvConfig.{field}={value!r}: ") + r".*must be a \(low, high\) pair with low <= high"
    with pytest.raises(ValueError, match=message):
        cfg.validate()


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("noise.gyro", -0.1, "must be >= 0"),
        ("rewards.params.track_lin_vel.sigma", 0.0, "must be a finite number > 0"),
        ("terminations.terms.base_too_low.min_height", -0.1, r"must be a finite number >= 0 \(m\)"),
        ("rewards.weights.track_lin_vel", float("inf"), r"must be a finite number \(0 turns the term off\)"),
        ("episode_length_s", "20", "must be > 0"),
        ("sim.num_threads", 1.5, r"must be an int >= 0"),
        ("domain_rand.friction", (-0.1, 1.0), "low must be >= 0"),
        ("rewards.params.joint_pos_limits.soft_limit", 1.2, r"must be a finite number in \(0, 1\]"),
    ],
)
def test_other_bad_values_name_the_field_value_and_what_is_allowed(field, value, allowed):
    cfg = LeggedEnvConfig()
    obj, *path = cfg, *field.split(".")
    for part in path[:-1]:
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    if isinstance(obj, dict):
        obj[path[-1]] = value
    else:
        setattr(obj, path[-1], value)
    with pytest.raises(ValueError, match=re.escape(f"LeggedEnvConfig.{field}={value!r}: ") + allowed):
        cfg.validate()


def test_bad_robot_fields_name_the_field_and_value():
    with pytest.raises(ValueError, match=r"RobotConfig.kp='stiff': must be a number >= 0, or one per joint \(12\), or None"):
        RobotConfig(kp="stiff").validate()
    with pytest.raises(ValueError, match=r"RobotConfig.keyframe='crouch' is not a keyframe of .*minidog_servos.xml; it has \['lying', 'home'\]"):
        build_model(robot_file("minidog_servos", keyframe="crouch"), 0.004, False)


# ------------------------------------------------------------------------------------- video


def test_a_video_frame_tracks_a_base_not_named_trunk():
    from legged_train.envs.render import OffscreenRenderer

    robot = RobotConfig(
        mjcf_path=os.path.join(ASSETS, "minidog.xml"), base_body="base", foot_radius=0.018, kp=15.0, kd=0.3,
        effort_limits=[10.0] * 12, default_joint_pos=STAND, undesired_contact_sites=[], base_contact_site=None,
    )
    env = make_env(robot)
    assert "trunk" not in [env.mj_model.body(i).name for i in range(env.mj_model.nbody)]
    # What play.py --video does.
    renderer = OffscreenRenderer(env.mj_model, width=160, height=120, track_body=env.cfg.robot.base_body)
    try:
        frame = renderer.render(env.qpos_numpy(0))
        assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8 and frame.std() > 5.0  # a scene, not a blank
        # The chase camera follows the base: walked 3 m forward, the robot is framed the same way.
        qpos = env.qpos_numpy(0)
        qpos[0] += 3.0
        moved = renderer.render(qpos)
        assert renderer.camera.lookat[0] == pytest.approx(3.0, abs=0.05)
        assert np.abs(moved.astype(int) - frame.astype(int)).mean() < 2.0
    finally:
        renderer.close()
    with pytest.raises(ValueError, match=r"track_body='trunk' is not a body of the model; it has \['world', 'base'"):
        OffscreenRenderer(env.mj_model, width=160, height=120, track_body="trunk")
