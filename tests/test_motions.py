"""Reference motions: the clip format, resampling and velocities, the gait generator's inverse
kinematics, AMP for hardware's JSON files, and the errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from legged_train.envs.robot import RobotConfig
from legged_train.motions.clip import MotionClip, quat_multiply, yaw_quat
from legged_train.motions.generate import GaitSpec, foot_pairs, foot_targets, forward_feet, gait_agreement, generate_gait_clip

JOINTS = [f"{leg}_{part}_joint" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf")]


def analytic_clip(fps: float, duration: float = 2.0) -> MotionClip:
    """Root moving on x = 0.3 t + 0.1 sin(2 t), turning at yaw = 0.5 t; joints q_j = 0.2 sin(3 t + j)."""
    t = np.arange(round(duration * fps) + 1) / fps
    root = np.stack((0.3 * t + 0.1 * np.sin(2 * t), np.zeros_like(t), np.full_like(t, 0.3)), axis=1)
    joints = 0.2 * np.sin(3 * t[:, None] + np.arange(12)[None, :])
    return MotionClip(fps=fps, joint_names=JOINTS, root_pos=root, root_quat=yaw_quat(0.5 * t), joint_pos=joints, name="analytic")


def test_resampling_interpolates_positions_and_orientations():
    clip = analytic_clip(fps=100.0)
    coarse = clip.resampled(0.02)  # 50 Hz
    assert coarse.fps == pytest.approx(50.0) and coarse.num_frames == 101
    t = np.arange(101) * 0.02
    assert np.allclose(coarse.root_pos[:, 0], 0.3 * t + 0.1 * np.sin(2 * t), atol=1e-6)
    assert np.allclose(coarse.root_quat, yaw_quat(0.5 * t), atol=1e-9)
    fine = clip.resampled(0.004)  # 250 Hz: between source frames
    t = np.arange(fine.num_frames) * 0.004
    assert np.allclose(fine.joint_pos, 0.2 * np.sin(3 * t[:, None] + np.arange(12)), atol=1e-4)  # linear interpolation error
    assert np.allclose(fine.root_quat, yaw_quat(0.5 * t), atol=1e-9)  # slerp is exact for a constant rate turn


def test_finite_difference_velocities_match_the_analytic_ones():
    clip = analytic_clip(fps=200.0)
    lin, ang, joint = clip.velocities()
    t = np.arange(clip.num_frames) / 200.0
    inner = slice(1, -1)  # central differences inside; one-sided at the ends
    assert np.allclose(lin[inner, 0], 0.3 + 0.2 * np.cos(2 * t[inner]), atol=1e-4)
    assert np.allclose(joint[inner], 0.6 * np.cos(3 * t[inner, None] + np.arange(12)), atol=1e-3)
    # The base turns about z at 0.5 rad/s: in its own frame too, whatever its heading.
    assert np.allclose(ang, [0.0, 0.0, 0.5], atol=1e-9)
    # A tumbling base: a constant body-frame rate about x after a yaw: the quaternion-aware
    # difference finds the body rate, which a difference of Euler angles would not.
    rate = 1.3
    t = np.arange(201) / 100.0
    half = 0.5 * rate * t
    roll = np.stack((np.cos(half), np.sin(half), 0 * t, 0 * t), axis=1)
    quat = quat_multiply(yaw_quat(np.full_like(t, 2.0)), roll)
    tumbling = MotionClip(fps=100.0, joint_names=JOINTS, root_pos=np.zeros((201, 3)), root_quat=quat, joint_pos=np.zeros((201, 12)))
    assert np.allclose(tumbling.velocities()[1], [rate, 0.0, 0.0], atol=1e-9)


def test_save_and_load_round_trip(tmp_path):
    clip = analytic_clip(fps=50.0)
    clip.meta = {"gait": "test"}
    path = clip.save(str(tmp_path / "clip.npz"))
    loaded = MotionClip.load(path)
    assert loaded.joint_names == JOINTS and loaded.fps == 50.0 and loaded.meta == {"gait": "test"}
    for name in ("root_pos", "root_quat", "joint_pos"):
        assert np.array_equal(getattr(loaded, name), getattr(clip, name))


def test_generated_trot_follows_its_foot_trajectories_within_1mm():
    robot = RobotConfig()
    spec = GaitSpec(gait="trot", speed=0.6, yaw_rate=0.4, duration=1.5)
    clip = generate_gait_clip(robot, spec)
    assert clip.joint_names == list(robot.joint_names)
    fk = forward_feet(robot, clip)
    neutral = fk[0] - clip.root_pos[0]  # not the design's neutral points, only to learn sides
    offsets = np.array(clip.meta["phase_offsets"])
    # Recompute the designed trajectories from the clip's own record of them.
    times = np.arange(clip.num_frames) / clip.fps
    design_neutral = _standing_neutral(robot)
    targets, contact = foot_targets(spec, times, design_neutral, offsets, clip.meta["base_height"], robot.foot_radius)
    assert np.abs(fk - targets).max() < 1e-3
    # Joints within the model's limits.
    from legged_train.envs.robot import build_model

    model = build_model(RobotConfig(check_standing=False), 0.004, False)
    ranges = np.array([model.joint(j).range for j in robot.joint_names])
    assert np.all(clip.joint_pos >= ranges[:, 0] - 1e-9) and np.all(clip.joint_pos <= ranges[:, 1] + 1e-9)
    # A trot: diagonal feet share their contact state, lateral ones do not.
    pairs = foot_pairs(neutral[:, 0] > 0, neutral[:, 1] > 0)
    assert gait_agreement(contact, pairs["diagonal"]) == 1.0
    assert gait_agreement(contact, pairs["lateral"]) == 0.0
    # Stance feet stay put on the floor.
    stance_speed = np.linalg.norm(np.diff(fk, axis=0), axis=2)[contact[1:] & contact[:-1]] * clip.fps
    assert stance_speed.max() < 0.05


def _standing_neutral(robot: RobotConfig) -> np.ndarray:
    import mujoco

    from legged_train.envs.robot import build_model
    from legged_train.envs.robot_pose import feet_on_floor

    robot = RobotConfig(check_standing=False)
    model = build_model(robot, 0.004, False)
    data = mujoco.MjData(model)
    feet_on_floor(model, data, robot, 1.0)
    return data.site_xpos[[model.site(f).id for f in robot.foot_names]] - data.qpos[:3]


def test_pace_and_bound_pair_the_feet_their_way():
    robot = RobotConfig()
    neutral = _standing_neutral(robot)
    pairs = foot_pairs(neutral[:, 0] > 0, neutral[:, 1] > 0)
    for gait, together in (("pace", "lateral"), ("bound", None)):
        clip = generate_gait_clip(robot, GaitSpec(gait=gait, speed=0.4, duration=1.0))
        times = np.arange(clip.num_frames) / clip.fps
        _, contact = foot_targets(GaitSpec(gait=gait, speed=0.4), times, neutral, np.array(clip.meta["phase_offsets"]),
                                  clip.meta["base_height"], robot.foot_radius)
        if together:
            assert gait_agreement(contact, pairs[together]) == 1.0
            assert gait_agreement(contact, pairs["diagonal"]) == 0.0
        else:  # bound: front pair together, rear pair together, half a cycle apart
            front = [f for f in range(4) if neutral[f, 0] > 0]
            rear = [f for f in range(4) if neutral[f, 0] < 0]
            assert gait_agreement(contact, [tuple(front), tuple(rear)]) == 1.0


def test_pace_base_sways_over_its_stance_feet_and_the_feet_follow_their_design():
    robot = RobotConfig()
    neutral = _standing_neutral(robot)
    spec = GaitSpec(gait="pace", speed=0.4, yaw_rate=0.5, duration=1.0)
    clip = generate_gait_clip(robot, spec)
    times = np.arange(clip.num_frames) / clip.fps
    height = clip.meta["base_height"]
    targets, contact = foot_targets(spec, times, neutral, np.array(clip.meta["phase_offsets"]), height,
                                    robot.foot_radius)
    assert np.abs(forward_feet(robot, clip) - targets).max() < 1e-3  # the sway moves the base, not the feet
    # Sideways offset from the unswayed path, in the heading frame (positive: to the left).
    yaw = spec.yaw_rate * times
    path = np.stack(((np.sin(yaw) * spec.speed) / spec.yaw_rate, (1 - np.cos(yaw)) * spec.speed / spec.yaw_rate), 1)
    offset = clip.root_pos[:, :2] - path
    lateral = -np.sin(yaw) * offset[:, 0] + np.cos(yaw) * offset[:, 1]
    amplitude = clip.meta["lateral_sway"]
    # The linear inverted pendulum for Go1 at 2 Hz: ~3 cm (g/h * 4/pi * w / (omega^2 + g/h)).
    expected = 9.81 / height * 4 / np.pi * np.abs(neutral[:, 1]).mean() / ((2 * np.pi / 0.5) ** 2 + 9.81 / height)
    assert amplitude == pytest.approx(expected) and 0.02 < amplitude < 0.04
    assert np.abs(lateral).max() == pytest.approx(amplitude, rel=0.02)
    left = neutral[:, 1] > 0
    only_left = contact[:, left].all(1) & ~contact[:, ~left].any(1)
    only_right = contact[:, ~left].all(1) & ~contact[:, left].any(1)
    assert lateral[only_left].mean() > 0.5 * amplitude and lateral[only_right].mean() < -0.5 * amplitude
    # Trot keeps the base on its path; a given sway overrides the gait's own.
    assert generate_gait_clip(robot, GaitSpec(gait="trot", speed=0.4, duration=0.5)).meta["lateral_sway"] == 0.0
    assert generate_gait_clip(robot, GaitSpec(gait="pace", lateral_sway=0.0, duration=0.5)).meta["lateral_sway"] == 0.0
    with pytest.raises(ValueError, match="lateral_sway=-0.1"):
        GaitSpec(lateral_sway=-0.1).validate()


def test_a_narrow_pace_steps_its_feet_nearer_the_centre_line_and_sways_less():
    robot = RobotConfig()
    neutral = _standing_neutral(robot)
    standing = generate_gait_clip(robot, GaitSpec(gait="pace", speed=0.4, duration=1.0))
    spec = GaitSpec(gait="pace", speed=0.4, duration=1.0, stance_half_width=0.05)
    clip = generate_gait_clip(robot, spec)
    narrow = neutral.copy()
    narrow[:, 1] = np.sign(neutral[:, 1]) * 0.05
    times = np.arange(clip.num_frames) / clip.fps
    targets, contact = foot_targets(spec, times, narrow, np.array(clip.meta["phase_offsets"]), clip.meta["base_height"],
                                    robot.foot_radius)
    feet = forward_feet(robot, clip)
    assert np.abs(feet - targets).max() < 1e-3
    assert np.allclose(np.abs(feet[..., 1][contact]), 0.05, atol=1e-3)  # straight ahead: y is the centre-line distance
    # pace_sway is proportional to the stance's half width.
    ratio = 0.05 / np.abs(neutral[:, 1]).mean()
    assert clip.meta["lateral_sway"] == pytest.approx(standing.meta["lateral_sway"] * ratio)
    assert clip.meta["stance_half_width"] == 0.05 and standing.meta["stance_half_width"] is None
    with pytest.raises(ValueError, match="stance_half_width=0"):
        GaitSpec(stance_half_width=0).validate()


def test_amp_for_hardware_json_loads(tmp_path):
    t = np.arange(30) / 30.0
    frames = np.zeros((30, 61))
    frames[:, 0] = 0.5 * t
    frames[:, 2] = 0.27
    frames[:, 3:7] = [0.0, 0.0, 0.0, 1.0]  # x, y, z, w: upright
    frames[:, 7:19] = np.linspace(-0.5, 0.5, 12)
    path = tmp_path / "trot.json"
    path.write_text(json.dumps({"LoopMode": "Wrap", "FrameDuration": 1 / 30, "EnableCycleOffsetPosition": True,
                                "EnableCycleOffsetRotation": True, "MotionWeight": 0.5, "Frames": frames.tolist()}))
    clip = MotionClip.load(str(path))
    assert clip.fps == pytest.approx(30.0) and clip.weight == 0.5 and clip.loop
    assert np.allclose(clip.root_quat, [1.0, 0.0, 0.0, 0.0])
    assert np.allclose(clip.joint_pos[0], np.linspace(-0.5, 0.5, 12))
    assert clip.joint_names[0] == "FR_hip_joint"
    assert np.allclose(clip.velocities()[0][:, 0], 0.5)


def test_bad_motion_input_gives_one_clear_line(tmp_path):
    clip = analytic_clip(fps=50.0)
    renamed = MotionClip(fps=50.0, joint_names=[n.replace("FR", "XX") for n in JOINTS], root_pos=clip.root_pos,
                         root_quat=clip.root_quat, joint_pos=clip.joint_pos, name="other_robot")
    with pytest.raises(ValueError, match=r"motion clip 'other_robot' has joints \['XX_hip_joint'.*the robot has \['FR_hip_joint'"):
        renamed.with_joint_order(JOINTS)
    with pytest.raises(ValueError, match=r"has 1 frame\(s\); a clip needs at least 2"):
        MotionClip(fps=50.0, joint_names=JOINTS, root_pos=np.zeros((1, 3)), root_quat=[[1.0, 0, 0, 0]], joint_pos=np.zeros((1, 12)))
    with pytest.raises(ValueError, match=r"gait='gallop': unknown gait; known gaits: trot, pace, bound"):
        GaitSpec(gait="gallop").validate()
    result = subprocess.run(
        [sys.executable, "-m", "legged_train.motions", "generate", "--gait", "gallop", "--out", str(tmp_path / "x.npz")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("gait='gallop': unknown gait; known gaits: trot, pace, bound")
    assert not (tmp_path / "x.npz").exists()


def test_task_clips_are_made_once_and_again_when_the_generator_changed(tmp_path):
    from legged_train.tasks.go1.amp import PACE_STANCE_HALF_WIDTH, reference_clips

    folder = reference_clips("pace", commands=[(0.4, 0.0, 0.0)], folder=str(tmp_path))
    (path,) = tmp_path.glob("*.npz")
    made = path.stat().st_mtime_ns
    reference_clips("pace", commands=[(0.4, 0.0, 0.0)], folder=folder)
    assert path.stat().st_mtime_ns == made  # kept
    old = MotionClip.load(str(path))
    sway = old.meta.pop("lateral_sway")  # as the generator wrote it before the pace's sway
    assert sway > 0.01  # the 0.05 m stance's pace sways about 1.2 cm
    old.save(str(path))
    reference_clips("pace", commands=[(0.4, 0.0, 0.0)], folder=folder)
    assert MotionClip.load(str(path)).meta["lateral_sway"] == sway
    standing = MotionClip.load(str(path))
    standing.meta["stance_half_width"] = None  # made with other settings than the task's
    standing.save(str(path))
    reference_clips("pace", commands=[(0.4, 0.0, 0.0)], folder=folder)
    assert MotionClip.load(str(path)).meta["stance_half_width"] == PACE_STANCE_HALF_WIDTH
