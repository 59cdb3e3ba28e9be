"""Mistakes in the training config's learning settings, made on the command line as a user would:
one line naming the field and what is allowed, exit status 2, and no run folder left behind."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(tmp_path, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, os.path.join(ROOT, "train.py"), "--log-root", str(tmp_path / "logs"), *arguments]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_a_misspelled_network_option_names_the_field_and_the_allowed_keys(tmp_path):
    result = train(tmp_path, "--task", "go1_flat", "--num-envs", "8", "--max-iterations", "1",
                   "--set", "train.actor_cfg.hiden_dims=[64]")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "train.actor_cfg.hiden_dims" in lines[0]
    assert "allowed keys: activation, hidden_dims, min_std" in lines[0]
    logs = tmp_path / "logs"
    assert not logs.exists() or not any(logs.rglob("*")), sorted(map(str, logs.rglob("*")))


def test_a_network_option_the_algorithm_sets_itself_says_so(tmp_path):
    result = train(tmp_path, "--task", "go1_flat", "--num-envs", "8", "--max-iterations", "1",
                   "--set", "train.critic_cfg.obs_normalization=false")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "train.critic_cfg.obs_normalization: set by the algorithm" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
