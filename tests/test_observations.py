"""Observation groups as configured terms: the default policy/critic groups against the formula they
replaced (bit-identical), history stacking and its refill at resets, extra groups, layouts, term
values, config errors and the command line, and exact resume with history."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
import torch

from legged_train.envs.legged.config import LeggedEnvConfig, ObservationGroupConfig, ObservationTermConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.legged.observations import OBSERVATION_TERMS

TEACHER = ["base_ang_vel", "projected_gravity", "joint_pos", "joint_vel", "last_action", "command", "gait_clock",
           "base_lin_vel", "foot_contact_force", "foot_height", "friction", "added_base_mass", "base_com_offset", "motor_strength"]
AMP = ["joint_pos_abs", "joint_vel", "base_lin_vel", "base_ang_vel", "base_height", "foot_pos_base"]


def config(num_envs=6, seed=0, **groups) -> LeggedEnvConfig:
    """Randomized physics, noise, pushes, command resampling and 0.3 s episodes: resets within a few
    dozen steps, some falls among them under random actions."""
    cfg = LeggedEnvConfig(num_envs=num_envs, seed=seed, episode_length_s=0.3)
    cfg.sim.num_threads = 1
    cfg.domain_rand.push_interval = 0.2
    cfg.commands.resampling_time = 0.16
    cfg.observations.update(groups)
    return cfg


def random_actions(num_envs, steps, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(num_envs, 12, generator=generator) for _ in range(steps)]


# ------------------------------------------------------------------------ today's groups, unchanged


class FormulaEnv(LeggedVelocityEnv):
    """The env with the observation code it had before groups were configurable, kept verbatim
    (one noise draw of (N, 6 + 2 J) for gyro, gravity, joint positions and velocities)."""

    def _compute_observations(self, reset_ids=None, terms=None, stale=None):  # every row, every time
        noise = self.cfg.noise
        na = self.num_actions
        widths = ((noise.gyro, 3), (noise.projected_gravity, 3), (noise.joint_pos, na), (noise.joint_vel, na))
        noise_scale = torch.cat([torch.full((w,), float(scale), device=self.device) for scale, w in widths])
        clean = [self.base_ang_vel, self.projected_gravity, self.joint_pos - self.default_joint_pos, self.joint_vel, self.actions, self.commands]
        noisy = list(clean)
        if self.cfg.noise.enabled:
            measured = torch.cat(clean[:4], dim=1)
            uniform = 2.0 * torch.rand(measured.shape, generator=self.generator, device=self.device) - 1.0
            noisy[:4] = [measured + noise_scale * uniform]
        if self.cfg.gait_clock:
            angle = 2.0 * math.pi * self.gait_phase[:, None]
            clock = torch.cat((torch.sin(angle), torch.cos(angle)), dim=1) * self.is_moving_command[:, None]
            clean.append(clock)
            noisy.append(clock)
        privileged = [self.base_lin_vel, self.foot_force, self.foot_height, self.feet_air_time, self.friction_coeff[:, None],
                      self.added_base_mass[:, None], self.base_com_offset, self.motor_strength[:, None], self.push_vel]
        return {"policy": torch.cat(noisy, dim=1), "critic": torch.cat(clean + privileged, dim=1)}


@pytest.mark.parametrize("gait_clock, noise", [(True, True), (False, True), (True, False)])
def test_default_groups_are_bit_identical_to_the_formula_they_replaced(gait_clock, noise):
    cfg = config()
    cfg.gait_clock, cfg.noise.enabled = gait_clock, noise
    new, old = LeggedVelocityEnv(cfg), FormulaEnv(cfg)
    assert torch.equal(new.get_observations()[0], old.get_observations()[0])
    finished = 0
    for actions in random_actions(6, 120):
        obs, rew, dones, extras = new.step(actions)
        ref_obs, ref_rew, ref_dones, ref_extras = old.step(actions)
        assert torch.equal(obs, ref_obs) and torch.equal(rew, ref_rew) and torch.equal(dones, ref_dones)
        assert torch.equal(extras["observations"]["critic"], ref_extras["observations"]["critic"])
        for key in ("final_observation", "final_critic_observation"):
            assert torch.equal(extras[key], ref_extras[key])
        finished += int(dones.sum())
    assert finished >= 12  # the comparison crossed many resets
    assert torch.equal(new.generator.get_state(), old.generator.get_state())
    assert (new.num_obs, new.num_privileged_obs) == (old.num_obs, old.num_privileged_obs) == ((47, 70) if gait_clock else (45, 68))


# ---------------------------------------------------------------------------------------- history


def test_history_stacks_the_last_observations_and_refills_only_the_envs_that_reset():
    # The same run twice: without history, and with the policy group stacking H = 3 steps. Noise is
    # drawn the same way in both (one draw per step over the noisy terms), so the stacked vector must
    # be exactly the last three observations of the run without history.
    plain_cfg, stacked_cfg = config(), config()
    stacked_cfg.observations["policy"].history_length = 3
    plain, stacked = LeggedVelocityEnv(plain_cfg), LeggedVelocityEnv(stacked_cfg)
    w = plain.num_obs
    assert stacked.num_obs == 3 * w and stacked.observation_history() == {"policy": 3, "critic": 1}
    assert stacked.observation_layout() == plain.observation_layout()  # one step's blocks
    first = plain.get_observations()[0]
    assert torch.equal(stacked.get_observations()[0], first.repeat(1, 3))  # filled at the start
    expected = first.repeat(1, 3)
    refilled = kept = 0
    for actions in random_actions(6, 60):
        before = expected
        obs, _, dones, extras = plain.step(actions)
        hist, _, hist_dones, hist_extras = stacked.step(actions)
        assert torch.equal(dones, hist_dones)
        # Shifted by one step; an env that started a new episode holds its first observation 3 times.
        expected = torch.cat((before[:, w:], obs), dim=1)
        expected[dones] = obs[dones].repeat(1, 3)
        assert torch.equal(hist, expected)
        assert torch.equal(hist_extras["observations"]["critic"], extras["observations"]["critic"])
        # The final observation is the history the episode ended with, its newest step the plain one.
        final = hist_extras["final_observation"]
        assert torch.equal(final[dones], torch.cat((before[:, w:], extras["final_observation"]), dim=1)[dones])
        assert torch.equal(final[~dones], torch.zeros_like(final[~dones]))
        assert hist_extras["final_observations"]["policy"] is final
        refilled += int(dones.sum())
        kept += int((~dones).sum())
        if dones.any() and not dones.all():  # only the envs that reset were refilled
            assert all(torch.equal(hist[i, :w], hist[i, 2 * w :]) for i in dones.nonzero().flatten().tolist())
    assert refilled >= 12 and kept > 0


def test_history_of_a_clean_extra_group_with_a_scale():
    steps = [ObservationTermConfig("joint_vel", scale=0.05), ObservationTermConfig("command")]
    env = LeggedVelocityEnv(config(num_envs=4, recent=ObservationGroupConfig(steps, history_length=2)))
    for actions in random_actions(4, 30):
        previous = env.get_observations()[1]["observations"]["recent"]
        _, _, dones, extras = env.step(actions)
        recent = extras["observations"]["recent"]
        now = torch.cat((env.joint_vel * 0.05, env.commands), dim=1)  # clean: no noise on this group's terms
        assert torch.equal(recent[:, 15:], now)
        assert torch.equal(recent[~dones, :15], previous[~dones, 15:])
        assert torch.equal(recent[dones, :15], now[dones])
    assert env.observation_layout()["recent"] == [("joint_vel", 12), ("command", 3)]
    assert env.observation_history()["recent"] == 2


# ------------------------------------------------------------------------------------ extra groups


def test_extra_groups_appear_in_every_output_with_the_right_widths():
    groups = {"teacher": ObservationGroupConfig(TEACHER), "amp": ObservationGroupConfig(AMP)}
    with_extra, default = LeggedVelocityEnv(config(seed=3, **groups)), LeggedVelocityEnv(config(seed=3))
    layout = with_extra.observation_layout()
    assert list(layout) == ["policy", "critic", "teacher", "amp"]
    assert layout["amp"] == [("joint_pos_abs", 12), ("joint_vel", 12), ("base_lin_vel", 3), ("base_ang_vel", 3),
                             ("base_height", 1), ("foot_pos_base", 12)]
    assert layout["teacher"][:7] == layout["policy"] and sum(w for _, w in layout["teacher"]) == 47 + 3 + 4 + 4 + 1 + 1 + 3 + 1
    widths = {name: sum(w for _, w in blocks) for name, blocks in layout.items()}
    assert set(with_extra.get_observations()[1]["observations"]) == set(widths)
    finished = 0
    for actions in random_actions(6, 40):
        obs, rew, dones, extras = with_extra.step(actions)
        ref_obs, ref_rew, _, ref_extras = default.step(actions)
        # Clean extra groups draw nothing: the default groups and the whole run stay the same.
        assert torch.equal(obs, ref_obs) and torch.equal(rew, ref_rew)
        assert {name: value.shape for name, value in extras["observations"].items()} == {n: (6, w) for n, w in widths.items()}
        assert {name: value.shape for name, value in extras["final_observations"].items()} == {n: (6, w) for n, w in widths.items()}
        assert extras["final_observations"]["critic"] is extras["final_critic_observation"]
        for name, final in extras["final_observations"].items():
            assert torch.equal(final[~dones], torch.zeros_like(final[~dones]))
        finished += int(dones.sum())
    assert finished > 0
    amp = extras["observations"]["amp"]
    assert torch.equal(amp[:, :12], with_extra.joint_pos) and torch.equal(amp[:, 30:31], with_extra.base_pos[:, 2:3])


def test_final_observations_of_every_group_are_those_before_the_reset():
    # As tests/test_env.py does for the policy group: two identical runs, one env times out in one.
    groups = {"amp": ObservationGroupConfig(AMP, history_length=2)}
    timed_out, reference = LeggedVelocityEnv(config(num_envs=2, **groups)), LeggedVelocityEnv(config(num_envs=2, **groups))
    for env in (timed_out, reference):
        env.cfg.episode_length_s = 20.0
        env.max_episode_length = 1000
    actions = 0.2 * torch.ones(2, 12)
    for _ in range(3):
        timed_out.step(actions)
        reference.step(actions)
    timed_out.episode_length_buf[0] = timed_out.max_episode_length - 1
    _, _, dones, extras = timed_out.step(actions)
    _, _, _, ref_extras = reference.step(actions)
    assert dones.tolist() == [True, False]
    for name in ("policy", "critic", "amp"):
        assert torch.equal(extras["final_observations"][name][0], ref_extras["observations"][name][0]), name
        assert not torch.equal(extras["observations"][name][0], ref_extras["observations"][name][0]), name


# -------------------------------------------------------------------------------------- term values


def test_terms_are_functions_of_named_state():
    env = LeggedVelocityEnv(config(num_envs=2))
    env.step(torch.zeros(2, 12))
    # Turn env 1 by 90 degrees about z and move it: base-frame quantities must not change.
    yaw = math.pi / 2
    env.sim.qpos[1, :2] += torch.tensor([1.0, -2.0], dtype=torch.float64)
    env.sim.qpos[1, 3:7] = torch.tensor([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)], dtype=torch.float64)
    env.sim.qpos[1, 7:] = env.sim.qpos[0, 7:]
    env.sim.qpos[1, 2] = env.sim.qpos[0, 2]
    env.sim.forward()
    env._update_state()
    feet = OBSERVATION_TERMS["foot_pos_base"](env)
    assert feet.shape == (2, 12)
    # Against MuJoCo: each foot site's world position taken into the base body's frame.
    base = env.base_body_id
    for i in range(2):
        rotation = np.zeros(9)
        mujoco.mju_quat2Mat(rotation, env.sim.xquat[i, base].numpy())
        offset = env.sim.site_xpos[i, env.foot_site_ids].numpy() - env.sim.xpos[i, base].numpy()
        expected = (offset @ rotation.reshape(3, 3)).reshape(-1)  # R^T v for each row v
        assert np.allclose(feet[i].numpy(), expected, atol=1e-5)
    assert torch.allclose(feet[0], feet[1], atol=1e-5)
    assert torch.all(feet[:, 2::3] < -0.15)  # feet below the base; front feet ahead of it, hind feet behind
    assert torch.all(feet[:, [0, 3]] > 0.1) and torch.all(feet[:, [6, 9]] < -0.1)
    assert torch.equal(OBSERVATION_TERMS["base_height"](env), env.base_pos[:, 2:3])
    assert torch.equal(OBSERVATION_TERMS["joint_pos_abs"](env) - env.default_joint_pos, OBSERVATION_TERMS["joint_pos"](env))
    assert torch.equal(OBSERVATION_TERMS["foot_contact"](env), (env.foot_force > env.cfg.rewards.contact_force_threshold).float())

    # Any object with the attributes will do, e.g. a frame of reference motion.
    class Frame:
        base_pos = torch.tensor([[0.0, 0.0, 0.3]])
        base_quat = torch.tensor([[math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]])
        foot_pos = torch.tensor([[[0.0, 0.2, 0.0]]])  # one foot 0.2 m to the world's left = straight ahead after the turn

    assert OBSERVATION_TERMS["foot_pos_base"](Frame())[0].tolist() == pytest.approx([0.2, 0.0, -0.3], abs=1e-6)


# ------------------------------------------------------------------------------- layout, deployment


def test_layout_and_deployment_info_describe_every_group_and_the_history():
    cfg = config(amp=ObservationGroupConfig(AMP))
    cfg.observations["policy"].history_length = 4
    cfg.observations["policy"].terms[3].scale = 0.05  # joint_vel
    env = LeggedVelocityEnv(cfg)
    layout = env.observation_layout()
    names = ["base_ang_vel", "projected_gravity", "joint_pos", "joint_vel", "last_action", "command", "gait_clock"]
    assert layout["policy"] == list(zip(names, [3, 3, 12, 12, 12, 3, 2]))
    assert [n for n, _ in layout["critic"]] == names + ["base_lin_vel", "foot_contact_force", "foot_height", "feet_air_time",
                                                        "friction", "added_base_mass", "base_com_offset", "motor_strength", "push_vel"]
    assert env.observation_history() == {"policy": 4, "critic": 1, "amp": 1}
    assert env.num_obs == 4 * 47 and env.num_privileged_obs == 70
    for name, value in env.get_observations()[1]["observations"].items():
        assert value.shape[1] == env.observation_history()[name] * sum(w for _, w in layout[name])
    info = env.deployment_info()
    assert info["observation_layout"] == layout["policy"] and info["observation_history_length"] == 4
    assert info["observation_scales"] == [1.0, 1.0, 1.0, 0.05, 1.0, 1.0, 1.0] and info["num_obs"] == 188


# ------------------------------------------------------------------------------------ config errors


def bad(**changes):
    cfg = LeggedEnvConfig()
    for name, value in changes.items():
        if value is None:
            del cfg.observations[name]
        else:
            cfg.observations[name] = value
    return cfg


@pytest.mark.parametrize(
    "cfg, message",
    [
        (bad(teacher=ObservationGroupConfig(["base_lin_vel", "foot_velocity"])),
         r"observations.teacher.terms\[1\].name='foot_velocity': unknown observation term; known terms: \[.*'base_height'.*'foot_pos_base'"),
        (bad(policy=None), r"LeggedEnvConfig.observations=\['critic'\]: needs a 'policy' group"),
        (bad(amp=ObservationGroupConfig(AMP, history_length=0)), r"observations.amp.history_length=0: must be an int >= 1"),
        (bad(amp=ObservationGroupConfig(AMP, history_length=2.5)), r"observations.amp.history_length=2.5: must be an int >= 1"),
        (bad(amp=ObservationGroupConfig([])), r"observations.amp.terms=\[\]: must be a non-empty list"),
        (bad(amp=ObservationGroupConfig([ObservationTermConfig("joint_vel", noise=-0.1)])),
         r"observations.amp.terms\[0\].noise=-0.1: must be >= 0"),
        (bad(amp=ObservationGroupConfig([ObservationTermConfig("base_height", noise=None)])),
         r"observations.amp.terms\[0\].noise=None: None \(the sensor's noise from LeggedEnvConfig.noise\) exists only for \['base_ang_vel'"),
        (bad(amp=ObservationGroupConfig([ObservationTermConfig("joint_vel", scale=float("nan"))])),
         r"observations.amp.terms\[0\].scale=nan: must be a finite number"),
        (bad(amp=ObservationGroupConfig(["joint_vel", "command", "joint_vel"])),
         r"observations.amp.terms\[2\].name='joint_vel': appears twice in group 'amp'"),
        (bad(amp=ObservationGroupConfig([{"name": "joint_vel", "noize": 0.1}])),
         r"observations.amp.terms\[0\]=\{'name': 'joint_vel', 'noize': 0.1\}: must be an ObservationTermConfig"),
        (bad(**{"amp.v2": ObservationGroupConfig(AMP)}), r"observations='amp.v2': group names must be identifiers"),
        (bad(amp=3), r"observations.amp=3: must be an ObservationGroupConfig"),
    ],
)
def test_bad_observation_configs_name_the_group_term_and_value(cfg, message):
    with pytest.raises(ValueError, match=message):
        cfg.validate()


def test_a_group_of_only_the_gait_clock_without_the_gait_clock_is_an_error():
    cfg = config(clock=ObservationGroupConfig(["gait_clock"]))
    cfg.gait_clock = False
    with pytest.raises(ValueError, match=r"observations.clock has no terms left: its only one, gait_clock, is off"):
        LeggedVelocityEnv(cfg)


def test_groups_are_settable_from_the_command_line():
    from legged_train.config import apply_overrides, config_to_dict, parse_override_strings

    cfg = config(num_envs=2)
    apply_overrides(cfg, parse_override_strings([
        "observations.policy.history_length=3",
        "observations.critic.terms=[base_lin_vel, {name: joint_vel, noise: 0.5, scale: 0.1}]",
        "observations.amp={terms: [joint_pos_abs, base_height], history_length: 2}",
        "observations.student=[base_ang_vel, {name: joint_pos, noise: null}]",
    ]))
    env = LeggedVelocityEnv(cfg)  # validates, turning the mappings and names into group and term configs
    assert env.observation_history() == {"policy": 3, "critic": 1, "amp": 2, "student": 1}
    assert cfg.observations["critic"].terms[1] == ObservationTermConfig("joint_vel", noise=0.5, scale=0.1)
    assert cfg.observations["amp"] == ObservationGroupConfig([ObservationTermConfig("joint_pos_abs"), ObservationTermConfig("base_height")], 2)
    assert cfg.observations["student"].terms[1].noise is None  # the sensor's: noise.joint_pos
    assert env.obs_groups["student"].noise_width == 12 and env.obs_groups["critic"].noise_width == 12
    assert (env.num_obs, env.num_privileged_obs) == (3 * 47, 15)
    # What a run records (config.yaml) applies back onto a fresh config of the same task.
    recorded = config_to_dict(cfg)["observations"]
    fresh = config(num_envs=2, amp=ObservationGroupConfig(["command"]), student=ObservationGroupConfig(["command"]))
    apply_overrides(fresh, {f"observations.{g}.{k}": v for g, group in recorded.items() for k, v in group.items()})
    fresh.validate()
    assert fresh.observations == cfg.observations
    with pytest.raises(ValueError, match=r"observations.policy.history_length='x' must be an int"):
        apply_overrides(cfg, {"observations.policy.history_length": "x"})


# ------------------------------------------------------------------------------------ exact resume


def test_state_round_trip_with_history_continues_the_same_trajectory():
    def make():
        cfg = config(amp=ObservationGroupConfig(AMP, history_length=3))
        cfg.observations["policy"].history_length = 2
        return LeggedVelocityEnv(cfg)

    env_a, env_b = make(), make()
    actions = random_actions(6, 40)
    for a in actions[:10]:
        env_a.step(a)
    state = env_a.state_dict()
    assert set(state["observations"]) == {"policy", "critic", "amp"}
    env_b.load_state_dict(state)
    assert all(torch.equal(env_a.obs_bufs[g], env_b.obs_bufs[g]) for g in env_a.obs_bufs)
    finished = 0
    for a in actions[10:]:  # crosses resets, pushes and command resampling
        obs_a, rew_a, done_a, extras_a = env_a.step(a)
        obs_b, rew_b, done_b, extras_b = env_b.step(a)
        assert torch.equal(obs_a, obs_b) and torch.equal(rew_a, rew_b) and torch.equal(done_a, done_b)
        for name in ("critic", "amp"):
            assert torch.equal(extras_a["observations"][name], extras_b["observations"][name])
            assert torch.equal(extras_a["final_observations"][name], extras_b["final_observations"][name])
        finished += int(done_a.sum())
    assert finished > 0
    with pytest.raises(ValueError, match=r"observation groups of widths \{'policy': 94, 'critic': 70, 'amp': 129\}; this env's are \{'policy': 47"):
        LeggedVelocityEnv(config()).load_state_dict(state)
