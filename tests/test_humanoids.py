"""Humanoids (issue 22): the G1 robot folder (legs-only with locked joints, and the full body), soles
of several geoms in feet-only contact mode, the standing check with the base held upright, the biped
reward terms, and the g1 tasks."""

from __future__ import annotations

import dataclasses
import math
import warnings

import mujoco
import numpy as np
import pytest
import torch

from legged_train.envs.legged import rewards
from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.robot import RobotConfig, build_model
from legged_train.envs.robot_pose import check_standing
from legged_train.envs.robots.g1 import constants as g1
from legged_train.evaluation import standard_evaluation
from legged_train.runners.registry import make_runner
from legged_train.tasks import get_task


def colliding(model: mujoco.MjModel) -> list[int]:
    return [g for g in range(model.ngeom) if model.geom_bodyid[g] != 0 and (model.geom_contype[g] or model.geom_conaffinity[g])]


@pytest.mark.parametrize("variant, joints", [(g1, 12), (g1.FULL_BODY, 29)])
def test_g1_loads_with_its_soles_and_holds_its_weight(variant, joints):
    robot = RobotConfig.from_constants(variant)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no standing warning, no gain the file disagrees with
        model = build_model(robot, 0.005, full_body_contacts=False)
    assert model.nu == joints and model.nq == 7 + joints and model.nkey == 1
    # The locked joints are gone with their actuators; the keyframe kept the driven joints' angles.
    assert [model.actuator(i).name for i in range(model.nu)] == robot.joint_names
    key = model.key("stand")
    assert np.allclose(key.qpos[7:], robot.default_joint_pos) and key.qpos[2] == pytest.approx(g1.NOMINAL_HEIGHT)
    # Feet-only contacts: each sole's four spheres, nothing else of the robot.
    per_body = {}
    for g in colliding(model):
        per_body.setdefault(model.body(model.geom_bodyid[g]).name, []).append(g)
    assert sorted(per_body) == ["left_ankle_roll_link", "right_ankle_roll_link"]
    assert all(len(geoms) == 4 for geoms in per_body.values())
    # One box-shaped touch zone per foot encloses all four spheres.
    for foot in robot.foot_names:
        zone = model.site(f"{foot}_touch_zone")
        assert zone.type[0] == mujoco.mjtGeom.mjGEOM_BOX
        spheres = [g for g in colliding(model) if model.geom_bodyid[g] == zone.bodyid[0]]
        inside = np.abs(model.geom_pos[spheres] - zone.pos) + model.geom_size[spheres, :1] <= zone.size + 1e-9
        assert inside.all()
    # The base held upright, the servos carry the 33 kg with the knees bent.
    assert check_standing(model, robot) < 0.02


def test_the_berkeley_humanoid_stands_on_its_box_soles_not_its_ankles():
    from legged_train.envs.robots.berkeley_humanoid import constants as berkeley_humanoid

    robot = RobotConfig.from_constants(berkeley_humanoid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_model(robot, 0.005, full_body_contacts=False)
    # Each foot body holds a box (the sole) and a cylinder (the ankle, 12 mm higher): the sole alone collides.
    assert [model.geom_type[g] for g in colliding(model)] == [mujoco.mjtGeom.mjGEOM_BOX] * 2
    assert all(model.site(f"{foot}_touch_zone").type[0] == mujoco.mjtGeom.mjGEOM_BOX for foot in robot.foot_names)
    assert check_standing(model, robot) < 0.05


def test_a_humanoid_stands_on_its_soles_in_the_env_and_reads_both_feet():
    env = LeggedVelocityEnv(small(get_task("g1_flat").env_cfg, 4))
    env.reset()
    for _ in range(3):
        env.step(torch.zeros(4, env.num_actions))
    assert env.foot_contact.all(), env.foot_force  # both soles touch, seen through their box zones
    assert torch.allclose(env.foot_height, torch.zeros_like(env.foot_height), atol=0.01)
    assert env.foot_is_left.tolist() == [True, False]
    # The alternating gait: the two feet half a cycle apart, on unitree_rl_gym's 0.8 s cycle.
    assert sorted(env.foot_phase_offsets.tolist()) == [0.0, 0.5] and env.cfg.gait_frequency == 1.25


def test_locked_joints_bad_input_is_one_line(tmp_path):
    robot = RobotConfig.from_constants(g1)
    robot.locked_joints = ["left_elbow_joint", "left_thumb_joint"]
    with pytest.raises(ValueError, match=r"^RobotConfig\.locked_joints: \['left_thumb_joint'\] are not joints of .*g1\.xml"):
        build_model(robot, 0.005, False)
    robot.locked_joints = "left_elbow_joint"
    with pytest.raises(ValueError, match=r"^RobotConfig\.locked_joints='left_elbow_joint': must be a list of joint names"):
        build_model(robot, 0.005, False)
    robot.locked_joints = ["left_knee_joint"]
    with pytest.raises(ValueError, match=r"^RobotConfig\.locked_joints: \['left_knee_joint'\] are also in joint_names"):
        build_model(robot, 0.005, False)


def small(cfg: LeggedEnvConfig, num_envs: int) -> LeggedEnvConfig:
    cfg.num_envs, cfg.sim.num_threads = num_envs, 1
    cfg.domain_rand.enabled = False
    cfg.noise.enabled = False
    return cfg


# ------------------------------------------------------------------------------- biped rewards


def test_feet_distance_is_zero_apart_and_grows_as_feet_close_and_cross():
    env = LeggedVelocityEnv(small(get_task("g1_flat").env_cfg, 3))
    env.reset()
    env.step(torch.zeros(3, env.num_actions))
    yaw = torch.tensor([0.0, math.pi / 2, -2.0])
    env.base_yaw = yaw
    left_axis = torch.stack((-torch.sin(yaw), torch.cos(yaw)), dim=1)  # the heading frame's y in the world

    def place(gap):  # left foot gap/2 to the left of the base, right foot gap/2 to its right
        base = env.base_pos[:, :2]
        env.foot_pos[:, 0, :2] = base + 0.5 * gap[:, None] * left_axis
        env.foot_pos[:, 1, :2] = base - 0.5 * gap[:, None] * left_axis
        return rewards.feet_distance(env, min_distance=0.15)

    assert torch.allclose(place(torch.tensor([0.3, 0.2, 0.15])), torch.zeros(3), atol=1e-6)
    assert torch.allclose(place(torch.tensor([0.1, 0.05, -0.1])), torch.tensor([0.05, 0.1, 0.25]), atol=1e-6)


def test_swing_height_stance_and_base_height_terms():
    env = LeggedVelocityEnv(small(get_task("g1_flat").env_cfg, 2))
    env.reset()
    env.step(torch.zeros(2, env.num_actions))
    env.foot_contact = torch.tensor([[True, False], [False, False]])
    env.foot_height = torch.tensor([[0.3, 0.05], [0.08, 0.18]])
    env.is_moving_command = torch.tensor([True, False])
    # Only feet in the air count, and only under a moving command.
    assert torch.allclose(rewards.feet_swing_height(env, target=0.08), torch.tensor([0.03 ** 2, 0.0]))
    assert torch.equal(rewards.feet_down_still(env), torch.tensor([0.0, 2.0]))
    env.base_height = torch.tensor([g1.NOMINAL_HEIGHT, g1.NOMINAL_HEIGHT - 0.1])
    assert torch.allclose(rewards.base_height(env), torch.tensor([0.0, 0.01]), atol=1e-6)
    assert torch.allclose(rewards.base_height(env, target=0.5), torch.square(env.base_height - 0.5))


def test_swing_trajectory_follows_the_gait_clock_and_stays_down_at_a_standing_command():
    env = LeggedVelocityEnv(small(get_task("g1_flat").env_cfg, 2))
    env.reset()
    env.step(torch.zeros(2, env.num_actions))
    assert env.foot_phase_offsets.tolist() == [0.5, 0.0]  # alternating
    env.gait_phase = torch.tensor([0.75, 0.75])  # left foot mid-swing, right foot mid-stance
    env.is_moving_command = torch.tensor([True, False])
    env.foot_height = torch.tensor([[0.08, 0.0], [0.08, 0.0]])
    expected = torch.tensor([1.0, math.exp(-0.08 ** 2 / 0.01)])  # at a standing command both feet belong down
    assert torch.allclose(rewards.feet_swing_trajectory(env, swing_height=0.08, sigma=0.01), expected)
    env.foot_height = torch.tensor([[0.04, 0.02], [0.0, 0.0]])
    expected = torch.tensor([math.exp(-(0.04 ** 2 + 0.02 ** 2) / 0.01), 1.0])
    assert torch.allclose(rewards.feet_swing_trajectory(env, swing_height=0.08, sigma=0.01), expected)


def test_gait_frequency_is_checked():
    cfg = small(get_task("g1_flat").env_cfg, 2)
    cfg.gait_frequency = 0.0
    with pytest.raises(ValueError, match=r"^LeggedEnvConfig\.gait_frequency=0\.0: must be a number > 0 \(Hz\)$"):
        cfg.validate()


# ------------------------------------------------------------------------------------- tasks


@pytest.mark.parametrize("name", ["g1_flat", "g1_full_flat", "berkeley_humanoid_flat"])
def test_humanoid_task_trains_an_iteration_and_runs_the_standard_evaluation(name, tmp_path):
    task = get_task(name)
    env = task.make_env(small(task.env_cfg, 8), "cpu")
    train = dataclasses.replace(task.train_cfg, num_steps_per_env=4, eval_interval=0, save_interval=1000,
                                actor_cfg={"hidden_dims": [32]}, critic_cfg={"hidden_dims": [32]})
    runner = make_runner(env, train, str(tmp_path), "cpu", task.runner_cls)
    runner.learn(num_learning_iterations=1)
    figures = standard_evaluation(env, runner.get_inference_policy(), num_envs=4)
    assert set(figures) == {"velocity_rmsd", "yaw_rate_rmsd", "cost_of_transport", "fall_rate"}
    assert 0.0 <= figures["fall_rate"] <= 1.0 and math.isfinite(figures["velocity_rmsd"])


def test_bring_your_own_humanoid_trains_from_its_file_with_a_config_and_no_code(tmp_path):
    """Issue 22 pt 5: a humanoid MJCF (the Berkeley Humanoid's file) trained through go1_flat with
    command-line settings only: its base, IMU, feet, joints, the two-foot gait and a fall height.
    Gains, effort limits, the standing pose and height come from the file; no warning."""
    from legged_train.checkpoint import load_checkpoint_file
    from legged_train.cli import train
    from legged_train.envs.robots.berkeley_humanoid import constants as berkeley_humanoid

    joints = "[" + ", ".join(berkeley_humanoid.JOINT_NAMES) + "]"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train.main([
            "--task", "go1_flat", "--log-root", str(tmp_path), "--num-envs", "4", "--max-iterations", "1",
            "--set", "train.num_steps_per_env=4", "train.torch_threads=1", "env.sim.num_threads=1",
            f"env.robot.mjcf_path={berkeley_humanoid.MJCF_PATH}", "env.robot.base_body=torso", "env.robot.imu_site=imu",
            "env.robot.foot_names=[LL_FOOT, LR_FOOT]", "env.robot.foot_radius=0.0002", f"env.robot.joint_names={joints}",
            "env.gait=alternating", "env.terminations.terms.base_too_low.min_height=0.25"]) == 0
    (run,) = (tmp_path / "go1_flat").iterdir()
    checkpoint = load_checkpoint_file(run / "model_1.pt")
    assert checkpoint["actor_state_dict"]["obs_normalizer.mean"].shape == (3 + 3 + 3 + 12 + 12 + 12 + 2,)


def test_play_frames_each_robot_by_its_size():
    from legged_train.envs.render import FRAMED_HEIGHT, robot_height

    heights = {}
    for name in ("go1_flat", "spot_flat", "g1_flat", "berkeley_humanoid_flat"):
        task = get_task(name)
        model = build_model(task.env_cfg.robot, 0.005, False)
        heights[name] = robot_height(model, model.body(task.env_cfg.robot.base_body).id)
    # Go1 fits the default framing; the others are filmed from further back, G1 the furthest.
    assert heights["go1_flat"] < FRAMED_HEIGHT < heights["spot_flat"] < heights["g1_flat"]
    assert 1.2 < heights["g1_flat"] < 1.6 and 0.8 < heights["berkeley_humanoid_flat"] < 1.1


def test_angular_momentum_and_self_collision_read_whole_body_sensors_added_only_when_weighted():
    from legged_train.envs.robot import SELF_CONTACTS

    plain = LeggedVelocityEnv(small(get_task("g1_flat").env_cfg, 2))
    assert SELF_CONTACTS not in {plain.mj_model.sensor(i).name for i in range(plain.mj_model.nsensor)}
    cfg = small(get_task("g1_flat").env_cfg, 2)
    cfg.rewards.weights.update(angular_momentum=-0.01, self_collision=-1.0)
    cfg.sim.full_body_contacts = True  # the legs' collision meshes meet when they cross
    env = LeggedVelocityEnv(cfg)
    env.reset()
    qpos, qvel = env.sim.qpos.clone(), torch.zeros_like(env.sim.qvel)
    # Env 0 spins about the vertical at 2 rad/s, standing straight (no self-contact); env 1 stands
    # still with its legs crossed (hip rolls towards each other: the knees meet).
    qvel[0, 5] = 2.0
    hip_roll = [env.mj_model.joint(f"{side}_hip_roll_joint").qposadr[0] for side in ("left", "right")]
    qpos[1, hip_roll[0]], qpos[1, hip_roll[1]] = -0.3, 0.3
    env.sim.set_state(torch.arange(2), qpos, qvel)
    env._update_state()
    spin = env.angular_momentum[0]
    assert spin[2] > 0.5 and spin[:2].abs().max() < 0.2 * spin[2]  # about the vertical axis, counter-clockwise
    assert torch.allclose(env.angular_momentum[1], torch.zeros(3), atol=1e-6)
    assert env.self_contacts[0] == 0 and env.self_contacts[1] > 0
    assert rewards.self_collision(env)[1] == env.self_contacts[1] and rewards.angular_momentum(env)[0] > 0.25
