"""train.py and play.py end to end with tiny settings: go1_flat through the real command line, the
off-policy tasks through their main() functions (same code, without a second interpreter)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
    "--num-envs", "16",
    "--max-iterations", "2",
    "--set", "train.num_steps_per_env=4", "train.actor_cfg.hidden_dims=[32]", "train.critic_cfg.hidden_dims=[32]",
    "train.torch_threads=1", "env.sim.num_threads=1",
]


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, script), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    log_root = tmp_path_factory.mktemp("logs")
    run("train.py", "--task", "go1_flat", "--log-root", str(log_root), "--run-name", "tiny", "--seed", "3", *TINY)
    experiment = log_root / "go1_flat"
    (run_dir,) = [experiment / d for d in os.listdir(experiment)]
    return log_root, run_dir


def test_train_writes_the_run_directory_layout(trained_run):
    _, run_dir = trained_run
    name = run_dir.name
    assert name.endswith("_tiny") and len(name) == len("YYYY-mm-dd_HH-MM-SS_tiny")
    files = os.listdir(run_dir)
    assert "model_2.pt" in files and "config.yaml" in files
    assert any(f.startswith("events.out.tfevents") for f in files)
    assert os.path.isfile(run_dir / "git" / os.path.basename(ROOT) / "diff.patch") or not os.path.isdir(os.path.join(ROOT, ".git"))
    config = yaml.safe_load(open(run_dir / "config.yaml"))
    assert config["task"] == "go1_flat"
    assert config["env"]["num_envs"] == 16 and config["env"]["seed"] == 3
    assert config["train"]["num_steps_per_env"] == 4 and config["train"]["actor_cfg"]["hidden_dims"] == [32]


def test_resume_continues_the_run_in_its_folder(trained_run):
    log_root, run_dir = trained_run
    run("train.py", "--task", "go1_flat", "--log-root", str(log_root), "--resume", "--load-run", run_dir.name,
        "--extra-iterations", "1")
    assert os.listdir(log_root / "go1_flat") == [run_dir.name]
    assert "model_3.pt" in os.listdir(run_dir)
    config = yaml.safe_load(open(run_dir / "config.yaml"))
    assert config["train"]["num_steps_per_env"] == 4  # the run's own config, not the task's defaults
    assert config["resumes"][0]["iteration"] == 2 and config["resumes"][0]["resumed_from"].endswith("model_2.pt")


def test_play_writes_video_and_an_onnx_policy_matching_torch(trained_run, tmp_path):
    log_root, run_dir = trained_run
    export_dir = tmp_path / "export"
    video = tmp_path / "play.mp4"
    result = run(
        "play.py", "--task", "go1_flat", "--log-root", str(log_root), "--load-run", run_dir.name, "--checkpoint", "2",
        "--video", "--video-path", str(video), "--width", "160", "--height", "120",
        "--commands", "0.5,0,0@0.4", "0,0,1@0.2", "--no-eval", "--export-dir", str(export_dir), "--headless",
    )
    assert video.stat().st_size > 1000
    segments = [json.loads(line)["segment"] for line in result.stdout.splitlines() if line.startswith('{"segment"')]
    assert [s["command"] for s in segments] == [[0.5, 0.0, 0.0], [0.0, 0.0, 1.0]]

    info = json.load(open(export_dir / "policy.json"))
    for key in ("observation_layout", "joint_names", "default_joint_pos", "action_scale", "kp", "kd"):
        assert key in info, key
    num_obs = info["inputs"]["obs"][1]

    import onnxruntime

    from legged_train.checkpoint import load_checkpoint_file
    from legged_train.networks import MLPActor

    checkpoint = load_checkpoint_file(run_dir / "model_2.pt")
    actor = MLPActor(num_obs, len(info["joint_names"]), hidden_dims=[32], obs_normalization=True)
    actor.load_state_dict(checkpoint["actor_state_dict"])
    actor.eval()
    obs = torch.randn(10, num_obs) * 2.0
    with torch.no_grad():
        expected = actor(obs).numpy()
    session = onnxruntime.InferenceSession(str(export_dir / "policy.onnx"))
    (onnx_actions,) = session.run(None, {"obs": obs.numpy()})
    np.testing.assert_allclose(onnx_actions, expected, atol=1e-5, rtol=1e-5)
    scripted = torch.jit.load(str(export_dir / "policy.pt"))
    np.testing.assert_allclose(scripted(obs).detach().numpy(), expected, atol=1e-6, rtol=1e-6)


def test_cli_errors_are_clear(tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train.py"), "--task", "go1_flat", "--set", "train.learning_rate=fast",
         "--log-root", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0 and "learning_rate='fast' must be a number" in result.stderr
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--list"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "go1_flat" in result.stdout.split()


@pytest.mark.parametrize("task", ["cartpole_dqn", "pendulum_sac"])
def test_play_replays_an_off_policy_run_and_exports_its_deterministic_policy(task, tmp_path, capsys):
    from legged_train.cli import play
    from legged_train.cli import train
    from legged_train.algorithms.dqn import MLPQNetwork
    from legged_train.algorithms.sac import SquashedGaussianActor
    from legged_train.checkpoint import load_checkpoint_file

    networks = ["train.q_network_cfg.hidden_dims=[32]"] if task == "cartpole_dqn" else [
        "train.actor_cfg.hidden_dims=[32]", "train.critic_cfg.hidden_dims=[32]"]
    assert train.main([
        "--task", task, "--total-timesteps", "300", "--log-root", str(tmp_path), "--set", "train.learning_starts=100",
        "train.train_freq=1", "train.gradient_steps=1", "train.log_interval=100", *networks,
    ]) == 0
    (run_dir,) = [tmp_path / task / d for d in os.listdir(tmp_path / task)]
    export_dir = tmp_path / "export"
    capsys.readouterr()
    assert play.main(["--task", task, "--log-root", str(tmp_path), "--export-dir", str(export_dir), "--headless"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (evaluation,) = [line["evaluation"] for line in lines if "evaluation" in line]
    assert set(evaluation) == {"eval/mean_reward", "eval/std_reward", "eval/min_reward", "eval/max_reward"}
    assert not any("segment" in line or "standard_evaluation" in line for line in lines)  # legged envs only

    # The deterministic policy rebuilt from the checkpoint alone: argmax Q, or 2 tanh(mean) on Pendulum's [-2, 2].
    state = load_checkpoint_file(run_dir / "model_300.pt")["algorithm_state"]
    obs = torch.randn(64, 4 if task == "cartpole_dqn" else 3) * 2.0
    with torch.no_grad():
        if task == "cartpole_dqn":
            q_network = MLPQNetwork(num_obs=4, num_actions=2, hidden_dims=[32])
            q_network.load_state_dict(state["q_network"])
            expected = q_network(obs).argmax(dim=-1).numpy()
        else:
            actor = SquashedGaussianActor(num_obs=3, num_actions=1, hidden_dims=[32])
            actor.load_state_dict(state["actor"])
            expected = (2.0 * torch.tanh(actor(obs)[0])).numpy()

    import onnxruntime

    (onnx_actions,) = onnxruntime.InferenceSession(str(export_dir / "policy.onnx")).run(None, {"obs": obs.numpy()})
    scripted_actions = torch.jit.load(str(export_dir / "policy.pt"))(obs).detach().numpy()
    info = json.load(open(export_dir / "policy.json"))
    if task == "cartpole_dqn":
        assert len(set(expected.tolist())) == 2  # both actions occur: the comparison means something
        np.testing.assert_array_equal(onnx_actions, expected)
        np.testing.assert_array_equal(scripted_actions, expected)
        assert info["outputs"]["actions"] == [None] and info["output_dtype"] == "int64"
    else:
        np.testing.assert_allclose(onnx_actions, expected, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(scripted_actions, expected, atol=1e-6, rtol=1e-6)
        assert info["outputs"]["actions"] == [None, 1] and info["output_dtype"] == "float32"
