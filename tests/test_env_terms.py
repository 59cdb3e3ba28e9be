"""The legged env's MDP as configurable terms (envs/legged/): per-term parameters set like any other
field, the old spellings still accepted, a new term as one function plus one config line, the
command-range curriculum, per-term termination logs, and the backend interface importing no backend."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from legged_train.config import apply_overrides
from legged_train.envs.legged import curriculum, rewards, terminations
from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.robot import RobotConfig
from legged_train.envs.robots.go1 import constants as go1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_cfg(num_envs: int = 4) -> LeggedEnvConfig:
    cfg = LeggedEnvConfig(num_envs=num_envs)
    cfg.domain_rand.enabled = False
    cfg.noise.enabled = False
    cfg.sim.num_threads = 1
    return cfg


# ------------------------------------------------------------------------------- config paths


def test_term_parameters_are_set_like_any_field():
    cfg = small_cfg()
    apply_overrides(cfg, {
        "rewards.params.track_lin_vel.sigma": "0.3",
        "terminations.terms.base_too_low.min_height": "0.2",
        "terminations.terms.base_contact": "null",
        "curriculum.terms.command_range": "{threshold: 0.7}",
    })
    cfg.validate()
    assert cfg.rewards.params["track_lin_vel"] == {"sigma": 0.3}
    assert cfg.terminations.terms == {"bad_orientation": {"max_tilt": 1.0}, "base_too_low": {"min_height": 0.2}, "base_contact": None}
    assert cfg.curriculum.terms["command_range"] == {"threshold": 0.7}


def test_the_old_spellings_set_the_new_fields():
    cfg = small_cfg()
    apply_overrides(cfg, {
        "rewards.weights.feet_air_time": "0.5",  # the README's example: unchanged
        "rewards.tracking_sigma": "0.3",
        "rewards.feet_air_time_target": "0.2",
        "rewards.soft_joint_pos_limit": "0.9",
        "terminations.max_tilt": "0.8",
        "terminations.min_base_height": "0.15",
        "terminations.base_contact": "false",
    })
    cfg.validate()
    assert cfg.rewards.weights["feet_air_time"] == 0.5
    assert cfg.rewards.params == {"track_lin_vel": {"sigma": 0.3}, "track_ang_vel": {"sigma": 0.3},
                                  "feet_air_time": {"target": 0.2}, "joint_pos_limits": {"soft_limit": 0.9}}
    assert cfg.terminations.terms == {"bad_orientation": {"max_tilt": 0.8}, "base_too_low": {"min_height": 0.15}, "base_contact": None}
    # And from Python, as older scripts and tests wrote them.
    cfg = small_cfg()
    cfg.terminations.max_tilt = 0.5
    cfg.rewards.tracking_sigma = 0.4
    assert cfg.terminations.terms["bad_orientation"] == {"max_tilt": 0.5}
    assert cfg.rewards.params["track_ang_vel"] == {"sigma": 0.4}


def test_an_old_runs_env_config_loads():
    """The env section of a config.yaml written before the terms (flattened as the run loader does),
    with the robot file at its old place."""
    old = {
        "robot.mjcf_path": "/somewhere/legged_train/envs/assets/go1.xml",
        "rewards.weights": {"track_lin_vel": 1.5, "termination": -100.0},
        "rewards.tracking_sigma": 0.25, "rewards.feet_air_time_target": 0.25, "rewards.soft_joint_pos_limit": 0.95,
        "rewards.contact_force_threshold": 1.0, "rewards.only_positive_rewards": True,
        "terminations.max_tilt": 1.0, "terminations.min_base_height": 0.12, "terminations.base_contact": True,
    }
    cfg = small_cfg()
    apply_overrides(cfg, old)
    cfg.validate()
    assert cfg.robot.mjcf_path == go1.MJCF_PATH
    assert cfg.terminations.terms == LeggedEnvConfig().terminations.terms
    assert RobotConfig(mjcf_path="/elsewhere/robots/go1.xml").mjcf_path == "/elsewhere/robots/go1.xml"  # not ours: as given


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("terminations.terms.fell_over", {}, r"terminations.terms.fell_over=\{\}: unknown term; known terms: .*base_too_low"),
        ("terminations.terms.base_too_low.height", 0.1, r"terminations.terms.base_too_low.height=0.1: unknown parameter of base_too_low; it takes \['min_height'\]"),
        ("rewards.params.feet_air_time.target", -1.0, r"rewards.params.feet_air_time.target=-1.0: must be a finite number >= 0"),
        ("curriculum.terms.command_range.step", float("nan"), r"curriculum.terms.command_range.step=nan: must be a finite number"),
    ],
)
def test_bad_term_settings_name_the_field_the_value_and_what_is_allowed(path, value, message):
    cfg = small_cfg()
    if path.startswith("curriculum"):
        cfg.curriculum.terms["command_range"] = {}
    *parents, last = path.split(".")
    target = cfg
    for part in parents:
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    target[last] = value
    with pytest.raises(ValueError, match=message):
        cfg.validate()


# ------------------------------------------------------------------------------- terms


def test_a_new_reward_term_is_one_function_and_one_config_line(monkeypatch):
    def base_height_above(env, height: float = 0.2):
        return (env.base_pos[:, 2] > height).float()

    monkeypatch.setitem(rewards.REWARD_TERMS, "base_height_above", base_height_above)
    cfg = small_cfg()
    cfg.rewards.weights["base_height_above"] = 2.0
    cfg.rewards.params["base_height_above"] = {"height": 0.1}
    env = LeggedVelocityEnv(cfg)
    env.step(torch.zeros(cfg.num_envs, env.num_actions))
    assert torch.allclose(env.reward_terms["base_height_above"], torch.full((cfg.num_envs,), 2.0 * env.step_dt))


def test_the_episode_log_says_which_termination_ended_the_episodes():
    cfg = small_cfg()
    cfg.terminations.terms["base_too_low"] = {"min_height": 1.0}  # above the standing height
    env = LeggedVelocityEnv(cfg)
    _, _, dones, extras = env.step(torch.zeros(cfg.num_envs, env.num_actions))
    assert dones.all() and extras["terminated"].all()
    log = extras["log"]
    assert log["terminated_base_too_low"].item() == 1.0 and log["terminated_bad_orientation"].item() == 0.0
    assert set(env.terminated_by) == set(terminations.TERMINATION_TERMS)


def test_a_termination_turned_off_never_fires():
    cfg = small_cfg()
    cfg.terminations.terms["base_too_low"] = None
    env = LeggedVelocityEnv(cfg)
    env.sim.qpos[:, 2] = 0.05  # far below the default threshold
    env.sim.forward()
    env._update_state()
    env._check_terminations()
    assert "base_too_low" not in env.terminated_by and not env.terminated.any()


def test_one_step_episodes_are_warned_about_once(capsys):
    cfg = small_cfg()
    cfg.terminations.terms["base_too_low"] = {"min_height": 1.0}
    env = LeggedVelocityEnv(cfg)
    for _ in range(3 * terminations.OneStepEpisodes.STEPS):
        env.step(torch.zeros(cfg.num_envs, env.num_actions))
    lines = [line for line in capsys.readouterr().err.splitlines() if "ended at its first step" in line]
    assert len(lines) == 1 and "base_too_low (min_height=1.0, standing height 0.29 m)" in lines[0]


# ------------------------------------------------------------------------------- curriculum


def test_the_command_curriculum_is_off_by_default():
    env = LeggedVelocityEnv(small_cfg())
    assert env.curriculum_terms == {} and "command_ranges" not in env.state_dict()
    assert env.command_ranges["lin_vel_x"] == tuple(LeggedEnvConfig().commands.lin_vel_x)


def test_the_command_curriculum_widens_the_forward_range_when_tracking_is_good():
    cfg = small_cfg()
    cfg.curriculum.terms["command_range"] = {"step": 0.5, "max_lin_vel_x": 1.8}
    env = LeggedVelocityEnv(cfg)
    ids = torch.arange(cfg.num_envs)
    column = list(env.reward_weights).index("track_lin_vel")
    best = env.reward_weights["track_lin_vel"] * env.step_dt * env.max_episode_length  # a perfect episode
    env.common_step_counter = env.max_episode_length  # judged once per episode length

    env.episode_reward_sums[:, column] = 0.7 * best  # below 0.8 of the best: no change
    curriculum.command_range(env, ids, **cfg.curriculum.terms["command_range"])
    assert env.command_ranges["lin_vel_x"] == (-1.0, 1.0)

    env.episode_reward_sums[:, column] = 0.9 * best
    curriculum.command_range(env, ids, **cfg.curriculum.terms["command_range"])
    assert env.command_ranges["lin_vel_x"] == (-1.5, 1.5)
    env.common_step_counter += 1  # not at a multiple of the episode length: not judged
    curriculum.command_range(env, ids, **cfg.curriculum.terms["command_range"])
    assert env.command_ranges["lin_vel_x"] == (-1.5, 1.5)
    env.common_step_counter = 2 * env.max_episode_length
    curriculum.command_range(env, ids, **cfg.curriculum.terms["command_range"])
    assert env.command_ranges["lin_vel_x"] == (-1.8, 1.8)  # capped

    # New commands come from the widened range, and the range is part of the resumable state.
    forward = []
    for _ in range(50):
        env.reset_idx(ids)
        forward.append(env.commands[:, 0].clone())
    assert torch.cat(forward).abs().max() > 1.0
    state = env.state_dict()
    assert state["command_ranges"]["lin_vel_x"] == [-1.8, 1.8]
    fresh = LeggedVelocityEnv(cfg)
    fresh.load_state_dict(state)
    assert fresh.command_ranges["lin_vel_x"] == (-1.8, 1.8)


def test_the_command_curriculum_needs_the_tracking_reward():
    cfg = small_cfg()
    cfg.curriculum.terms["command_range"] = {}
    cfg.rewards.weights["track_lin_vel"] = 0.0
    with pytest.raises(ValueError, match=r"curriculum.terms.command_range=\{\}: needs the reward terms \['track_lin_vel'\]"):
        cfg.validate()


# ------------------------------------------------------------------------------- layout


def test_the_backend_interface_imports_no_backend():
    code = ("import sys, legged_train.envs.backend\n"
            "print(sorted(m for m in sys.modules if m.endswith(('mjbatch_backend', 'warp_backend', 'backend_factory'))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
