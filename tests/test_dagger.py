"""DAgger in two processes: DaggerSaver (student rollouts, teacher labels, the newest student
checkpoint reloaded, a bounded and explained wait for the first one, whole files only), the trainer
side (TwoStageRunner waiting for a collector, saying so) and dagger_collect.py + train.py end to end."""

import glob
import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from legged_train.algorithms.ppo import PPOConfig
from legged_train.demonstrations import ActorPolicy, DaggerSaver, RolloutDataset, files, read_trajectory
from legged_train.demonstrations.dagger import teacher_act_probability
from legged_train.networks import MLPActor
from legged_train.runners.on_policy_runner import OnPolicyRunner
from legged_train.runners.two_stage_runner import PretrainDatasetConfig, TwoStagePPOConfig, TwoStageRunner
from toy_envs import PointMassEnv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {"actor_cfg": {"hidden_dims": [16]}, "critic_cfg": {"hidden_dims": [16]}, "torch_threads": 1}


class RecordingEnv(PointMassEnv):
    """PointMassEnv that keeps the actions it executed."""

    def __init__(self, *args, **kwargs):
        self.executed = []
        super().__init__(*args, **kwargs)

    def step(self, actions):
        self.executed.append(actions.clone())
        return super().step(actions)


def save_student(run_dir, iteration: int) -> OnPolicyRunner:
    """A real checkpoint of a PPO run on PointMassEnv, as the trainer writes them (weights differ per iteration)."""
    torch.manual_seed(iteration)
    runner = OnPolicyRunner(PointMassEnv(num_envs=4), cfg=PPOConfig(**TINY))
    with torch.no_grad():  # a non-zero normalizer, so that loading it matters
        runner.alg.actor.obs_normalizer.mean.normal_()
    runner.iteration = iteration
    runner.save_checkpoint(os.path.join(str(run_dir), f"model_{iteration}.pt"))
    return runner


def teacher_policy() -> ActorPolicy:
    """A fixed teacher that reads the privileged group (6 values), as a distillation teacher does."""
    torch.manual_seed(123)
    return ActorPolicy(MLPActor(6, 2, hidden_dims=[16]), info={"checkpoint": "teacher"})


def make_saver(env, save_dir, run_dir, log=None, **kwargs) -> DaggerSaver:
    kwargs = {"rollout_storage_length": 8, "min_timesteps": 10**9, "wait_timeout_s": 5.0, "poll_interval_s": 0.05, **kwargs}
    return DaggerSaver(env, teacher_policy(), str(save_dir), str(run_dir), teacher_obs_group="critic",
                       log_stream=log if log is not None else io.StringIO(), **kwargs)


def test_teacher_act_probability_schedules():
    assert teacher_act_probability("exp", 0, 100) == 1.0
    assert teacher_act_probability("exp", 100, 100) == pytest.approx(np.exp(-1), rel=0.01)
    assert teacher_act_probability("linear", 50, 100) == pytest.approx(0.5)
    assert teacher_act_probability("linear", 150, 100) == 0.0
    assert teacher_act_probability(0.3, 10**6, 100) == 0.3
    assert teacher_act_probability(lambda i: 1.0 / (1 + i), 3, 100) == 0.25
    with pytest.raises(ValueError, match="exp"):
        teacher_act_probability("cosine", 0, 100)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        teacher_act_probability(1.5, 0, 100)


def test_loads_the_newest_student_and_reloads_newer_ones_skipping_bad_files(tmp_path):
    run_dir = tmp_path / "student_run"
    run_dir.mkdir()
    save_student(run_dir, 2)
    newest = save_student(run_dir, 5)
    env, log = PointMassEnv(num_envs=16), io.StringIO()
    saver = make_saver(env, tmp_path / "data", run_dir, log)
    obs = env.get_observations()[0]
    with torch.no_grad():
        assert saver.training_policy_iteration == 5 and saver.student_obs_group == "policy"
        torch.testing.assert_close(saver.training_policy(obs), newest.alg.actor(obs))  # normalizer included

        newer = save_student(run_dir, 9)  # appears while collecting: reloaded before the next buffer
        saver.check_stop()
        assert saver.training_policy_iteration == 9
        torch.testing.assert_close(saver.training_policy(obs), newer.alg.actor(obs))
        saver.check_stop()  # nothing new: nothing loaded
        assert saver.training_policy_loads == [5, 9]

        (run_dir / "model_12.pt").write_bytes(b"half a checkpoint")  # corrupt: skipped, the student stays
        saver.check_stop()
        saver.check_stop()
        assert saver.training_policy_iteration == 9
        assert log.getvalue().count("skipping student checkpoint") == 1 and "model_12.pt" in log.getvalue()
    saver.close()
    assert json.loads((tmp_path / "data" / "metadata.json").read_text())["collection"]["dagger"]["student_obs_group"] == "policy"


def test_waits_for_the_first_student_saying_what_for_and_times_out_clearly(tmp_path):
    run_dir = tmp_path / "not_yet"
    log = io.StringIO()
    started = time.monotonic()
    with pytest.raises(TimeoutError) as error:
        make_saver(PointMassEnv(num_envs=4), tmp_path / "data", run_dir, log, wait_timeout_s=0.3)
    assert time.monotonic() - started < 3
    message = str(error.value)
    assert str(run_dir) in message and "model_<iteration>.pt" in message and "start the trainer" in message
    assert "waiting for the student's first checkpoint" in log.getvalue() and str(run_dir) in log.getvalue()
    assert not (tmp_path / "data").exists()  # nothing written

    # One that appears during the wait is taken.
    run_dir.mkdir()
    threading.Timer(0.3, save_student, (run_dir, 0)).start()
    saver = make_saver(PointMassEnv(num_envs=4), tmp_path / "data", run_dir, wait_timeout_s=20)
    assert saver.training_policy_loads == [0]
    saver.close()


def test_rollouts_mix_teacher_and_student_by_probability_and_labels_are_the_teachers(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_student(run_dir, 0)
    env = RecordingEnv(num_envs=400, max_episode_length=6)
    saver = make_saver(env, tmp_path / "data", run_dir, teacher_act_prob=0.3, action_sample_std=0.1, rollout_storage_length=5)
    teacher = saver.policy.actor
    masks = []
    with torch.inference_mode():
        saver.reset_env()
        for _ in range(4):
            saver.check_stop()  # reloads (nothing new) and draws the drivers
            mask = saver.use_teacher_act_mask.clone()
            masks.append(mask)
            for step_i in range(5):
                saver.collect_step(step_i)
                saver.step_i = step_i + 1
                obs = saver.buffers["obs"]
                labels = teacher(obs["critic"][step_i])
                assert torch.equal(saver.buffers["actions"][step_i], labels)  # stored: the teacher's action
                executed = env.executed[-1]
                assert torch.equal(executed[mask], labels[mask])  # the teacher drove these envs
                noise = executed[~mask] - saver.training_policy(obs["policy"][step_i])[~mask]
                assert 0.08 < noise.std().item() < 0.12  # the student's mean plus action_sample_std noise
            saver.save_steps()
    fraction = torch.stack(masks).float().mean().item()
    assert 0.25 < fraction < 0.35  # 1600 draws of p = 0.3
    assert len({tuple(m.tolist()) for m in masks}) == 4  # redrawn before every buffer
    saver.close()

    # In the files too: every stored action is the teacher's on the stored (visited) state.
    folders = files.list_trajectory_dirs(str(tmp_path / "data"))
    assert len(folders) > 100
    for folder in list(folders.values())[:50]:
        trajectory = read_trajectory(folder)
        with torch.no_grad():
            expected = teacher(torch.from_numpy(trajectory["obs"]["critic"])).numpy()
        np.testing.assert_allclose(trajectory["actions"], expected, atol=1e-6)


def test_never_writes_an_empty_file(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_student(run_dir, 0)
    # A student far from the targets: many falls (leaving the arena) cut buffers at odd places.
    saver = make_saver(PointMassEnv(num_envs=32, max_episode_length=15, arena=1.5), tmp_path / "data", run_dir,
                       teacher_act_prob="linear", update_times_scale=1, rollout_storage_length=7, min_timesteps=600)
    saver.collect_and_save()
    saver.close()
    npz = glob.glob(str(tmp_path / "data" / "**" / "*.npz"), recursive=True)
    assert npz and all(os.path.getsize(path) > 0 for path in npz)
    assert all(files.read_header(path)["num_steps"] >= 1 for path in npz)
    for folder in files.list_trajectory_dirs(str(tmp_path / "data")).values():
        assert files.list_slices(folder) and read_trajectory(folder) is not None  # whole, finished
    assert not [name for name in os.listdir(tmp_path / "data") if name.startswith(".tmp")]
    assert RolloutDataset(str(tmp_path / "data"), num_envs=4).get_transition_batch()[0] is not None

    # Stopped before anything finished: no trajectory folder at all.
    saver = make_saver(PointMassEnv(num_envs=4), tmp_path / "none", run_dir, rollout_storage_length=3)
    with torch.inference_mode():
        saver.reset_env()
        saver.collect_step(0)
        saver.step_i = 1
    saver.close()
    assert files.list_trajectory_dirs(str(tmp_path / "none")) == {}


def test_trainer_waits_for_demonstrations_saying_so_then_stops(tmp_path, capsys):
    cfg = TwoStagePPOConfig(
        num_steps_per_env=4, num_mini_batches=1, pretrain_iterations=10**6, save_interval=1, **TINY,
        pretrain_dataset=PretrainDatasetConfig(data_dir=str(tmp_path / "data"), wait_for_data_s=0.6),
    )
    runner = TwoStageRunner(PointMassEnv(num_envs=4), cfg=cfg, log_dir=str(tmp_path / "run"))  # no folder yet: fine
    started = time.monotonic()
    runner.learn(num_learning_iterations=3)
    assert time.monotonic() - started < 10
    out, err = capsys.readouterr()
    assert f"waiting for demonstrations: {tmp_path / 'data'} holds no dataset yet" in out
    assert "training stopped: no demonstrations to serve" in err and str(tmp_path / "data") in err
    assert runner.starved and runner.iteration == 0
    assert os.path.isfile(tmp_path / "run" / "model_0.pt")  # the collector's first student, written before waiting


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    """A go1_flat run of 2 tiny iterations (reading the policy group)."""
    log_root = tmp_path_factory.mktemp("teacher_logs")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train.py"), "--task", "go1_flat", "--num-envs", "16", "--max-iterations", "2",
         "--log-root", str(log_root), "--set", "train.num_steps_per_env=4", "train.actor_cfg.hidden_dims=[32]",
         "train.critic_cfg.hidden_dims=[32]", "train.torch_threads=1", "env.sim.num_threads=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = glob.glob(str(log_root / "go1_flat" / "*"))
    return run


def test_collector_errors_are_one_line(tiny_teacher, tmp_path):
    def collect(*extra):
        return subprocess.run(
            [sys.executable, os.path.join(ROOT, "dagger_collect.py"), "--teacher", tiny_teacher, "--save-dir", str(tmp_path / "data"),
             *extra], cwd=ROOT, capture_output=True, text=True, timeout=120,
        )

    result = collect("--student-run", str(tmp_path / "nowhere"), "--wait-timeout", "1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "waiting for the student run" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "no student run appeared" in last and str(tmp_path / "nowhere") in last
    result = collect("--student-run", str(tmp_path), "--teacher-act-prob", "cosine")
    assert result.returncode == 2 and "--teacher-act-prob" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_two_processes_end_to_end(tiny_teacher, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MUJOCO_GL": "egl"}
    log_root, data = tmp_path / "logs", tmp_path / "data"
    trainer = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "train.py"), "--task", "go1_dagger_student", "--num-envs", "8",
         "--max-iterations", "30", "--log-root", str(log_root), "--set", "train.num_steps_per_env=4",
         "train.actor_cfg.hidden_dims=[32]", "train.critic_cfg.hidden_dims=[32]", "train.torch_threads=1",
         "train.rollout_torch_threads=1", "env.sim.num_threads=1", "train.save_interval=5", "train.eval_interval=0",
         f"train.pretrain_dataset.data_dir={data}", "train.pretrain_dataset.wait_for_data_s=120", "env.episode_length_s=1",
         # The tiny teacher is a go1_flat run reading the plain policy group: the student's must equal it.
         "env.observations.policy.history_length=1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not glob.glob(str(log_root / "go1_dagger_student" / "*")) and time.monotonic() < deadline:
            time.sleep(0.2)
        (run_dir,) = glob.glob(str(log_root / "go1_dagger_student" / "*"))
        collector = subprocess.run(
            [sys.executable, os.path.join(ROOT, "dagger_collect.py"), "--teacher", tiny_teacher, "--student-run", run_dir,
             "--save-dir", str(data), "--num-envs", "8", "--rollout-length", "60", "--min-timesteps", "4000",
             "--teacher-act-prob", "0.5", "--wait-timeout", "120", "--tensorboard"],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
        )
        trainer_out, _ = trainer.communicate(timeout=300)
    finally:
        if trainer.poll() is None:
            trainer.kill()
    assert collector.returncode == 0, collector.stderr[-3000:]
    assert trainer.returncode == 0, trainer_out[-3000:]
    # The trainer: said it waited, got data, and its checkpoints advanced.
    assert "waiting for demonstrations" in trainer_out and "demonstrations arrived" in trainer_out
    iterations = sorted(int(os.path.basename(p)[6:-3]) for p in glob.glob(os.path.join(run_dir, "model_*.pt")))
    assert iterations[0] == 0 and iterations[-1] == 30
    # The collector: started from model_0 and reloaded a newer student while collecting.
    loaded = [int(line.split("model_")[1].split(".pt")[0]) for line in collector.stdout.splitlines() if line.startswith("student: ")]
    assert loaded[0] == 0 and max(loaded) > 0, collector.stdout[-3000:]
    # The dataset grew, every file whole; the collector's curves are next to the trainer's.
    metadata = json.loads((data / "metadata.json").read_text())
    assert metadata["timesteps"] >= 4000 and metadata["trajectories"] > 0
    assert metadata["collection"]["dagger"]["training_policy_logdir"] == run_dir
    assert all(os.path.getsize(p) > 0 for p in glob.glob(str(data / "**" / "*.npz"), recursive=True))
    assert glob.glob(os.path.join(run_dir, "dagger_collector", "events.out.tfevents*"))


def test_a_recurrent_students_memory_is_reset_on_dones_and_kept_across_reloads(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    recurrent = {**TINY, "actor_cfg": {"rnn_type": "gru", "rnn_hidden_dim": 8, "hidden_dims": [16]}}
    for iteration in (0, 1):
        torch.manual_seed(iteration)
        runner = OnPolicyRunner(PointMassEnv(num_envs=4), cfg=PPOConfig(**recurrent))
        runner.iteration = iteration
        runner.save_checkpoint(str(run_dir / f"model_{iteration}.pt"))
    (run_dir / "model_1.pt").rename(run_dir / "later.pt")  # appears later
    # Episodes end by time-out only, all at the third step.
    env = PointMassEnv(num_envs=16, max_episode_length=3, goal_radius=1e-9, arena=100.0)
    saver = make_saver(env, tmp_path / "data", run_dir, teacher_act_prob=0.0)
    with torch.inference_mode():
        saver.reset_env()
        saver.check_stop()
        for step_i in range(2):
            saver.collect_step(step_i)
        memory = saver.training_policy.get_hidden_states()[0]
        assert bool((memory.abs().sum(dim=(0, 2)) > 0).all())  # every env remembers its two steps
        (run_dir / "later.pt").rename(run_dir / "model_1.pt")
        saver.check_stop()
        assert saver.training_policy_iteration == 1
        torch.testing.assert_close(saver.training_policy.get_hidden_states()[0], memory)  # the episodes go on
        saver.collect_step(2)  # every episode ends here (time-out at 3 steps)
        assert bool(saver.buffers["dones"][2].all())
        assert float(saver.training_policy.get_hidden_states()[0].abs().sum()) == 0.0
    saver.close()
