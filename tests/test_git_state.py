"""Git-state archive: commit, status and diff of real repositories written at the start of a run."""

import os

import git
import pytest
import torch

from legged_train.algorithms.ppo import PPOConfig
from legged_train.git_state import store_code_state
from legged_train.runners.on_policy_runner import OnPolicyRunner
from toy_envs import PointMassEnv


def make_repo(path):
    repo = git.Repo.init(path)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    (path / "policy.py").write_text("GAIN = 1.0\n")
    repo.index.add(["policy.py"])
    repo.index.commit("first commit")
    return repo


def test_archive_holds_commit_status_and_the_uncommitted_diff(tmp_path):
    repo_dir = tmp_path / "robot_code"
    repo_dir.mkdir()
    repo = make_repo(repo_dir)
    (repo_dir / "policy.py").write_text("GAIN = 2.5\n")  # uncommitted edit
    (repo_dir / "notes.txt").write_text("new file\n")  # untracked

    written = store_code_state(str(tmp_path / "run"), [str(repo_dir / "policy.py")])
    out = tmp_path / "run" / "git" / "robot_code"
    assert sorted(written) == sorted(str(out / f) for f in ("commit.txt", "status.txt", "diff.patch"))
    diff = (out / "diff.patch").read_text()
    assert "-GAIN = 1.0" in diff and "+GAIN = 2.5" in diff
    assert repo.head.commit.hexsha in (out / "commit.txt").read_text()
    status = (out / "status.txt").read_text()
    assert "policy.py" in status and "notes.txt" in status


def test_directory_outside_a_repo_warns_and_does_not_raise(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.warns(UserWarning, match="not inside a git repository"):
        assert store_code_state(str(tmp_path / "run"), [str(plain)]) == []


def test_runner_archives_its_own_repo_and_added_repos(tmp_path):
    repo_dir = tmp_path / "extra_repo"
    repo_dir.mkdir()
    make_repo(repo_dir)
    (repo_dir / "policy.py").write_text("GAIN = 3.0\n")
    cfg = PPOConfig(num_steps_per_env=4, actor_cfg={"hidden_dims": [8]}, critic_cfg={"hidden_dims": [8]})
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=cfg, log_dir=str(tmp_path / "run"))
    runner.add_git_repo_to_log(str(repo_dir))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner.learn(num_learning_iterations=1)
    finally:
        torch.set_num_threads(previous)
        runner.close()
    archived = os.listdir(tmp_path / "run" / "git")
    assert "extra_repo" in archived
    assert "+GAIN = 3.0" in (tmp_path / "run" / "git" / "extra_repo" / "diff.patch").read_text()
    # This project's own repo is archived too when it is a git checkout (it is in development and CI).
    project_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isdir(os.path.join(project_root, ".git")):
        assert os.path.basename(project_root) in archived
