"""Mistakes in the legged env's config, through train.py as a user runs it (issue 20): a reward
weight that is not a finite number is refused before anything is written; a termination that
fires in the standing pose is named by a warning instead of training silently on one-step episodes."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
    "--num-envs", "16",
    "--max-iterations", "2",
    "--set", "train.num_steps_per_env=4", "train.actor_cfg.hidden_dims=[32]", "train.critic_cfg.hidden_dims=[32]",
    "train.torch_threads=1", "env.sim.num_threads=1",
]


def train(log_root, *settings: str) -> subprocess.CompletedProcess:
    """train.py go1_flat with the tiny settings, plus more ``--set`` items."""
    args = [sys.executable, os.path.join(ROOT, "train.py"), "--task", "go1_flat", "--log-root", str(log_root), *TINY, *settings]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("value, shown", [(".inf", "inf"), ("-.inf", "-inf"), (".nan", "nan")])
def test_a_reward_weight_that_is_not_finite_is_refused_before_the_run_folder(tmp_path, value, shown):
    log_root = tmp_path / "logs"
    result = train(log_root, f"env.rewards.weights.track_lin_vel={value}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"rewards.weights.track_lin_vel={shown}" in lines[0] and "must be a finite number" in lines[0]
    assert not log_root.exists() or not any(log_root.rglob("*")), "a run folder was left behind"


def test_a_termination_that_ends_every_episode_at_its_first_step_is_named(tmp_path):
    # Above Go1's standing height (0.29 m): every episode ends at its first step.
    result = train(tmp_path / "logs", "env.terminations.min_base_height=1.0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "ended at its first step" in line]
    assert len(warnings) == 1, result.stderr
    assert "base_too_low" in warnings[0] and "min_height=1.0" in warnings[0] and "standing height 0.29" in warnings[0]


def test_a_sound_config_trains_without_that_warning(tmp_path):
    result = train(tmp_path / "logs")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ended at its first step" not in result.stderr
