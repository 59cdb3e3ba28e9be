"""User errors of every command line, run as a user runs them (a subprocess): exit status 2 (1 for a
failure inside training), no traceback, one line that names the thing and what to do, and nothing
left behind (no run folder without a checkpoint, no study, no partial file). Issue 20's cases."""

import os
import shutil
import stat
import subprocess
import sys

import pytest
import torch

from legged_train.checkpoint import list_checkpoints, load_checkpoint_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tiny go1_flat runs: 16 envs, 4 steps per iteration, a checkpoint every iteration.
TINY = ["--num-envs", "16", "--seed", "5", "--set", "train.num_steps_per_env=4", "train.actor_cfg.hidden_dims=[32]",
        "train.critic_cfg.hidden_dims=[32]", "train.torch_threads=1", "train.rollout_torch_threads=1",
        "env.sim.num_threads=1", "env.episode_length_s=0.5", "train.save_interval=1"]
# What play.py needs to start and stop at once (the error comes before the replay).
QUICK_PLAY = ["--headless", "--no-eval", "--no-export", "--commands", "0,0,0@0.1"]


def run(args: list[str], env: dict | None = None, module: str | None = None) -> subprocess.CompletedProcess:
    """``python <script> args`` (or ``python -m <module> args``) from the repository root."""
    command = [sys.executable, "-m", module, *args] if module else [sys.executable, os.path.join(ROOT, args[0]), *args[1:]]
    environment = {**os.environ, "MUJOCO_GL": "egl", **(env or {})}
    return subprocess.run(command, cwd=ROOT, env={k: v for k, v in environment.items() if v is not None},
                          capture_output=True, text=True, timeout=300)


def assert_user_error(result: subprocess.CompletedProcess, *words: str, status: int = 2) -> str:
    """The one error line, checked for status, traceback and the words it must hold; returned."""
    assert result.returncode == status, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if "error:" in line or "stopped:" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def run_folders(log_root, task: str = "go1_flat") -> list[str]:
    folder = os.path.join(log_root, task)
    return os.listdir(folder) if os.path.isdir(folder) else []


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-iteration go1_flat run with model_1.pt and model_2.pt. Tests that damage it work on a copy."""
    log_root = tmp_path_factory.mktemp("logs")
    result = run(["train.py", "--task", "go1_flat", "--log-root", str(log_root), "--max-iterations", "2", *TINY])
    assert result.returncode == 0, result.stderr[-3000:]
    (name,) = run_folders(log_root)
    return log_root, os.path.join(log_root, "go1_flat", name)


def copy_of(tiny_run, tmp_path):
    """A copy of the shared run under a fresh log root: (log_root, run_dir)."""
    _, run_dir = tiny_run
    copy = tmp_path / "logs" / "go1_flat" / os.path.basename(run_dir)
    shutil.copytree(run_dir, copy)
    return tmp_path / "logs", str(copy)


# ------------------------------------------------------------------ 1. a log root that cannot be written


def test_a_log_root_that_is_a_file_is_one_line(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    for log_root in (a_file, a_file / "below"):
        result = run(["train.py", "--task", "go1_flat", "--log-root", str(log_root), "--max-iterations", "1", "--num-envs", "4"])
        assert_user_error(result, f"--log-root='{log_root}'", "not a folder")
    result = run(["tune.py", "--task", "go1_amp", "--log-root", str(a_file), "--trials", "1", "--iterations", "1"])
    assert_user_error(result, f"--log-root='{a_file}'", "is a file")
    out = a_file / "clips" / "trot.npz"
    result = run(["generate", "--gait", "trot", "--out", str(out)], module="legged_train.motions")
    assert_user_error(result, f"--out='{out}'", f"lies under the file '{a_file}'")
    assert a_file.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_log_root_is_one_line(tmp_path):
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = run(["train.py", "--task", "go1_flat", "--log-root", str(read_only / "logs"), "--num-envs", "4"])
        assert_user_error(result, "no permission to write", str(read_only))
    finally:
        read_only.chmod(stat.S_IRWXU)


# --------------------------------------------------------------- 2. wandb online without a login


def test_wandb_online_without_a_login_is_one_line_before_the_run_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # No key anywhere wandb looks (environment, ~/.netrc, its settings): it cannot log in, and must not try.
    env = {"WANDB_MODE": "online", "WANDB_API_KEY": None, "WANDB_IDENTITY_TOKEN_FILE": None, "NETRC": None,
           "HOME": str(home), "WANDB_CONFIG_DIR": str(home / "wandb"), "WANDB_DIR": str(home)}
    result = run(["train.py", "--task", "go1_flat", "--log-root", str(tmp_path / "logs"), "--logger", "tensorboard,wandb",
                  "--max-iterations", "1", *TINY], env=env)
    assert_user_error(result, "wandb", "wandb login", "WANDB_MODE=offline")
    assert run_folders(tmp_path / "logs") == []


# ------------------------------------------------------------- 3. a video without a GL that works


def test_a_video_with_mujoco_gl_glx_and_no_display_is_one_line(tiny_run, tmp_path):
    log_root, run_dir = tiny_run
    env = {"MUJOCO_GL": "glx", "DISPLAY": None, "WAYLAND_DISPLAY": None}
    result = run(["train.py", "--task", "go1_flat", "--log-root", str(tmp_path), "--video", "--max-iterations", "1", *TINY],
                 env=env)
    assert_user_error(result, "--video", "MUJOCO_GL=glx", "MUJOCO_GL=egl", "MUJOCO_GL=osmesa")
    assert run_folders(tmp_path) == []
    result = run(["play.py", "--task", "go1_flat", "--log-root", str(log_root), "--video", *QUICK_PLAY], env=env)
    assert_user_error(result, "--video", "MUJOCO_GL=glx", "MUJOCO_GL=egl")
    assert not os.path.exists(os.path.join(run_dir, "videos"))


# ------------------------------------------------------ 4. minibatches the rollout cannot be split into


def test_more_minibatches_than_the_rollout_holds_is_one_line_before_the_run_folder(tmp_path):
    result = run(["train.py", "--task", "go1_flat", "--log-root", str(tmp_path), "--max-iterations", "1", *TINY,
                  "train.num_mini_batches=100000"])
    assert_user_error(result, "train.num_mini_batches=100000", "at most 64", "num_steps_per_env=4", "num_envs=16")
    assert run_folders(tmp_path) == []


# ------------------------------------------------------------------ 5. a damaged config.yaml


def test_a_corrupt_config_yaml_names_the_file_and_the_line(tiny_run, tmp_path):
    log_root, run_dir = copy_of(tiny_run, tmp_path)
    config = os.path.join(run_dir, "config.yaml")
    with open(config, "a", encoding="utf-8") as file:
        file.write("env: {broken: [1, 2\n")  # an unclosed flow sequence, appended at the end
    line = sum(1 for _ in open(config, encoding="utf-8"))
    before = sorted(os.listdir(run_dir))
    for args in (["play.py", *QUICK_PLAY], ["train.py", "--resume", "--extra-iterations", "1"]):
        result = run([args[0], "--task", "go1_flat", "--log-root", str(log_root), *args[1:]])
        assert_user_error(result, config, "not valid YAML", f"line {line + 1}")
    assert sorted(os.listdir(run_dir)) == before


# -------------------------------------------------------------- 6. a corrupt (not unsafe) checkpoint


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_a_corrupt_checkpoint_is_not_called_unsafe_and_names_the_intact_ones(tiny_run, tmp_path, damage):
    log_root, run_dir = copy_of(tiny_run, tmp_path)
    latest = os.path.join(run_dir, "model_2.pt")
    data = open(latest, "rb").read()
    with open(latest, "wb") as file:
        file.write(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    for args in (["play.py", *QUICK_PLAY], ["train.py", "--resume", "--extra-iterations", "1"]):
        result = run([args[0], "--task", "go1_flat", "--log-root", str(log_root), *args[1:]])
        line = assert_user_error(result, "model_2.pt", "is corrupt", "model_1.pt", "--checkpoint 1")
        assert "weights_only" not in line and "could run code" not in line
    assert [os.path.basename(p) for p in list_checkpoints(run_dir)] == ["model_1.pt", "model_2.pt"]


# ------------------------------------------------------------- 14. an old checkpoint without a schema


def test_an_old_checkpoint_says_what_to_do_on_the_command_line(tiny_run, tmp_path):
    log_root, run_dir = copy_of(tiny_run, tmp_path)
    path = os.path.join(run_dir, "model_2.pt")
    checkpoint = load_checkpoint_file(path)
    del checkpoint["schema_version"]  # what checkpoints written before schema versions look like
    torch.save(checkpoint, path)
    result = run(["play.py", "--task", "go1_flat", "--log-root", str(log_root), *QUICK_PLAY])
    assert_user_error(result, "schema_version=None", "on the command line, retrain", "ckpt_manipulator=")


# ----------------------------------------------------------------------- 13. the NaN stop


def test_the_nan_stop_names_the_last_good_checkpoint_and_how_to_resume(tiny_run, tmp_path):
    log_root, run_dir = copy_of(tiny_run, tmp_path)
    # A finite weight whose reward overflows float32 to inf, then NaN in the update.
    result = run(["train.py", "--task", "go1_flat", "--log-root", str(log_root), "--resume", "--extra-iterations", "2",
                  "--set", "env.rewards.weights.torques=-1e38"])
    last = os.path.join(run_dir, "model_2.pt")
    assert_user_error(result, "training stopped:", f"last good checkpoint is {last}",
                      f"--resume --load-run {run_dir} --checkpoint 2", status=1)
    assert [os.path.basename(p) for p in list_checkpoints(run_dir)] == ["model_1.pt", "model_2.pt"]


# ------------------------------------------------------------- 10. a teacher that is not a legged run


def test_dagger_collect_with_a_cartpole_teacher_is_one_line(tmp_path):
    log_root = tmp_path / "logs"
    result = run(["train.py", "--task", "cartpole_dqn", "--total-timesteps", "200", "--log-root", str(log_root), "--set",
                  "train.learning_starts=100", "train.log_interval=100", "train.q_network_cfg.hidden_dims=[8]"])
    assert result.returncode == 0, result.stderr[-3000:]
    (teacher,) = [os.path.join(log_root, "cartpole_dqn", name) for name in run_folders(log_root, "cartpole_dqn")]
    result = run(["dagger_collect.py", "--teacher", teacher, "--student-run", str(tmp_path / "student"),
                  "--save-dir", str(tmp_path / "data"), "--wait-timeout", "5"])
    assert_user_error(result, f"--teacher='{teacher}'", "'cartpole_dqn'", "must be a legged task's run")
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------- 11. tune with a value that cannot work


def test_tune_with_a_negative_env_count_leaves_no_study(tmp_path):
    result = run(["tune.py", "--task", "go1_amp", "--num-envs", "-3", "--log-root", str(tmp_path), "--trials", "1",
                  "--iterations", "1"])
    assert_user_error(result, "--num-envs=-3: must be >= 1")
    assert result.stderr.count("-3") == 1  # said once, not by Optuna's log and the re-raise
    result = run(["tune.py", "--task", "go1_amp", "--log-root", str(tmp_path), "--trials", "1", "--iterations", "1",
                  "--set", "train.num_mini_batches=100000"])
    assert_user_error(result, "train.num_mini_batches=100000")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------- 12. a truncated .npz in a demonstrations folder


@pytest.fixture(scope="module")
def damaged_dataset(tiny_run, tmp_path_factory):
    """Demonstrations collected from the tiny run, then one slice file cut in half."""
    log_root, _ = tiny_run
    data = tmp_path_factory.mktemp("demos") / "go1_demos"
    result = run(["collect.py", "--task", "go1_flat", "--log-root", str(log_root), "--save-dir", str(data),
                  "--min-timesteps", "200", "--num-envs", "4", "--rollout-length", "16", "--quiet",
                  "--set", "env.episode_length_s=0.2", "env.sim.num_threads=1"])
    assert result.returncode == 0, result.stderr[-3000:]
    slices = sorted(os.path.join(root, name) for root, _, names in os.walk(data) for name in names if name.endswith(".npz"))
    damaged = slices[len(slices) // 2]
    content = open(damaged, "rb").read()
    with open(damaged, "wb") as file:
        file.write(content[: len(content) // 2])
    return log_root, data, damaged


def test_collect_refuses_to_continue_a_dataset_with_a_damaged_file(damaged_dataset):
    log_root, data, damaged = damaged_dataset
    before = sorted(os.path.join(root, name) for root, _, names in os.walk(data) for name in names)
    result = run(["collect.py", "--task", "go1_flat", "--log-root", str(log_root), "--save-dir", str(data),
                  "--min-timesteps", "400", "--num-envs", "4", "--quiet"])
    assert_user_error(result, damaged, "is damaged", "refused to continue", os.path.dirname(damaged))
    assert sorted(os.path.join(root, name) for root, _, names in os.walk(data) for name in names) == before


def test_pretraining_skips_a_damaged_file_and_names_it(damaged_dataset, tmp_path):
    _, data, damaged = damaged_dataset
    result = run(["train.py", "--task", "go1_flat_pretrained", "--log-root", str(tmp_path), "--max-iterations", "2", *TINY,
                  f"train.pretrain_dataset.data_dir={data}", "train.pretrain_iterations=1"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    (warning,) = [line for line in result.stderr.splitlines() if "skipped a trajectory" in line]
    assert damaged in warning and "is damaged" in warning and "training goes on" in warning
    # One line: the command line prints a library warning without Python's file, line and source.
    assert warning.startswith("warning: RolloutDataset: skipped a trajectory")
    assert "UserWarning" not in result.stderr and "warnings.warn" not in result.stderr


# ------------------------------------------------------------------- the installed entry point


def test_the_legged_train_command_runs_each_subcommand(tmp_path):
    """``legged-train COMMAND`` is the same main() as the script, under its own name."""
    result = subprocess.run([sys.executable, "-c", "import sys; from legged_train.cli import main; sys.exit(main())",
                             "train", "--task", "go1_flat", "--num-envs", "0", "--log-root", str(tmp_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert assert_user_error(result, "--num-envs=0").startswith("legged-train train: error:")
    result = subprocess.run([sys.executable, "-c", "import sys; from legged_train.cli import main; sys.exit(main())",
                             "trian"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert_user_error(result, "unknown command 'trian'", "train, play, collect, dagger-collect, tune")
    assert os.listdir(tmp_path) == []
