"""AMP: discriminator maths by hand, the replay buffer, reference observations against the env's
``amp`` group, and AmpPolicyRunner end to end (a real Optuna trial, save and exact resume)."""

from __future__ import annotations

import os

import pytest
import torch

from legged_train.algorithms.amp import TransitionReplay, discriminator_loss, gradient_penalty, style_reward
from legged_train.motions.generate import GaitSpec, generate_gait_clip

optuna = pytest.importorskip("optuna")


def test_least_squares_loss_by_hand():
    expert = torch.tensor([1.0, 0.0, 2.0])
    policy = torch.tensor([-1.0, 1.0])
    # expert: (0, 1, 1) -> mean 2/3; policy: (0, 4) -> mean 2; half their sum
    assert discriminator_loss(expert, policy, "lsq").item() == pytest.approx(0.5 * (2 / 3 + 2.0))


def test_bce_loss_by_hand():
    expert, policy = torch.tensor([0.0]), torch.tensor([0.0])
    # log 2 for each side at a logit of 0
    assert discriminator_loss(expert, policy, "bce").item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_gradient_penalty_by_hand():
    # D(x) = w . x + b: the gradient is w for every input, so the penalty is ||w||^2.
    linear = torch.nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
    inputs = torch.randn(5, 3)
    assert gradient_penalty(linear, inputs).item() == pytest.approx(1.0 + 4.0 + 0.25)
    # D(x) = sum x^2: gradient 2x, penalty mean 4 ||x||^2; and the penalty is differentiable.
    square = lambda x: x.square().sum(dim=1, keepdim=True)  # noqa: E731
    x = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    assert gradient_penalty(square, x).item() == pytest.approx(4.0 * (5.0 + 1.0) / 2)
    penalty = gradient_penalty(linear, inputs)
    penalty.backward()
    assert linear.weight.grad is not None and torch.allclose(linear.weight.grad, 2 * linear.weight)


def test_style_reward_formula():
    scores = torch.tensor([1.0, 0.0, -1.0, 3.0, 5.0])
    # max(0, 1 - 0.25 (d - 1)^2): 1 at the reference target, 0.75, 0 at the policy target, 0, clipped at 0
    assert style_reward(scores, "lsq").tolist() == pytest.approx([1.0, 0.75, 0.0, 0.0, 0.0])
    assert style_reward(torch.tensor([0.0]), "bce").item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_style_weight_ramp():
    from types import SimpleNamespace

    from legged_train.algorithms.amp import AMP, AMPConfig

    factors = [AMP.style_ramp(SimpleNamespace(cfg=SimpleNamespace(style_reward_ramp=(2, 6)), runner=SimpleNamespace(iteration=i)))
               for i in (0, 2, 4, 6, 9)]
    assert factors == [0.0, 0.0, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"style_reward_ramp=\(5, 1\): must be \(start, end\) iterations"):
        AMPConfig(style_reward_ramp=(5, 1))


def test_replay_buffer_is_a_ring_of_the_newest_transitions():
    replay = TransitionReplay(capacity=5, width=2, device=torch.device("cpu"))
    with pytest.raises(RuntimeError, match="empty"):
        replay.sample(1, torch.Generator())
    for start in (0, 3, 6):
        rows = torch.arange(start, start + 3, dtype=torch.float32)[:, None].repeat(1, 2)
        replay.insert(rows, rows + 100)
    assert replay.size == 5
    kept = sorted(replay.states[:, 0].tolist())
    assert kept == [4.0, 5.0, 6.0, 7.0, 8.0]  # 9 inserted, the 5 newest kept
    states, next_states = replay.sample(50, torch.Generator().manual_seed(0))
    assert set(states[:, 0].tolist()) <= set(kept) and torch.equal(next_states, states + 100)
    restored = TransitionReplay(capacity=5, width=2, device=torch.device("cpu"))
    restored.load_state_dict(replay.state_dict())
    assert torch.equal(restored.states, replay.states) and restored.position == replay.position


@pytest.fixture(scope="module")
def trot_clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    from legged_train.envs.robot import RobotConfig

    for speed, yaw in ((0.5, 0.0), (0.3, 0.6)):
        generate_gait_clip(RobotConfig(), GaitSpec(gait="trot", speed=speed, yaw_rate=yaw, duration=1.0)).save(
            str(folder / f"trot_{speed}_{yaw}.npz")
        )
    return folder


def amp_task(num_envs: int, clips, **train_overrides):
    from legged_train.config import apply_overrides
    from legged_train.tasks import get_task

    task = get_task("go1_amp")
    task.env_cfg.num_envs = num_envs
    small = {"hidden_dims": [32], "activation": "elu"}
    apply_overrides(task.train_cfg, {
        "motion_files": [str(clips)], "num_steps_per_env": 4, "discriminator_batch_size": 64,
        "amp_replay_buffer_size": 500, "discriminator_hidden_dims": [32], "actor_cfg": small, "critic_cfg": small,
        "eval_interval": 0, "style_reward_ramp": [0, 2], **train_overrides,
    })
    return task


def test_reference_frame_observation_equals_the_env_amp_group(trot_clips):
    from legged_train.runners.amp_policy_runner import build_motion_library

    task = amp_task(3, trot_clips)
    env = task.make_env(task.env_cfg, "cpu")
    library = build_motion_library(env, task.train_cfg, "cpu")
    frames = torch.tensor([3, 20, 57])  # anywhere in the two clips
    env.sim.set_state(torch.arange(3), library.qpos[frames].double(), library.qvel[frames].double())
    env._update_state()
    from_env = env.obs_groups["amp"].compute(env)
    assert from_env.shape == library.observations[frames].shape == (3, 46)
    assert torch.allclose(from_env, library.observations[frames], atol=1e-4), (from_env - library.observations[frames]).abs().max()


def test_library_refuses_a_clip_of_other_joints(tmp_path, trot_clips):
    from legged_train.motions.clip import MotionClip
    from legged_train.runners.amp_policy_runner import build_motion_library

    clip = MotionClip.load(str(next(trot_clips.glob("*.npz"))))
    clip.joint_names = [name.replace("FL_", "LF_") for name in clip.joint_names]
    clip.save(str(tmp_path / "other.npz"))
    task = amp_task(2, tmp_path)
    env = task.make_env(task.env_cfg, "cpu")
    with pytest.raises(ValueError, match=r"motion clip 'other' has joints .*'LF_hip_joint'.*the robot has"):
        build_motion_library(env, task.train_cfg, "cpu")


def test_reference_state_init_starts_episodes_in_clip_frames_with_their_commands(tmp_path, trot_clips):
    runner = runner_for(amp_task(6, trot_clips, reference_state_init_prob=1.0), tmp_path)
    env, library = runner.env, runner.alg.motion_library
    env.reset()
    assert {tuple(round(x, 3) for x in row) for row in env.commands.tolist()} <= {(0.5, 0.0, 0.0), (0.3, 0.0, 0.6)}
    joint_ids = [env.mj_model.joint(j).qposadr[0] for j in env.cfg.robot.joint_names]
    reference_joints = library.qpos[:, joint_ids]
    distance = torch.cdist(env.joint_pos, reference_joints, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values
    assert distance.max() < 1e-4  # every robot starts in a frame of a clip


def test_a_clips_command_is_estimated_when_it_does_not_say(trot_clips):
    from legged_train.motions.clip import MotionClip
    from legged_train.motions.library import clip_command

    clip = MotionClip.load(str(sorted(trot_clips.glob("*.npz"))[0]))  # trot at 0.3 m/s turning at 0.6 rad/s
    said = clip_command(clip)
    clip.meta = {}
    assert said == pytest.approx([0.3, 0.0, 0.6])
    assert clip_command(clip) == pytest.approx(said, abs=0.02)


def runner_for(task, log_dir):
    from legged_train.checkpoint import set_seed
    from legged_train.runners.amp_policy_runner import AmpPolicyRunner

    set_seed(0)
    env = task.make_env(task.env_cfg, "cpu")
    runner = AmpPolicyRunner(env, cfg=task.train_cfg, log_dir=str(log_dir))
    runner.run_config["task"] = task.name
    return runner


def test_amp_runner_reports_to_optuna_saves_and_resumes_exactly(tmp_path, trot_clips):
    # Uninterrupted: 4 iterations, evaluated (and reported to the trial) every 2, saved every 2.
    task = amp_task(16, trot_clips, eval_interval=2, save_interval=2, reference_state_init_prob=0.5)
    study = optuna.create_study(direction="minimize")
    trial = study.ask()
    whole = runner_for(task, tmp_path / "whole")
    stats = whole.learn(4, trial=trial)
    for key in ("amp/expert_score", "amp/policy_score", "amp/disc_accuracy", "amp/grad_penalty", "amp/style_reward"):
        assert key in stats
    assert whole.metrics_velrmsd == pytest.approx(stats["eval/velocity_rmsd"]) and whole.metrics_CoT is not None
    reported = study.trials[0].intermediate_values
    assert sorted(reported) == [1, 3] and reported[3] == pytest.approx(whole.metrics_velrmsd)
    # Resumed from the iteration-2 checkpoint, it continues exactly as the uninterrupted run did.
    resumed = runner_for(amp_task(16, trot_clips, eval_interval=2, save_interval=2, reference_state_init_prob=0.5), tmp_path / "resumed")
    resumed.load_checkpoint(str(tmp_path / "whole" / "model_2.pt"))
    resumed.learn(2)
    for name in ("actor", "critic", "discriminator"):
        a, b = getattr(whole.alg, name).state_dict(), getattr(resumed.alg, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key}"
    assert torch.equal(whole.alg.amp_normalizer.mean, resumed.alg.amp_normalizer.mean)
    assert torch.equal(whole.alg.replay.states, resumed.alg.replay.states)
    assert os.path.isfile(tmp_path / "whole" / "model_4.pt")


def test_amp_runner_honours_pruning(tmp_path, trot_clips):
    study = optuna.create_study(direction="minimize", pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    runner = runner_for(amp_task(8, trot_clips, eval_interval=1), tmp_path / "pruned")
    with pytest.raises(optuna.TrialPruned):
        runner.learn(3, trial=study.ask())
    assert runner.iteration == 1


def test_tune_runs_a_resumable_study(tmp_path, trot_clips):
    from legged_train.cli import tune

    args = ["--task", "go1_amp", "--iterations", "2", "--eval-interval", "2", "--num-envs", "8", "--log-root", str(tmp_path),
            "--set", f"train.motion_files=[{trot_clips}]", "train.num_steps_per_env=4", "train.discriminator_batch_size=64",
            "train.actor_cfg.hidden_dims=[32]", "train.critic_cfg.hidden_dims=[32]", "train.discriminator_hidden_dims=[32]"]
    assert tune.main([*args, "--trials", "2"]) == 0
    assert tune.main([*args, "--trials", "1"]) == 0  # continues the same study
    study = optuna.load_study(study_name="go1_amp", storage=f"sqlite:///{tmp_path}/go1_amp/tune/go1_amp.db")
    assert len(study.trials) == 3
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert {"train.style_reward_weight", "train.task_reward_lerp"} <= set(study.trials[0].params)
    assert os.path.isfile(tmp_path / "go1_amp" / "tune" / "go1_amp_trial_0" / "model_2.pt")


def test_tune_refuses_a_task_without_a_search_space_or_a_bad_one(tmp_path, capsys):
    from legged_train.cli import tune

    with pytest.raises(SystemExit) as exit_info:
        tune.main(["--task", "go1_flat", "--log-root", str(tmp_path)])
    assert exit_info.value.code == 2 and "search_space is empty: nothing to tune" in capsys.readouterr().err
    with pytest.raises(tune.UserError, match=r"search_space\['train.x'\].type='gauss': allowed: float, int, categorical"):
        tune.check_search_space({"train.x": {"type": "gauss"}})
    with pytest.raises(tune.UserError, match=r"search_space key 'x': must start with 'train.' or 'env.'"):
        tune.check_search_space({"x": {"type": "float", "low": 0, "high": 1}})
    assert not (tmp_path / "go1_flat").exists()
