"""Runs that survive their users: safe checkpoints, exact resume after kill -9, Ctrl-C / SIGTERM
saves, no NaN saved, and user errors reported in one line with exit status 2 and no run folder."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from legged_train.checkpoint import (
    CheckpointError,
    NonFiniteCheckpointError,
    atomic_torch_save,
    list_checkpoints,
    load_checkpoint_file,
)
from legged_train.runners.base import check_identity

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tiny go1_flat runs: 16 envs, 4 steps per iteration, half-second episodes (so episodes end often).
TINY_SETTINGS = [
    "train.num_steps_per_env=4", "train.actor_cfg.hidden_dims=[32]", "train.critic_cfg.hidden_dims=[32]",
    "train.torch_threads=1", "train.rollout_torch_threads=1", "env.sim.num_threads=1", "env.episode_length_s=0.5",
    "train.save_interval=2",
]


def command(script: str, *args: str) -> list[str]:
    return [sys.executable, os.path.join(ROOT, script), *args]


def run(script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command(script, *args), cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def train_args(log_root, *more: str, iterations: int = 6) -> list[str]:
    return ["--task", "go1_flat", "--log-root", str(log_root), "--num-envs", "16", "--seed", "5",
            "--max-iterations", str(iterations), *more, "--set", *TINY_SETTINGS]


def only_run(log_root, task: str = "go1_flat"):
    (run_dir,) = [os.path.join(log_root, task, d) for d in os.listdir(os.path.join(log_root, task))]
    return run_dir


def wait_for(path: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, f"the run ended before {path} appeared:\n{process.communicate()}"
        assert time.time() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.005)


def learning_curves(run_dir: str) -> dict[str, list[tuple[int, float]]]:
    """Every logged scalar but wall-clock ones, as (step, value) lists, read as TensorBoard reads a run
    folder: all its event files together, a resumed run's purge applied."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(run_dir)
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
        if not tag.startswith("perf/")
    }


def assert_same_tensors(a: dict, b: dict, prefix: str = "") -> None:
    for key in a:
        if isinstance(a[key], dict):
            assert_same_tensors(a[key], b[key], f"{prefix}{key}.")
        elif isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), f"{prefix}{key} differs"
        else:
            assert a[key] == b[key], f"{prefix}{key}: {a[key]!r} != {b[key]!r}"


# ------------------------------------------------------------------------------ exact resume


def test_kill_9_then_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    iterations = 40
    run("train.py", *train_args(tmp_path / "whole", iterations=iterations))

    interrupted = tmp_path / "killed"
    process = subprocess.Popen(command("train.py", *train_args(interrupted, iterations=iterations)), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.makedirs(interrupted / "go1_flat", exist_ok=True)
    while not os.listdir(interrupted / "go1_flat"):
        time.sleep(0.005)
    wait_for(os.path.join(only_run(interrupted), "model_10.pt"), process)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    killed_run = only_run(interrupted)
    assert os.path.basename(list_checkpoints(killed_run)[-1]) != f"model_{iterations}.pt"

    # --max-iterations is the run's total: the resumed run ends at 40, in the same folder.
    run("train.py", "--task", "go1_flat", "--log-root", str(interrupted), "--resume", "--max_iterations", str(iterations))
    assert only_run(interrupted) == killed_run
    whole = load_checkpoint_file(os.path.join(only_run(tmp_path / "whole"), f"model_{iterations}.pt"))
    resumed = load_checkpoint_file(os.path.join(killed_run, f"model_{iterations}.pt"))
    for key in ("actor_state_dict", "critic_state_dict", "optimizer_state_dict", "env_state", "episode_statistics",
                "iteration", "total_timesteps", "learning_rate", "rng_state"):
        assert_same_tensors({key: whole[key]}, {key: resumed[key]})

    # One curve: every step once, with the uninterrupted run's values (episode/mean_reward included).
    whole_curves, resumed_curves = learning_curves(only_run(tmp_path / "whole")), learning_curves(killed_run)
    assert "episode/mean_reward" in whole_curves and set(whole_curves) == set(resumed_curves)
    for tag, values in whole_curves.items():
        steps = [step for step, _ in resumed_curves[tag]]
        assert steps == sorted(set(steps)), f"{tag}: overlapping steps {steps}"
        assert resumed_curves[tag] == values, tag


def test_env_state_round_trip_continues_the_same_trajectory():
    from legged_train.tasks import get_task

    task = get_task("go1_flat")
    cfg = task.env_cfg
    cfg.num_envs, cfg.sim.num_threads, cfg.episode_length_s = 8, 1, 0.3
    env_a, env_b = task.make_env(cfg, "cpu"), task.make_env(cfg, "cpu")
    generator = torch.Generator().manual_seed(0)
    actions = [torch.randn(8, 12, generator=generator) for _ in range(30)]
    for a in actions[:10]:
        env_a.step(a)
    env_b.load_state_dict(env_a.state_dict())
    for a in actions[10:]:  # crosses resets (0.3 s episodes), pushes and command resampling
        obs_a, rew_a, done_a, _ = env_a.step(a)
        obs_b, rew_b, done_b, _ = env_b.step(a)
        assert torch.equal(obs_a, obs_b) and torch.equal(rew_a, rew_b) and torch.equal(done_a, done_b)
    with pytest.raises(ValueError, match="num_envs=4"):
        cfg.num_envs = 4
        task.make_env(cfg, "cpu").load_state_dict(env_a.state_dict())


def test_extra_iterations_and_a_finished_run(tmp_path):
    run("train.py", *train_args(tmp_path, iterations=2))
    run_dir = only_run(tmp_path)
    done = run("train.py", "--task", "go1_flat", "--log-root", str(tmp_path), "--resume", "--max-iterations", "2", check=False)
    assert done.returncode == 2 and "already at iteration 2" in done.stderr and "--extra-iterations" in done.stderr
    run("train.py", "--task", "go1_flat", "--log-root", str(tmp_path), "--resume", "--extra-iterations", "2")
    assert os.path.basename(list_checkpoints(run_dir)[-1]) == "model_4.pt"
    # Schedules keep the run's 2-iteration horizon: the third iteration already uses the final entropy
    # coefficient (over a 4-iteration horizon it would be halfway, 0.0075).
    assert load_checkpoint_file(os.path.join(run_dir, "model_4.pt"))["config"]["max_iterations"] == 2
    assert learning_curves(run_dir)["train/entropy_coef"][2] == (2, pytest.approx(0.005))
    assert os.listdir(tmp_path / "go1_flat") == [os.path.basename(run_dir)]


# ------------------------------------------------------------------------------- interrupts


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_save_a_checkpoint_and_exit_cleanly(tmp_path, signum):
    process = subprocess.Popen(command("train.py", *train_args(tmp_path, iterations=100_000)), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.makedirs(tmp_path / "go1_flat", exist_ok=True)
    while not os.listdir(tmp_path / "go1_flat"):
        time.sleep(0.01)
    wait_for(os.path.join(only_run(tmp_path), "model_2.pt"), process)
    time.sleep(0.3)  # a few more iterations, past the last scheduled save
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "interrupted at iteration" in stdout
    saved = load_checkpoint_file(list_checkpoints(only_run(tmp_path))[-1])
    assert saved["iteration"] > 2 and f"model_{saved['iteration']}.pt" in stdout


def test_a_second_ctrl_c_aborts_at_once(tmp_path):
    # Long iterations (800 steps each), so that the second Ctrl-C lands inside one.
    args = [*train_args(tmp_path, iterations=100_000), "train.num_steps_per_env=800"]
    process = subprocess.Popen(command("train.py", *args), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.makedirs(tmp_path / "go1_flat", exist_ok=True)
    while not os.listdir(tmp_path / "go1_flat"):
        time.sleep(0.01)
    wait_for(os.path.join(only_run(tmp_path), "model_2.pt"), process)
    process.send_signal(signal.SIGINT)
    while "stopping after this iteration" not in process.stderr.readline():  # the run will stop after this (long) one
        assert process.poll() is None
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr and "aborted" in stderr
    run_dir = only_run(tmp_path)
    assert not [name for name in os.listdir(run_dir) if name.startswith(".tmp_")]
    for path in list_checkpoints(run_dir):
        load_checkpoint_file(path)  # every checkpoint left is whole


# --------------------------------------------------------------------------- safe checkpoints


class _RunsACommand:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    log_root = tmp_path_factory.mktemp("logs")
    run("train.py", *train_args(log_root, iterations=2))
    return log_root, only_run(log_root)


def test_a_checkpoint_that_would_run_code_is_refused(tiny_run, tmp_path):
    log_root, run_dir = tiny_run
    marker = tmp_path / "marker"
    checkpoint = load_checkpoint_file(os.path.join(run_dir, "model_2.pt"))
    checkpoint["payload"] = _RunsACommand(str(marker))
    evil = os.path.join(run_dir, "model_9.pt")
    torch.save(checkpoint, evil)  # what an attacker would write: a plain pickle with a reduce hook
    try:
        for result in (
            run("train.py", "--task", "go1_flat", "--log-root", str(log_root), "--resume", "--extra-iterations", "1", check=False),
            run("play.py", "--task", "go1_flat", "--log-root", str(log_root), "--no-export", "--no-eval",
                "--commands", "0,0,0@0.1", "--headless", check=False),
        ):
            assert result.returncode == 2, result.stderr
            assert "refused" in result.stderr and "Traceback" not in result.stderr
        with pytest.raises(CheckpointError, match="could run code"):
            load_checkpoint_file(evil)
        assert not marker.exists()
    finally:
        os.remove(evil)


def test_checkpoints_hold_only_tensors_and_plain_types(tiny_run):
    _, run_dir = tiny_run
    checkpoint = torch.load(os.path.join(run_dir, "model_2.pt"), weights_only=True)
    assert {"env_state", "episode_statistics", "identity", "rng_state"} <= set(checkpoint)
    assert checkpoint["identity"]["task"] == "go1_flat"
    assert checkpoint["identity"]["robot"]["joint_names"][0] == "FR_hip_joint"


def test_nan_is_never_saved_and_names_its_source(tmp_path):
    path = tmp_path / "model_1.pt"
    with pytest.raises(NonFiniteCheckpointError, match=r"actor\.weight"):
        atomic_torch_save({"actor": {"weight": torch.tensor([1.0, float("nan")])}}, path)
    assert os.listdir(tmp_path) == []

    # A finite weight whose rewards overflow float32 (a NaN weight is refused up front now) stops the run,
    # naming the buffer gone non-finite; no checkpoint is written after it, no run folder without one is left.
    result = run("train.py", *train_args(tmp_path, iterations=4), "env.rewards.weights.joint_acc=-3e38", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "non-finite values (NaN/Inf) in env_state.buffers.episode_reward_sums" in result.stderr
    assert not os.path.exists(tmp_path / "go1_flat") or os.listdir(tmp_path / "go1_flat") == []


def test_nan_in_the_actor_is_reported_by_name_not_by_torch():
    from legged_train.finite import NonFiniteError
    from legged_train.runners.on_policy_runner import OnPolicyRunner
    from toy_envs import PointMassEnv

    runner = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg={"runner": {"num_steps_per_env": 4}})
    with torch.no_grad():
        runner.alg.actor.mlp[0].weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match=r"network 'actor', parameters \['mlp\.0\.weight'\]"):
        runner.learn(num_learning_iterations=1)


def test_files_are_atomic_readable_and_leave_no_temp_behind(tmp_path):
    stale = tmp_path / ".tmp_abc123.pt"
    stale.write_bytes(b"half a checkpoint from a killed writer")
    atomic_torch_save({"schema_version": 2, "value": torch.ones(2)}, tmp_path / "model_1.pt")
    assert os.listdir(tmp_path) == ["model_1.pt"]
    (tmp_path / "other.txt").write_text("x")  # what any other file of the run gets
    assert os.stat(tmp_path / "model_1.pt").st_mode & 0o777 == os.stat(tmp_path / "other.txt").st_mode & 0o777


def test_a_run_is_tied_to_its_task_and_robot(tiny_run):
    log_root, run_dir = tiny_run
    for script, extra in (("play.py", ["--no-export"]), ("train.py", ["--resume"])):
        result = run(script, "--task", "cartpole_dqn", "--log-root", str(log_root), "--load-run", run_dir, *extra, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "belongs to a run of task 'go1_flat', not 'cartpole_dqn'" in result.stderr
    checkpoint = load_checkpoint_file(os.path.join(run_dir, "model_2.pt"))
    other_robot = {"task": "go1_flat", "robot": {"mjcf": "minidog.xml", "joint_names": ["hip", "knee"]}}
    with pytest.raises(CheckpointError, match="trained on robot go1.xml"):
        check_identity(checkpoint, other_robot, "model_2.pt")


# ------------------------------------------------------------------------------ user errors


@pytest.mark.parametrize(
    "args, message",
    [
        (["--num-envs", "0"], "--num-envs=0: must be >= 1"),
        (["--set", "env.domain_rand.friction=[2,1]"], "domain_rand.friction"),
        (["--set", "env.num_envs=0"], "num_envs=0"),
        (["--total-timesteps", "-5"], "--total-timesteps=-5: must be >= 1"),
        (["--run-name", "../../x"], "run_name='../../x'"),
        (["--set", "train.run_name=../x"], "run_name='../x'"),
        (["--task", "no_such_task"], "unknown task 'no_such_task'"),
        (["--set", "train.actor_cfg.hidden_dims=[]"], "hidden_dims=[]"),
        (["--extra-iterations", "3"], "--extra-iterations only makes sense with --resume"),
        (["--set", "env.commands.lin_vel_x=[1]"], "must be a (low, high) pair"),
        (["--set", f"env.robot.mjcf_path={os.path.join(ROOT, 'tests', 'assets', 'broken.xml')}"], "broken.xml"),
    ],
)
def test_train_user_errors_are_one_line_with_no_run_folder(tmp_path, args, message):
    full = ["--task", "go1_flat", "--log-root", str(tmp_path), "--num-envs", "4", "--max-iterations", "1", *args]
    result = run("train.py", *full, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and message in result.stderr
    (error_line,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert error_line.startswith("train.py: error:")
    assert not os.path.exists(tmp_path / "go1_flat") or os.listdir(tmp_path / "go1_flat") == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_says_so(tmp_path):
    result = run("train.py", "--task", "go1_flat", "--log-root", str(tmp_path), "--device", "cuda", check=False)
    assert result.returncode == 2 and "CUDA is not available" in result.stderr


def test_video_clips_during_training(tmp_path):
    run("train.py", *train_args(tmp_path, "--video", "--video_interval", "2", "--video-length", "0.3", "--headless",
                                iterations=2))
    clip = os.path.join(only_run(tmp_path), "videos", "iteration_2.mp4")
    assert os.path.getsize(clip) > 1000
    import imageio.v2 as imageio

    frames = imageio.mimread(clip)
    assert len(frames) >= 3 and frames[0].std() > 5  # a real picture, not a blank frame


def test_resume_with_other_network_sizes_is_one_line(tiny_run):
    log_root, run_dir = tiny_run
    before = sorted(os.listdir(run_dir))
    result = run("train.py", "--task", "go1_flat", "--log-root", str(log_root), "--resume", "--extra-iterations", "1",
                 "--set", "train.actor_cfg.hidden_dims=[64]", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "actor_state_dict.mlp.0.weight is (32, " in result.stderr and ", (64, " in result.stderr
    assert sorted(os.listdir(run_dir)) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--video", "--width", "0"], "--width=0: must be >= 1"),
        (["--num-envs", "0"], "--num-envs=0: must be >= 1"),
        (["--commands", "1,2@3"], "needs 3 values"),
        (["--checkpoint", "77"], "checkpoint '77' not found"),
    ],
)
def test_play_user_errors_are_one_line(tiny_run, args, message):
    log_root, _ = tiny_run
    result = run("play.py", "--task", "go1_flat", "--log-root", str(log_root), "--headless", *args, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr


def test_resume_restores_an_observation_group_added_on_the_command_line(tmp_path):
    added = "env.observations.amp={terms: [joint_pos, base_lin_vel], history_length: 2}"
    run("train.py", *train_args(tmp_path, iterations=2), added)
    run("train.py", "--task", "go1_flat", "--log-root", str(tmp_path), "--resume", "--extra-iterations", "1")
    checkpoint = load_checkpoint_file(os.path.join(only_run(tmp_path), "model_3.pt"))
    assert checkpoint["env_state"]["observations"]["amp"].shape[1] == 2 * (12 + 3)
