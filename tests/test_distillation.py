"""Teacher-student distillation: schedules, the DAgger mixture, labels, learning a scripted teacher on toy
envs (feed-forward and recurrent), hidden-state resets, exact resume, and go1_teacher -> go1_student ->
play.py through the command line's main() functions."""

import json
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from legged_train.algorithms.distillation import DistillationConfig, action_loss, teacher_act_prob_schedule
from legged_train.runners.distillation_runner import DistillationRunner
from toy_envs import SMALL_NETS, CueMemoryEnv, PointMassEnv

GRU = {"rnn_type": "gru", "rnn_hidden_dim": 16, "rnn_num_layers": 1, "hidden_dims": [16], "activation": "elu"}


class PointMassTeacher(nn.Module):
    """A scripted teacher: a PD law on the privileged point-mass observation (target - position, velocity, target)."""

    num_obs = 6

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return (2.0 * obs[:, :2] - 1.5 * obs[:, 2:4]).clamp(-1.0, 1.0)


class CueTeacher(nn.Module):
    """A scripted teacher that reads the cue from the privileged group at every step (the student must remember it)."""

    num_obs = 3

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs[:, 2:3]


def distill_cfg(**changes) -> DistillationConfig:
    settings = {"num_steps_per_env": 8, "num_learning_epochs": 2, "num_mini_batches": 2, "learning_rate": 3e-3,
                "teacher_act_prob": 0.0, "teacher_obs_group": "critic", "actor_cfg": dict(SMALL_NETS), "torch_threads": 1}
    return DistillationConfig(**{**settings, **changes})


def rollout(runner, steps: int):
    """``steps`` rollout steps as the runner's loop takes them (without the update)."""
    with torch.inference_mode():
        obs, teacher_obs = runner._split_observations(*runner.env.get_observations())
        for _ in range(steps):
            obs, teacher_obs, _, _, _ = runner.rollout_step(obs, teacher_obs)


def test_teacher_act_prob_schedules_by_hand():
    exp = teacher_act_prob_schedule("exp", 10)
    assert exp(0) == 1.0 and exp(1) == pytest.approx(0.9) and exp(10) == pytest.approx(0.9 ** 10)
    linear = teacher_act_prob_schedule("linear", 10)
    assert [linear(i) for i in (0, 5, 10, 30)] == pytest.approx([1.0, 0.5, 0.0, 0.0])
    tanh = teacher_act_prob_schedule("tanh", 10)
    assert tanh(10) == pytest.approx(0.5) and tanh(0) == pytest.approx(0.5 * (1 + math.tanh(1.0)))
    assert teacher_act_prob_schedule(0.25, 10)(1000) == 0.25
    assert teacher_act_prob_schedule(lambda i: 1.0 / (1 + i), 10)(3) == 0.25
    for bad in ("cosine", 1.5, -0.1):
        with pytest.raises(ValueError, match="teacher_act_prob"):
            teacher_act_prob_schedule(bad, 10)
    with pytest.raises(ValueError, match=r"teacher_act_prob\(2\) = 2.0"):
        teacher_act_prob_schedule(lambda i: float(i), 10)(2)
    with pytest.raises(ValueError, match="loss='l1' is not supported; allowed: \\['mse', 'huber'\\]"):
        DistillationConfig(loss="l1")
    # Huber is quadratic inside delta and linear outside it.
    labels = torch.zeros(1, 2)
    assert action_loss(torch.tensor([[0.5, 3.0]]), labels, "huber", 1.0).item() == pytest.approx((0.125 + 2.5) / 2)
    assert action_loss(torch.tensor([[0.5, 3.0]]), labels, "mse").item() == pytest.approx((0.25 + 9.0) / 2)


def test_the_teacher_drives_each_env_step_with_the_scheduled_probability():
    env = PointMassEnv(num_envs=4096, max_episode_length=20)
    runner = DistillationRunner(env, distill_cfg(teacher_act_prob=0.3), teacher=PointMassTeacher())
    executed = []
    step = env.step
    env.step = lambda actions: (executed.append(actions.clone()), step(actions))[1]
    rollout(runner, 5)
    storage, alg = runner.alg.storage, runner.alg
    acted = torch.stack([torch.all(a == label, dim=1) for a, label in zip(executed, storage.actions[:5])])
    by_student = torch.stack([torch.all(a == mean, dim=1) for a, mean in zip(executed, storage.action_mean[:5])])
    assert bool((acted | by_student).all())  # every executed action is the teacher's or the student's
    fraction = acted.float().mean().item()  # 20480 draws: the standard deviation is 0.0032
    assert abs(fraction - 0.3) < 0.015, fraction
    assert (alg._teacher_steps / acted.numel()).item() == pytest.approx(fraction, abs=0.01)


def test_labels_are_the_teachers_actions_on_the_states_the_student_visited():
    torch.manual_seed(0)
    env = PointMassEnv(num_envs=32, max_episode_length=1000)
    teacher = PointMassTeacher()
    cfg = distill_cfg(teacher_act_prob=0.0, num_learning_epochs=1, num_mini_batches=1)
    runner = DistillationRunner(env, cfg, teacher=teacher)
    executed = []
    step = env.step
    env.step = lambda actions: (executed.append(actions.clone()), step(actions))[1]
    rollout(runner, cfg.num_steps_per_env)
    storage = runner.alg.storage
    student = runner.alg.student
    with torch.no_grad():
        for t in range(cfg.num_steps_per_env):
            assert torch.equal(storage.actions[t], teacher(storage.critic_obs[t]))  # labels: the teacher's
            assert torch.equal(executed[t], student(storage.obs[t]))  # the env was driven by the student
            assert not torch.allclose(executed[t], storage.actions[t])
        # The visited states follow from the student's actions: the point mass's velocity integrates them.
        for t in range(cfg.num_steps_per_env - 1):
            running = storage.dones[t] == 0
            velocity = 0.9 * storage.obs[t, :, 2:4] + executed[t].clamp(-1.0, 1.0) * env.dt
            assert torch.allclose(storage.obs[t + 1, running, 2:4], velocity[running], atol=1e-6)
        expected = nn.functional.mse_loss(student(storage.obs.flatten(0, 1)), storage.actions.flatten(0, 1)).item()
    stats = runner.alg.update()
    assert stats["distill/action_loss"] == pytest.approx(expected, rel=1e-5)  # one minibatch: all of it
    assert stats["distill/teacher_act_prob"] == 0.0 and stats["distill/teacher_action_fraction"] == 0.0


def test_a_student_distilled_from_a_scripted_teacher_acts_like_it():
    torch.manual_seed(0)
    env = PointMassEnv(num_envs=64, max_episode_length=40)
    cfg = distill_cfg(teacher_act_prob="exp", update_times_scale=5, num_steps_per_env=16, num_learning_epochs=5,
                      num_mini_batches=4, actor_cfg={"hidden_dims": [64, 64]}, log_interval=1000)
    runner = DistillationRunner(env, cfg, teacher=PointMassTeacher())
    probabilities = []
    runner.add_callback("post_iteration", lambda r, stats: probabilities.append(stats["distill/teacher_act_prob"]))
    stats = runner.learn(num_learning_iterations=60)
    assert probabilities[:3] == pytest.approx([1.0, 0.8, 0.64])
    assert stats["distill/action_loss"] < 2e-3 and stats["distill/student_action_error"] < 0.05
    # On fresh states, and by the return of whole deterministic episodes against the teacher's own.
    eval_env = PointMassEnv(num_envs=256, seed=7)
    obs, extras = eval_env.get_observations()
    with torch.no_grad():
        error = runner.get_inference_policy()(obs) - PointMassTeacher()(extras["observations"]["critic"])
    assert error.square().mean().sqrt() < 0.1  # actions in [-1, 1]
    teacher_runner = DistillationRunner(env, distill_cfg(student_obs_group="critic"), teacher=PointMassTeacher())
    teacher_runner.alg.student = PointMassTeacher()  # evaluated as the runner's policy, on its own group
    student_return = runner.eval(num_episodes=64)["eval/mean_reward"]
    teacher_return = teacher_runner.eval(num_episodes=64)["eval/mean_reward"]
    assert abs(student_return - teacher_return) < 0.05 * abs(teacher_return), (student_return, teacher_return)


def test_a_recurrent_student_learns_to_remember_what_its_teacher_reads():
    torch.manual_seed(0)
    env = CueMemoryEnv(num_envs=64, privileged=True)
    cfg = distill_cfg(teacher_act_prob="linear", update_times_scale=10, num_steps_per_env=16, actor_cfg=dict(GRU),
                      log_interval=1000)
    runner = DistillationRunner(env, cfg, teacher=CueTeacher())
    stats = runner.learn(num_learning_iterations=60)
    assert stats["distill/action_loss"] < 0.02
    # The teacher earns 1 per step after the first (episodes of 3 to 6 steps); an MLP cannot beat 0.
    assert runner.eval(num_episodes=64)["eval/mean_reward"] > 2.5 * 0.9


def test_recurrent_hidden_states_reset_on_done():
    env = CueMemoryEnv(num_envs=16, privileged=True)
    runner = DistillationRunner(env, distill_cfg(actor_cfg=dict(GRU)), teacher=CueTeacher())
    with torch.inference_mode():
        obs, teacher_obs = runner._split_observations(*env.get_observations())
        ended = None
        for _ in range(6):
            obs, teacher_obs, _, dones, _ = runner.rollout_step(obs, teacher_obs)
            if dones.any() and not dones.all():
                ended = dones
                break
    assert ended is not None
    (h,) = runner.alg.student.get_hidden_states()
    assert bool((h[:, ended] == 0).all()) and bool((h[:, ~ended].abs().sum(dim=-1) > 0).all())
    # The update replays those trajectories from zeros: the stored state of the next step is zero too.
    storage = runner.alg.storage
    with torch.inference_mode():
        runner.rollout_step(obs, teacher_obs)
    assert bool((storage.actor_hidden[0][storage.step - 1][:, ended] == 0).all())


def test_a_resumed_distillation_continues_exactly(tmp_path):
    def make(log_dir):
        torch.manual_seed(0)
        env = CueMemoryEnv(num_envs=16, privileged=True)
        cfg = distill_cfg(actor_cfg=dict(GRU), teacher_act_prob="exp", update_times_scale=3, action_sample_std=0.2, save_interval=2)
        return DistillationRunner(env, cfg, log_dir=str(log_dir), teacher=CueTeacher())

    straight = make(tmp_path / "straight")
    straight.learn(num_learning_iterations=4)
    first = make(tmp_path / "resumed")
    first.learn(num_learning_iterations=2)
    resumed = make(tmp_path / "resumed")
    resumed.load_checkpoint(str(tmp_path / "resumed" / "model_2.pt"))
    stats = resumed.learn(num_learning_iterations=2)
    assert resumed.iteration == 4 and stats["distill/teacher_act_prob"] == pytest.approx((2 / 3) ** 3)
    for name, tensor in straight.alg.student.state_dict().items():
        assert torch.equal(tensor, resumed.alg.student.state_dict()[name]), name
    checkpoint = torch.load(tmp_path / "resumed" / "model_4.pt", weights_only=True)
    assert {"student_state_dict", "optimizer_state_dict", "rollout_hidden_states", "env_state"} <= set(checkpoint)


# ------------------------------------------------------------------------------ the command line
TINY = ["--num-envs", "8", "--max-iterations", "2", "--set", "train.num_steps_per_env=4", "train.torch_threads=1",
        "env.sim.num_threads=1"]
TINY_TEACHER = [*TINY, "train.actor_cfg.hidden_dims=[16]", "train.critic_cfg.hidden_dims=[16]"]
TINY_STUDENT = [*TINY, "train.actor_cfg.rnn_hidden_dim=8", "train.actor_cfg.hidden_dims=[8]", "train.num_mini_batches=2"]


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    from legged_train.cli import train

    log_root = tmp_path_factory.mktemp("logs")
    assert train.main(["--task", "go1_teacher", "--log-root", str(log_root), *TINY_TEACHER]) == 0
    (run_dir,) = [log_root / "go1_teacher" / d for d in os.listdir(log_root / "go1_teacher")]
    return log_root, run_dir


def test_go1_teacher_then_go1_student_then_play_exports_the_student(teacher_run, capsys):
    import onnxruntime

    from legged_train.cli import play
    from legged_train.cli import train
    from legged_train.checkpoint import load_checkpoint_file
    from legged_train.networks import RecurrentActor

    log_root, teacher_dir = teacher_run
    teacher = load_checkpoint_file(teacher_dir / "model_2.pt")
    assert teacher["config"]["actor_obs_group"] == "teacher"
    assert teacher["actor_state_dict"]["obs_normalizer.mean"].shape == (64,)  # 47 clean + 17 privileged

    assert train.main(["--task", "go1_student", "--teacher", str(teacher_dir), "--log-root", str(log_root), *TINY_STUDENT]) == 0
    (student_dir,) = [log_root / "go1_student" / d for d in os.listdir(log_root / "go1_student")]
    checkpoint = load_checkpoint_file(student_dir / "model_2.pt")
    assert checkpoint["config"]["teacher_checkpoint"] == str(teacher_dir / "model_2.pt")
    assert "student_state_dict" in checkpoint and "actor_state_dict" not in checkpoint
    # --resume reloads the recorded teacher.
    assert train.main(["--task", "go1_student", "--log-root", str(log_root), "--resume", "--extra-iterations", "1"]) == 0
    checkpoint = load_checkpoint_file(student_dir / "model_3.pt")  # what play.py replays: the latest

    export_dir = student_dir / "exported"
    capsys.readouterr()
    assert play.main(["--task", "go1_student", "--log-root", str(log_root), "--no-eval", "--headless",
                      "--commands", "0.5,0,0@0.1"]) == 0
    info = json.load(open(export_dir / "policy.json"))
    assert info["observation_group"] == "policy" and info["num_obs"] == 47 and info["recurrent"]["rnn_type"] == "gru"
    assert info["inputs"] == {"obs": [None, 47], "h_in": [1, None, 8]}

    student = RecurrentActor(47, 12, obs_normalization=True, **{**GRU, "rnn_hidden_dim": 8, "hidden_dims": [8]})
    student.load_state_dict(checkpoint["student_state_dict"])
    obs, h = torch.randn(3, 47), torch.randn(1, 3, 8)
    with torch.no_grad():
        expected, (expected_h,) = student.step(obs, (h,))
    actions, h_out = onnxruntime.InferenceSession(str(export_dir / "policy.onnx")).run(None, {"obs": obs.numpy(), "h_in": h.numpy()})
    np.testing.assert_allclose(actions, expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(h_out, expected_h.numpy(), atol=1e-5)

    # The teacher's export reads its own group.
    assert play.main(["--task", "go1_teacher", "--log-root", str(log_root), "--no-eval", "--headless",
                      "--commands", "0.5,0,0@0.1", "--export-dir", str(teacher_dir / "exported")]) == 0
    info = json.load(open(teacher_dir / "exported" / "policy.json"))
    assert info["observation_group"] == "teacher" and info["inputs"]["obs"] == [None, 64]
    assert [name for name, _ in info["observation_layout"]][-2:] == ["base_com_offset", "motor_strength"]


@pytest.mark.parametrize("case", ["no teacher", "missing", "no checkpoint", "layout", "not distillation", "pull without teacher"])
def test_teacher_errors_are_one_line_exit_2_and_leave_no_run_folder(case, teacher_run, tmp_path, capsys):
    from legged_train.cli import train

    log_root, teacher_dir = teacher_run
    empty = tmp_path / "empty_run"
    empty.mkdir()
    task, extra, message = {
        "no teacher": ("go1_student", [], "task 'go1_student' distills a teacher: give --teacher"),
        "missing": ("go1_student", ["--teacher", str(tmp_path / "nowhere")], "no such run folder or checkpoint file"),
        "no checkpoint": ("go1_student", ["--teacher", str(empty)], "the run holds no model_<iteration>.pt checkpoint"),
        "layout": ("go1_student", ["--teacher", str(teacher_dir), "--set", "env.observations.teacher.history_length=2"],
                   "observation group 'teacher' of the teacher's run does not fit this env's"),
        "not distillation": ("go1_flat", ["--teacher", str(teacher_dir)], "--teacher is for distillation tasks"),
        "pull without teacher": ("go1_flat", ["--set", "train.teacher_coef=1"],
                                 "task 'go1_flat' (train.teacher_coef=1.0) learns from a teacher: give --teacher"),
    }[case]
    out = tmp_path / "logs"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--task", task, "--log-root", str(out), *extra, *TINY_STUDENT[:2]])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_ppo_actor_reads_its_configured_group_everywhere_and_a_missing_group_is_named():
    from legged_train.runners.on_policy_runner import OnPolicyRunner
    from toy_envs import small_cfg

    env = PointMassEnv(num_envs=8)
    runner = OnPolicyRunner(env, cfg=small_cfg(actor_obs_group="critic", log_interval=1000))
    assert runner.alg.actor.num_obs == 6 and runner.alg.storage.obs.shape[-1] == 6
    runner.learn(num_learning_iterations=1)
    policy = runner.get_inference_policy()
    assert policy.obs_group == "critic" and runner.eval(num_episodes=4)["eval/mean_reward"] is not None
    with pytest.raises(ValueError, match=r"actor_obs_group='teacher': PointMassEnv has no observation group 'teacher'; "
                                         r"its groups: \['critic', 'policy'\]"):
        OnPolicyRunner(env, cfg=small_cfg(actor_obs_group="teacher"))


# ------------------------------------------------------------------- PPO pulled towards a teacher
def test_ppo_stores_the_teachers_action_at_every_step_and_its_pull_is_the_squared_distance_to_it():
    from legged_train.runners.on_policy_runner import OnPolicyRunner
    from toy_envs import small_cfg

    torch.manual_seed(0)
    env = PointMassEnv(num_envs=16, max_episode_length=1000)
    cfg = small_cfg(teacher_coef=2.0, teacher_obs_group="critic", num_learning_epochs=1, num_mini_batches=1, log_interval=1000)
    runner = OnPolicyRunner(env, cfg=cfg)
    teacher = PointMassTeacher()
    runner.alg.set_teacher(teacher)
    with torch.inference_mode():
        obs, critic_obs = runner._split_observations(*env.get_observations())
        for _ in range(cfg.num_steps_per_env):
            obs, critic_obs, _, _, _ = runner.rollout_step(obs, critic_obs)
        runner._finish_rollout(critic_obs)
    storage = runner.alg.storage
    for t in range(cfg.num_steps_per_env):  # the label of each step: the teacher on the critic group it started from
        assert torch.equal(storage.teacher_actions[t], teacher(storage.critic_obs[t]))
    with torch.no_grad():
        expected = (runner.alg.actor(storage.obs.flatten(0, 1)) - storage.teacher_actions.flatten(0, 1)).square().mean().item()
    stats = runner.alg.update()  # one minibatch, all of it: the loss before the step
    assert stats["train/teacher_loss"] == pytest.approx(expected, rel=1e-5)


def test_the_teachers_pull_brings_a_ppo_actor_to_the_teachers_actions():
    from legged_train.runners.on_policy_runner import OnPolicyRunner
    from toy_envs import small_cfg

    errors = {}
    for coef in (0.0, 5.0):
        torch.manual_seed(0)
        env = PointMassEnv(num_envs=32, max_episode_length=100)
        runner = OnPolicyRunner(env, cfg=small_cfg(teacher_coef=coef, teacher_obs_group="critic", log_interval=1000))
        if coef:
            runner.alg.set_teacher(PointMassTeacher())
        runner.learn(num_learning_iterations=15)
        obs, extras = env.get_observations()
        with torch.no_grad():
            errors[coef] = (runner.alg.actor(obs) - PointMassTeacher()(extras["observations"]["critic"])).square().mean().item()
    assert errors[5.0] < 0.25 * errors[0.0], errors


def test_teacher_pull_errors_name_the_field():
    from legged_train.algorithms.ppo import PPOConfig
    from legged_train.runners.on_policy_runner import OnPolicyRunner
    from toy_envs import small_cfg

    with pytest.raises(ValueError, match=r"teacher_checkpoint='t.pt' with teacher_coef=0.0: .* set teacher_coef > 0"):
        PPOConfig(teacher_checkpoint="t.pt")
    with pytest.raises(ValueError, match=r"teacher_coef=-1.0 must be >= 0"):
        PPOConfig(teacher_coef=-1.0)
    env = PointMassEnv(num_envs=8)
    with pytest.raises(ValueError, match=r"teacher_obs_group='teacher': PointMassEnv has no observation group 'teacher'"):
        OnPolicyRunner(env, cfg=small_cfg(teacher_coef=1.0))
    runner = OnPolicyRunner(env, cfg=small_cfg(teacher_coef=1.0, teacher_obs_group="critic"))
    with pytest.raises(ValueError, match=r"teacher_coef=1.0 pulls the actor towards a teacher: set teacher_checkpoint"):
        runner.learn(num_learning_iterations=1)
    recurrent = CueTeacher()
    recurrent.is_recurrent = True
    with pytest.raises(ValueError, match="the teacher must be a feed-forward actor"):
        runner.alg.set_teacher(recurrent)
    with pytest.raises(ValueError, match=r"the teacher reads 3 observations; the env's group 'critic' has 6"):
        runner.alg.set_teacher(CueTeacher())


# ------------------------------------------------------------------- PPO from a trained actor
STUDENT_GRU = ["train.actor_cfg.rnn_type=gru", "train.actor_cfg.rnn_hidden_dim=8", "train.actor_cfg.hidden_dims=[8]"]


@pytest.fixture(scope="module")
def student_run(teacher_run, tmp_path_factory):
    from legged_train.cli import train

    log_root = tmp_path_factory.mktemp("student_logs")
    _, teacher_dir = teacher_run
    assert train.main(["--task", "go1_student", "--teacher", str(teacher_dir), "--log-root", str(log_root), *TINY_STUDENT]) == 0
    (run_dir,) = [log_root / "go1_student" / d for d in os.listdir(log_root / "go1_student")]
    return run_dir


def test_ppo_starts_from_a_distilled_student_and_a_resume_no_longer_needs_its_file(student_run, tmp_path):
    import shutil

    from legged_train.checkpoint import load_checkpoint_file
    from legged_train.cli import train

    student_file = tmp_path / "student.pt"
    shutil.copy(student_run / "model_2.pt", student_file)
    student = load_checkpoint_file(student_file)["student_state_dict"]
    log_root = tmp_path / "logs"
    # Two iterations of critic warm-up: the actor PPO saves is the student as loaded.
    assert train.main(["--task", "go1_flat", "--init-actor", str(student_file), "--log-root", str(log_root), *TINY,
                       *STUDENT_GRU, "train.critic_warmup_iterations=2", "train.init_noise_std=0.3",
                       "train.symmetry_augmentation=false"]) == 0  # go1_flat's mirror needs a feed-forward actor
    (run_dir,) = [log_root / "go1_flat" / d for d in os.listdir(log_root / "go1_flat")]
    checkpoint = load_checkpoint_file(run_dir / "model_2.pt")
    assert checkpoint["config"]["init_actor_checkpoint"] == str(student_file)
    actor = checkpoint["actor_state_dict"]
    assert set(actor) == set(student)
    for name, tensor in student.items():
        if name != "log_std":
            assert torch.equal(actor[name], tensor), name
    assert torch.allclose(actor["log_std"].exp(), torch.full((12,), 0.3))
    # The checkpoint holds the actor and its anchor: a resume reads nothing else.
    student_file.unlink()
    assert train.main(["--task", "go1_flat", "--log-root", str(log_root), "--resume", "--extra-iterations", "1"]) == 0
    assert (run_dir / "model_3.pt").exists()


def test_ppo_starts_from_a_ppo_runs_actor(teacher_run):
    from legged_train.checkpoint import load_checkpoint_file
    from legged_train.runners.on_policy_runner import OnPolicyRunner
    from legged_train.tasks import get_task

    _, teacher_dir = teacher_run
    task = get_task("go1_teacher")
    env_cfg, cfg = task.env_cfg, task.train_cfg
    env_cfg.num_envs, env_cfg.sim.num_threads = 8, 1
    cfg.actor_cfg["hidden_dims"] = [16]
    cfg.critic_cfg["hidden_dims"] = [16]
    cfg.init_actor_checkpoint = str(teacher_dir / "model_2.pt")
    env = task.make_env(env_cfg, "cpu")
    runner = OnPolicyRunner(env, cfg)
    teacher = load_checkpoint_file(teacher_dir / "model_2.pt")["actor_state_dict"]
    for name, tensor in runner.alg.actor.state_dict().items():
        assert torch.equal(tensor, teacher[name]) or name == "log_std", name
    env.close()


@pytest.mark.parametrize("case", ["sizes", "group", "missing", "not ppo", "resume"])
def test_init_actor_errors_are_one_line_exit_2_and_leave_no_run_folder(case, teacher_run, student_run, tmp_path, capsys):
    from legged_train.cli import train

    _, teacher_dir = teacher_run
    task, extra, message = {
        "sizes": ("go1_flat", ["--init-actor", str(student_run), *TINY], "its actor does not fit this run's actor_cfg"),
        "group": ("go1_teacher", ["--init-actor", str(student_run), *TINY],
                  "its actor reads observation group 'policy', actor_obs_group is 'teacher'"),
        "missing": ("go1_flat", ["--init-actor", str(tmp_path / "nowhere"), *TINY], "no such run folder or checkpoint file"),
        "not ppo": ("go1_student", ["--teacher", str(teacher_dir), "--init-actor", str(student_run), *TINY_STUDENT],
                    "--init-actor is for PPO tasks"),
        "resume": ("go1_teacher", ["--resume", "--load-run", str(teacher_dir), "--init-actor", str(student_run)],
                   "a resumed run continues from its own checkpoint"),
    }[case]
    out = tmp_path / "logs"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--task", task, "--log-root", str(out), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()
