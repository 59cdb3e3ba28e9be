"""The legged velocity-tracking env: API, rewards on constructed states, terminations, seeding,
randomization reaching the simulator, user robots and config errors."""

from __future__ import annotations

import math
import os

import pytest
import torch

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.robot import RobotConfig

ASSETS = os.path.join(os.path.dirname(__file__), "assets")


def make_env(num_envs=4, randomize=False, noise=False, **overrides) -> LeggedVelocityEnv:
    cfg = LeggedEnvConfig(num_envs=num_envs, seed=overrides.pop("seed", 0))
    cfg.domain_rand.enabled = randomize
    cfg.noise.enabled = noise
    for key, value in overrides.items():
        obj = cfg
        *path, last = key.split(".")
        for part in path:
            obj = getattr(obj, part)
        setattr(obj, last, value)
    return LeggedVelocityEnv(cfg)


def set_state(env, env_id=0, base_pos=None, base_quat=None, base_vel=None, joint_pos=None, joint_vel=None):
    """Write a state into one env and recompute derived quantities, as a test would on a robot."""
    sim = env.sim
    if base_pos is not None:
        sim.qpos[env_id, :3] = torch.tensor(base_pos, dtype=torch.float64)
    if base_quat is not None:
        sim.qpos[env_id, 3:7] = torch.tensor(base_quat, dtype=torch.float64)
    if base_vel is not None:
        sim.qvel[env_id, :6] = torch.tensor(base_vel, dtype=torch.float64)
    if joint_pos is not None:
        sim.qpos[env_id, env.joint_qpos_ids] = torch.as_tensor(joint_pos, dtype=torch.float64)
    if joint_vel is not None:
        sim.qvel[env_id, env.joint_qvel_ids] = torch.as_tensor(joint_vel, dtype=torch.float64)
    sim.forward()
    env._update_state()


# ------------------------------------------------------------------------------------------ API


def test_api_shapes_and_dtypes_of_every_group():
    env = make_env(num_envs=6, randomize=True, noise=True)
    assert (env.num_envs, env.num_actions) == (6, 12)
    assert env.max_episode_length == math.ceil(20.0 / 0.02)
    obs, extras = env.get_observations()
    groups = extras["observations"]
    assert set(groups) == {"policy", "critic"}
    assert groups["policy"] is obs
    layout = env.observation_layout()
    for name, width in (("policy", env.num_obs), ("critic", env.num_privileged_obs)):
        assert groups[name].shape == (6, width) and groups[name].dtype == torch.float32
        assert sum(w for _, w in layout[name]) == width
    assert env.num_obs == 3 + 3 + 12 * 3 + 3 + 2  # with the gait clock (the default)
    obs, rew, dones, extras = env.step(torch.zeros(6, 12))
    assert obs.shape == (6, env.num_obs) and obs.dtype == torch.float32
    assert rew.shape == (6,) and rew.dtype == torch.float32
    assert dones.shape == (6,) and dones.dtype == torch.bool
    for key in ("terminated", "truncated", "time_outs"):
        assert extras[key].shape == (6,) and extras[key].dtype == torch.bool
    assert extras["final_observation"].shape == (6, env.num_obs)
    assert extras["final_critic_observation"].shape == (6, env.num_privileged_obs)
    assert extras["observations"]["critic"].shape == (6, env.num_privileged_obs)
    assert torch.isfinite(obs).all() and torch.isfinite(rew).all()


def test_gait_clock_adds_two_policy_columns():
    with_clock, without = make_env(gait_clock=True), make_env(gait_clock=False)
    assert (with_clock.num_obs, without.num_obs) == (47, 45)
    assert with_clock.observation_layout()["policy"][-1] == ("gait_clock", 2)
    for _ in range(3):
        obs, *_ = with_clock.step(torch.zeros(4, 12))
    angle = 2 * math.pi * with_clock.gait_phase
    clock = torch.stack((torch.sin(angle), torch.cos(angle)), dim=1) * with_clock.is_moving_command[:, None]
    assert torch.allclose(obs[:, -2:], clock, atol=1e-6)  # the clock is hidden while standing


def test_critic_group_is_the_clean_policy_group_plus_privileged_state():
    env = make_env(num_envs=64, noise=True)
    obs, extras = env.get_observations()
    critic = extras["observations"]["critic"]
    # Noise makes them differ on the noisy blocks; the command block is never noisy.
    assert not torch.allclose(obs[:, :30], critic[:, :30])
    # Each block's noise stays within its configured bound: gyro 0.2, gravity 0.05, q 0.01, qdot 1.5.
    noise = (obs[:, :30] - critic[:, :30]).abs().amax(dim=0)
    bounds = torch.tensor([0.2] * 3 + [0.05] * 3 + [0.01] * 12 + [1.5] * 12)
    assert torch.all(noise <= bounds + 1e-6) and torch.all(noise > 0.2 * bounds)
    assert torch.equal(obs[:, 42:], critic[:, 42 : env.num_obs])  # command and clock
    assert torch.equal(critic[:, env.num_obs : env.num_obs + 3], env.base_lin_vel)


# -------------------------------------------------------------------------------------- rewards


def test_tracking_rewards_by_hand_in_the_heading_frame():
    env = make_env(num_envs=2)
    env.commands[:] = torch.tensor([1.0, 0.0, 0.5])
    # Yawed 90 degrees, moving +0.5 m/s along world y: that is 0.5 m/s forward in its heading frame.
    yaw = math.pi / 2
    set_state(env, 0, base_quat=[math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)], base_vel=[0, 0.5, 0, 0, 0, 0.25])
    from legged_train.envs.legged import rewards

    sigma = env.cfg.rewards.params["track_lin_vel"]["sigma"]
    assert env.base_lin_vel_heading[0].tolist() == pytest.approx([0.5, 0.0], abs=1e-6)
    assert rewards.track_lin_vel(env)[0].item() == pytest.approx(math.exp(-(0.5**2) / sigma), rel=1e-5)
    # The free joint's angular velocity is in the base frame; level base: yaw rate = wz.
    assert rewards.track_ang_vel(env)[0].item() == pytest.approx(math.exp(-(0.25**2) / sigma), rel=1e-4)


def test_posture_and_velocity_penalties_by_hand():
    from legged_train.envs.legged import rewards

    env = make_env(num_envs=2)
    roll = 0.3
    set_state(env, 0, base_quat=[math.cos(roll / 2), math.sin(roll / 2), 0, 0], base_vel=[0, 0, 0.3, 0.2, -0.1, 0])
    assert rewards.orientation(env)[0].item() == pytest.approx(math.sin(roll) ** 2, rel=1e-5)
    assert rewards.lin_vel_z(env)[0].item() == pytest.approx(0.09, rel=1e-5)
    assert rewards.ang_vel_xy(env)[0].item() == pytest.approx(0.2**2 + 0.1**2, rel=1e-5)


def test_joint_terms_by_hand():
    from legged_train.envs.legged import rewards

    env = make_env(num_envs=2)
    q = env.default_joint_pos.clone()
    soft_lower, soft_upper = rewards.soft_joint_limits(env.joint_range, env.cfg.rewards.params["joint_pos_limits"]["soft_limit"])
    q[0] = soft_upper[0] + 0.05  # hip past its soft limit by 0.05 rad
    q[2] = soft_lower[2] - 0.02  # calf below its soft limit by 0.02 rad
    qd = torch.zeros(12)
    qd[1] = 2.0
    set_state(env, 0, joint_pos=q, joint_vel=qd)
    assert rewards.joint_pos_limits(env)[0].item() == pytest.approx(0.07, abs=1e-5)
    # Position actuator torque: kp (target - q) - kd qdot, with ctrl = default pose after reset.
    kp, kd = 35.0, 0.5
    target = env.default_joint_pos
    expected = (kp * (target - q.float()) - kd * qd).clamp(-23.7, 23.7)
    expected[2::3] = (kp * (target - q.float()) - kd * qd)[2::3].clamp(-35.55, 35.55)
    assert torch.allclose(env.joint_torque[0], expected, atol=1e-4)
    assert rewards.torques(env)[0].item() == pytest.approx(torch.sum(expected**2).item(), rel=1e-5)
    assert rewards.energy(env)[0].item() == pytest.approx(torch.sum(torch.abs(expected * qd)).item(), rel=1e-5)
    env.actions[0] = 0.5
    env.last_actions[0] = 0.25
    assert rewards.action_rate(env)[0].item() == pytest.approx(12 * 0.25**2)
    env.last_joint_vel[0] = 0.0
    assert rewards.joint_acc(env)[0].item() == pytest.approx((2.0 / env.step_dt) ** 2, rel=1e-5)


def test_stand_still_only_counts_with_a_zero_command():
    from legged_train.envs.legged import rewards

    env = make_env(num_envs=2)
    q = env.default_joint_pos.clone()
    q[1] += 0.1
    set_state(env, 0, joint_pos=q)
    set_state(env, 1, joint_pos=q)
    env.commands[0] = 0.0
    env.commands[1] = torch.tensor([0.5, 0.0, 0.0])
    env._update_state()
    values = rewards.stand_still(env)
    assert values[0].item() == pytest.approx(0.1, abs=1e-5)
    assert values[1].item() == 0.0


def test_feet_air_time_rewards_the_swing_at_touchdown():
    from legged_train.envs.legged import rewards

    env = make_env(num_envs=1)
    env.commands[:] = torch.tensor([1.0, 0.0, 0.0])
    env._update_state()
    # Foot 0 swings for 25 steps, then lands; the others never leave the ground.
    for step in range(26):
        env.foot_contact = torch.tensor([[step == 25, True, True, True]])
        env._update_foot_motion()
        value = rewards.feet_air_time(env)[0].item()
        if step < 25:
            assert value == 0.0
    # Airborne for 25 steps, and the landing step counts too: 26 dt, minus the target.
    assert value == pytest.approx(26 * env.step_dt - env.cfg.rewards.params["feet_air_time"]["target"], abs=1e-6)
    env.commands[:] = 0.0  # standing still: no reward for stepping
    env._update_state()
    assert rewards.feet_air_time(env)[0].item() == 0.0


def test_gait_phase_rewards_a_trot_on_the_clock():
    from legged_train.envs.legged import rewards

    env = make_env(num_envs=3)
    env.commands[:] = torch.tensor([[0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    env._update_state()
    # A quarter cycle in: FR and RL are mid-swing, FL and RR mid-stance.
    env.gait_phase[:] = 0.25
    env.foot_contact = torch.tensor([[False, True, True, False], [True, True, True, True], [False, True, True, False]])
    assert rewards.gait_phase(env).tolist() == pytest.approx([1.0, 0.5, 0.0])


def test_total_reward_is_the_weighted_sum_scaled_by_dt():
    from legged_train.envs.legged import rewards

    env = make_env(num_envs=3, **{"rewards.only_positive_rewards": False})
    env.step(0.3 * torch.ones(3, 12))
    env.step(-0.3 * torch.ones(3, 12))
    expected = sum(rewards.REWARD_TERMS[name](env) * weight * env.step_dt for name, weight in env.reward_weights.items())
    assert torch.allclose(env._compute_rewards(), expected, atol=1e-6)
    assert set(env.reward_terms) == set(env.reward_weights)


def test_only_positive_rewards_clips_before_the_termination_penalty():
    weights = {"track_lin_vel": 1.0, "orientation": -5.0, "termination": -100.0}
    env = make_env(num_envs=2, **{"rewards.weights": weights})
    roll = 0.8
    set_state(env, 0, base_quat=[math.cos(roll / 2), math.sin(roll / 2), 0, 0])
    set_state(env, 1, base_quat=[math.cos(roll / 2), math.sin(roll / 2), 0, 0])
    env.terminated = torch.tensor([False, True])
    reward = env._compute_rewards()
    # The tilt penalty outweighs tracking: clipped to 0, then the fall costs 100 dt in env 1.
    assert reward.tolist() == pytest.approx([0.0, -100.0 * env.step_dt])


def test_episode_log_reports_the_mean_tracking_error():
    env = make_env(num_envs=2, episode_length_s=0.06)  # 3 steps
    # A robot standing still under zero actions: its error is the command itself.
    env.set_commands(torch.tensor([[0.6, 0.8, 0.0], [0.0, 0.0, 0.5]]))
    for _ in range(3):
        _, _, dones, extras = env.step(torch.zeros(2, 12))
    assert dones.all()
    assert extras["log"]["lin_vel_error"].item() == pytest.approx((1.0 + 0.0) / 2, abs=0.05)
    assert extras["log"]["yaw_rate_error"].item() == pytest.approx((0.0 + 0.5) / 2, abs=0.05)


def test_episode_log_reports_per_term_sums_on_reset():
    env = make_env(num_envs=2, episode_length_s=0.1)
    logs = []
    for _ in range(5):
        _, _, _, extras = env.step(torch.zeros(2, 12))
        if "log" in extras:
            logs.append(extras["log"])
    assert logs, "episodes of 5 steps must end within 5 steps"
    assert {f"rew_{name}" for name in env.reward_weights} | {"lin_vel_error", "yaw_rate_error"} <= set(logs[0])
    assert all(v.dim() == 0 for v in logs[0].values())


# --------------------------------------------------------------------------------- terminations


def test_a_fall_is_terminated_and_a_time_limit_is_truncated():
    env = make_env(num_envs=3)
    # env 0: upside down (fall); env 1: at its time limit; env 2: neither.
    env.episode_length_buf[1] = env.max_episode_length - 1
    env.sim.qpos[0, 3:7] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    _, _, dones, extras = env.step(torch.zeros(3, 12))
    assert extras["terminated"].tolist() == [True, False, False]
    assert extras["truncated"].tolist() == [False, True, False]
    assert extras["time_outs"].tolist() == [False, True, False]
    assert dones.tolist() == [True, True, False]
    # Both finished envs were reset in the same step.
    assert env.episode_length_buf.tolist() == [0, 0, 1]


def test_base_too_low_terminates():
    env = make_env(num_envs=2)
    env.sim.qpos[1, 2] = 0.05
    _, _, _, extras = env.step(torch.zeros(2, 12))
    assert extras["terminated"].tolist() == [False, True]


def test_a_fall_on_the_last_step_is_terminated_not_truncated():
    env = make_env(num_envs=1)
    env.episode_length_buf[0] = env.max_episode_length - 1
    env.sim.qpos[0, 3:7] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    _, _, _, extras = env.step(torch.zeros(1, 12))
    assert extras["terminated"].item() and not extras["truncated"].item()


def test_final_observation_is_the_observation_before_the_reset():
    # Two identical envs take identical actions; in one, env 0 hits its time limit on this step.
    # The other env's observation is then what env 0 observed before its reset.
    timed_out, reference = make_env(num_envs=2, seed=3), make_env(num_envs=2, seed=3)
    actions = 0.2 * torch.ones(2, 12)
    for _ in range(3):
        timed_out.step(actions)
        reference.step(actions)
    timed_out.episode_length_buf[0] = timed_out.max_episode_length - 1
    obs, _, dones, extras = timed_out.step(actions)
    ref_obs, _, ref_dones, ref_extras = reference.step(actions)
    assert dones.tolist() == [True, False] and not ref_dones.any()
    assert torch.equal(extras["final_observation"][0], ref_obs[0])
    assert torch.equal(extras["final_critic_observation"][0], ref_extras["observations"]["critic"][0])
    assert not torch.equal(obs[0], ref_obs[0])  # the returned one is the new episode's
    assert torch.equal(extras["final_observation"][1], torch.zeros(timed_out.num_obs))


# --------------------------------------------------------------------------- seeding, randomization


def test_same_seed_gives_the_same_first_100_steps():
    def rollout(seed):
        env = make_env(num_envs=8, randomize=True, noise=True, seed=seed, **{"domain_rand.push_interval": 0.5})
        generator = torch.Generator().manual_seed(123)
        trace = []
        for _ in range(100):
            actions = torch.randn(8, 12, generator=generator)
            obs, rew, dones, extras = env.step(actions)
            trace.append(torch.cat([obs, rew[:, None], dones[:, None].float(), extras["observations"]["critic"]], dim=1))
        return torch.stack(trace)

    first, second = rollout(7), rollout(7)
    assert torch.equal(first, second)
    assert not torch.equal(first, rollout(8))


def settled_base_height(**overrides) -> torch.Tensor:
    env = make_env(num_envs=2, randomize=True, **{
        "domain_rand.friction": (1.0, 1.0),
        "domain_rand.base_com_offset": 0.0,
        "domain_rand.motor_strength": (1.0, 1.0),
        "domain_rand.push_interval": 0.0,
        "domain_rand.init_joint_pos_noise": 0.0,
        "domain_rand.init_base_vel_noise": 0.0,
        **overrides,
    })
    for _ in range(100):
        env.step(torch.zeros(2, 12))
    return env, env.base_pos[:, 2]


def test_added_mass_reaches_the_simulator_and_a_heavier_robot_sinks_more():
    light_env, light = settled_base_height(**{"domain_rand.added_base_mass": (0.0, 0.0)})
    heavy_env, heavy = settled_base_height(**{"domain_rand.added_base_mass": (3.0, 3.0)})
    base = heavy_env.base_body_id
    assert heavy_env.sim.model_field("body_mass")[:, base].tolist() == pytest.approx([5.204 + 3.0] * 2)
    assert torch.all(heavy < light - 0.005), (heavy, light)
    assert heavy_env.total_mass().tolist() == pytest.approx([light_env.nominal_total_mass + 3.0] * 2)


def test_friction_reaches_the_simulator_and_a_slippery_floor_slides_more():
    def slide(friction):
        env = make_env(num_envs=2, randomize=True, **{
            "domain_rand.friction": (friction, friction),
            "domain_rand.push_interval": 0.0,
            "domain_rand.init_joint_pos_noise": 0.0,
            "domain_rand.init_base_vel_noise": 0.0,
        })
        sim_friction = env.sim.model_field("geom_friction")[:, :, 0]
        assert torch.allclose(sim_friction, torch.full_like(sim_friction, friction))
        env.sim.qvel[:, 1] = 1.0  # shove it sideways
        for _ in range(25):
            env.step(torch.zeros(2, 12))
        return env.base_pos[:, 1].abs()

    assert torch.all(slide(0.05) > slide(1.2) + 0.02)


def test_com_offset_reaches_the_simulator():
    # MuJoCo ignores body_ipos of a body compiled as "sameframe" (inertial frame on the body frame);
    # the base must not be one, or the randomized centre of mass would change nothing.
    def spin_after(offset):
        env = make_env(num_envs=1, randomize=False)
        env.sim.model_field("body_ipos")[0, env.base_body_id] = torch.tensor(offset, dtype=torch.float64)
        set_state(env, base_vel=[0.5, 0.0, 0.0, 1.0, -0.8, 0.5])
        env.sim.step(10)
        return env.sim.qvel[0, :6].clone()

    assert (spin_after([0.03, -0.02, 0.01]) - spin_after([0.0, 0.0, 0.0])).abs().max() > 1e-3


def critic_term(env, name: str) -> torch.Tensor:
    """(N, width) the columns of term ``name`` in the env's current critic observation."""
    critic = env.get_observations()[1]["observations"]["critic"]
    layout = env.observation_layout()["critic"]
    index = [term for term, _ in layout].index(name)
    start = sum(width for _, width in layout[:index])
    return critic[:, start : start + layout[index][1]]


def test_randomized_parameters_differ_across_envs_and_show_in_the_critic():
    env = make_env(num_envs=16, randomize=True)
    friction = env.sim.model_field("geom_friction")[:, 0, 0]
    assert friction.unique().numel() == 16
    assert env.sim.model_field("body_mass")[:, env.base_body_id].unique().numel() == 16
    assert torch.allclose(critic_term(env, "friction")[:, 0], friction.float())


def test_nominal_eval_env_has_no_randomization():
    env = make_env(num_envs=4, randomize=True)
    eval_env = env.make_eval_env(num_envs=2, seed=0)
    assert eval_env.num_envs == 2
    assert not eval_env.cfg.domain_rand.enabled and env.cfg.domain_rand.enabled
    assert torch.all(eval_env.sim.model_field("geom_friction")[:, :, 0] == torch.tensor(eval_env.mj_model.geom_friction[:, 0]))
    # The privileged terms describe the nominal physics (a teacher reads them): friction is the
    # model's feet-floor coefficient, not zero (ice, outside what training drew).
    assert float(eval_env.mj_model.geom_friction[0, 0]) == pytest.approx(0.8)  # go1.xml's floor and feet
    assert torch.allclose(critic_term(eval_env, "friction"), torch.tensor(0.8))
    assert torch.all(critic_term(eval_env, "added_base_mass") == 0.0)
    assert torch.all(critic_term(eval_env, "motor_strength") == 1.0)


def test_set_commands_holds_them():
    env = make_env(num_envs=2, **{"commands.resampling_time": 0.04})
    commands = torch.tensor([[0.5, 0.1, -0.2], [0.0, 0.0, 0.0]])
    env.set_commands(commands)
    for _ in range(5):
        env.step(torch.zeros(2, 12))
    assert torch.equal(env.commands, commands)
    with pytest.raises(ValueError, match=r"shape \(3, 3\); expected \(2, 3\)"):
        env.set_commands(torch.zeros(3, 3))


def test_commands_are_resampled_on_the_timer_with_standing_ones():
    env = make_env(num_envs=64, **{"commands.resampling_time": 0.04, "commands.standing_fraction": 0.5})
    before = env.commands.clone()
    env.step(torch.zeros(64, 12))
    env.step(torch.zeros(64, 12))
    assert not torch.equal(before, env.commands)
    standing = (env.commands.abs().sum(1) == 0).float().mean().item()
    assert 0.2 < standing < 0.8
    lo = torch.tensor([-1.0, -0.5, -1.0])
    assert torch.all(env.commands >= lo) and torch.all(env.commands <= -lo)


# ------------------------------------------------------------------------------ user robots, errors


def minidog() -> RobotConfig:
    return RobotConfig(
        mjcf_path=os.path.join(ASSETS, "minidog.xml"),
        base_body="base",
        foot_radius=0.018,
        kp=15.0,
        kd=0.3,
        effort_limits=[10.0] * 12,
        default_joint_pos=[0.0, 0.8, -1.6] * 4,
        base_init_height=0.22,
        action_scale=0.25,
        undesired_contact_sites=[],
        base_contact_site=None,
    )


def test_a_users_own_mjcf_runs_through_the_same_env():
    cfg = LeggedEnvConfig(num_envs=4, robot=minidog())
    env = LeggedVelocityEnv(cfg)
    # The loader added actuators with the config's gains, the IMU sensors, foot touch sensors, a floor.
    model = env.mj_model
    assert model.nu == 12 and model.actuator_gainprm[0, 0] == 15.0
    assert {"imu_gyro", "imu_vel", "imu_up", "FR_foot_touch"} <= {model.sensor(i).name for i in range(model.nsensor)}
    for _ in range(50):
        obs, rew, dones, extras = env.step(torch.zeros(4, 12))
    assert obs.shape == (4, 47) and torch.isfinite(obs).all()
    # It stands on its own, shorter legs: feet on the floor, lower than the Go1.
    assert torch.all(env.foot_force > 1.0)
    assert torch.all((env.base_pos[:, 2] > 0.15) & (env.base_pos[:, 2] < 0.25))


def test_full_body_contacts_make_knees_and_base_touch_the_floor():
    env = make_env(num_envs=1, **{"sim.full_body_contacts": True})
    # Lay the robot on its back: the base touch sensor sees the floor and the episode terminates.
    env.sim.qpos[0, 2] = 0.06
    env.sim.qpos[0, 3:7] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    _, _, _, extras = env.step(torch.zeros(1, 12))
    assert extras["terminated"].item()
    feet_only = make_env(num_envs=1)
    trunk = feet_only.mj_model.geom("trunk")
    assert trunk.contype[0] == 0 and env.mj_model.geom("trunk").contype[0] == 2


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_envs", 0, r"num_envs=0: must be an int >= 1"),
        ("domain_rand.friction", (1.0, 0.5), r"domain_rand.friction=\(1.0, 0.5\): needs low <= high"),
        ("commands.standing_fraction", 1.5, r"commands.standing_fraction=1.5: must be in \[0, 1\]"),
        ("sim.substeps", 0, r"sim.substeps=0: must be an int >= 1"),
        ("rewards.weights", {"track_lin_vel": 1.0, "walk_nicely": 1.0}, r"unknown terms \['walk_nicely'\]; known terms: .*track_lin_vel"),
    ],
)
def test_bad_config_values_give_clear_errors(field, value, message):
    with pytest.raises(ValueError, match=message):
        make_env(**{field: value})


def test_bad_robot_config_gives_clear_errors():
    robot = minidog()
    robot.default_joint_pos = [0.0] * 11
    with pytest.raises(ValueError, match=r"default_joint_pos has 11 entries; it needs one per joint"):
        LeggedVelocityEnv(LeggedEnvConfig(num_envs=1, robot=robot))
    robot = minidog()
    robot.joint_names = robot.joint_names[:11] + ["RL_ankle_joint"]
    with pytest.raises(ValueError, match=r"\['RL_ankle_joint'\] are not joints of"):
        LeggedVelocityEnv(LeggedEnvConfig(num_envs=1, robot=robot))
    robot = minidog()
    robot.mjcf_path = "/nonexistent/robot.xml"
    with pytest.raises(FileNotFoundError, match="no such file"):
        LeggedVelocityEnv(LeggedEnvConfig(num_envs=1, robot=robot))


def test_unknown_task_lists_the_registered_ones():
    from legged_train.tasks import UnknownTaskError, get_task, list_tasks

    assert "go1_flat" in list_tasks()
    with pytest.raises(UnknownTaskError, match=r"unknown task 'go3_rough'; registered tasks: .*go1_flat"):
        get_task("go3_rough")
    task = get_task("go1_flat")
    assert task.env_cfg.num_envs == 1024 and task.env_cfg is not get_task("go1_flat").env_cfg
