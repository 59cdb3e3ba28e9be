"""TwoStageRunner: pretraining from a RolloutDataset, then PPO in the env."""

import os
import subprocess
import sys

import pytest
import torch

from event_files import read_scalars
from legged_train.demonstrations import ActorPolicy, DemonstrationSaver
from legged_train.networks import MLPActor
from legged_train.runners.two_stage_runner import PretrainDatasetConfig, TwoStagePPOConfig, TwoStageRunner
from legged_train.tasks import get_task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_env(num_envs: int = 8, **changes):
    task = get_task("go1_flat")
    cfg = task.env_cfg
    cfg.num_envs, cfg.sim.num_threads, cfg.episode_length_s = num_envs, 1, 1.0
    for name, value in changes.items():
        setattr(cfg, name, value)
    return task.make_env(cfg, "cpu")


@pytest.fixture(scope="module")
def teacher_and_demos(tmp_path_factory):
    """A fixed random 'teacher' actor and 3000 steps of its deterministic actions on go1_flat."""
    torch.manual_seed(0)
    env = small_env()
    teacher = MLPActor(env.num_obs, env.num_actions, hidden_dims=[32], obs_normalization=False)
    save_dir = tmp_path_factory.mktemp("demos")
    saver = DemonstrationSaver(env, ActorPolicy(teacher), str(save_dir), rollout_storage_length=64,
                               min_timesteps=3000, verbose=False)
    saver.collect_and_save()
    saver.close()
    env.close()
    return teacher, save_dir


def two_stage_cfg(data_dir, **changes) -> TwoStagePPOConfig:
    cfg = TwoStagePPOConfig(
        num_steps_per_env=16, num_learning_epochs=5, num_mini_batches=2, torch_threads=1, learning_rate=3e-3,
        schedule="fixed", actor_cfg={"hidden_dims": [64, 64]}, critic_cfg={"hidden_dims": [32]},
        pretrain_iterations=3, pretrain_dataset=PretrainDatasetConfig(data_dir=str(data_dir)),
    )
    for name, value in changes.items():
        setattr(cfg, name, value)
    return cfg


def test_pretraining_uses_the_dataset_then_switches_to_the_env(teacher_and_demos, tmp_path):
    _, demos = teacher_and_demos
    env = small_env()
    runner = TwoStageRunner(env, cfg=two_stage_cfg(demos), log_dir=str(tmp_path))
    env_steps = []
    runner.add_callback("post_iteration", lambda r, stats: env_steps.append(env.common_step_counter))
    runner.learn(num_learning_iterations=5)
    # The env does not move while the dataset is served; it steps 16 times an iteration after.
    assert env_steps == [0, 0, 0, 16, 32]
    assert runner.total_timesteps == 2 * 16 * env.num_envs  # env steps only
    scalars = read_scalars(tmp_path)
    assert sorted(scalars["Perf/dataset_mean_episode_length"]) == [0, 1, 2]
    assert scalars["Perf/dataset_num_trajectories"][0] > 0
    assert sorted(scalars["train/bc_loss"]) == [0, 1, 2]
    assert sorted(scalars["train/policy_loss"]) == [3, 4]


def test_behaviour_cloning_learns_the_dataset_actions(teacher_and_demos, tmp_path):
    teacher, demos = teacher_and_demos
    env = small_env()
    runner = TwoStageRunner(env, cfg=two_stage_cfg(demos, pretrain_iterations=60, log_interval=100))
    obs = runner.rollout_dataset.get_transition_batch()[0].obs  # states of the demonstrations

    def imitation_error() -> float:
        with torch.no_grad():
            return (runner.alg.actor(obs) - teacher(obs)).square().mean().item()

    before = imitation_error()
    runner.learn(num_learning_iterations=60)
    assert runner.iteration == 60 and env.common_step_counter == 0
    assert imitation_error() < 0.1 * before


def test_a_missing_dataset_is_a_clear_error(tmp_path):
    env = small_env()
    with pytest.raises(ValueError, match="pretrain_dataset.data_dir is empty"):
        TwoStageRunner(env, cfg=two_stage_cfg(""))
    missing = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train.py"), "--task", "go1_flat_pretrained", "--log-root", str(tmp_path),
         "--num-envs", "4", "--set", f"train.pretrain_dataset.data_dir={missing}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(missing) in result.stderr and not (tmp_path / "go1_flat_pretrained").exists()


def test_a_dataset_of_another_observation_layout_is_refused(teacher_and_demos):
    _, demos = teacher_and_demos
    env = small_env(gait_clock=False)  # its policy group lacks the gait clock the demonstrations have
    with pytest.raises(ValueError, match="gait_clock") as error:
        TwoStageRunner(env, cfg=two_stage_cfg(demos))
    assert str(demos) in str(error.value)


def test_an_rsl_rl_style_dict_with_pretraining_keys():
    from legged_train.runners.two_stage_runner import two_stage_config_from_dict

    cfg = two_stage_config_from_dict({
        "runner": {"num_steps_per_env": 16, "pretrain_iterations": 3, "algorithm": {"learning_rate": 3e-3}},
        "policy": {"actor_hidden_dims": [64, 64]},
        "pretrain_dataset": {"data_dir": "demos", "dataset_loops": False},
        "bc_loss": "nll",
    })
    assert type(cfg) is TwoStagePPOConfig
    assert (cfg.num_steps_per_env, cfg.learning_rate, cfg.actor_cfg["hidden_dims"]) == (16, 3e-3, [64, 64])
    assert (cfg.pretrain_iterations, cfg.bc_loss) == (3, "nll")
    assert cfg.pretrain_dataset == PretrainDatasetConfig(data_dir="demos", dataset_loops=False)


def test_fine_tuning_warms_the_critic_up_then_holds_the_actor_near_the_cloned_one(teacher_and_demos, tmp_path):
    """Issue 23 pt 3: after pretraining, critic_warmup_iterations of critic-only PPO (the cloned actor
    and the learning rate unchanged), then PPO with a loss towards the cloned actor (anchor_coef),
    its weight decaying over anchor_iterations; all of it survives a checkpoint."""
    _, demos = teacher_and_demos
    env = small_env()
    cfg = two_stage_cfg(demos, critic_warmup_iterations=2, anchor_coef=1.0, anchor_iterations=4, schedule="adaptive")
    runner = TwoStageRunner(env, cfg=cfg, log_dir=str(tmp_path))
    runner.learn(num_learning_iterations=3)  # pretraining ends
    cloned = {k: v.clone() for k, v in runner.alg.actor.state_dict().items()}
    critic = {k: v.clone() for k, v in runner.alg.critic.state_dict().items()}
    learning_rate = runner.alg.learning_rate
    stats = runner.learn(num_learning_iterations=2)  # the warm-up
    assert stats["train/critic_warmup"] == 1.0 and runner.alg.learning_rate == learning_rate
    actor = runner.alg.actor.state_dict()
    # The actor held, its observation statistics too; the critic learns, its statistics move.
    assert all(torch.equal(actor[k], v) for k, v in cloned.items())
    assert any(not torch.equal(runner.alg.critic.state_dict()[k], v) for k, v in critic.items() if "normalizer" not in k)
    assert any(not torch.equal(runner.alg.critic.state_dict()[k], v) for k, v in critic.items() if "normalizer" in k)
    assert all(torch.equal(runner.alg.anchor.state_dict()[k], v) for k, v in cloned.items() if "normalizer" not in k)
    stats = runner.learn(num_learning_iterations=1)  # the actor moves, pulled towards the cloned one
    assert "train/critic_warmup" not in stats and stats["train/anchor_weight"] == pytest.approx(1.0 - 2 / 4)
    assert stats["train/anchor_loss"] >= 0.0
    assert any(not torch.equal(runner.alg.actor.state_dict()[k], v) for k, v in cloned.items() if "normalizer" not in k)
    assert any(not torch.equal(runner.alg.actor.state_dict()[k], v) for k, v in cloned.items() if "normalizer" in k)
    state = runner.alg.state_dict()
    assert state["ppo_updates"] == 3 and "anchor_state_dict" in state
    resumed = TwoStageRunner(small_env(), cfg=cfg)
    resumed.alg.load_state_dict(state)
    assert resumed.alg.ppo_updates == 3
    assert all(torch.equal(resumed.alg.anchor.state_dict()[k], v) for k, v in runner.alg.anchor.state_dict().items())


def test_frozen_observation_normalization_keeps_the_pretrained_statistics_through_ppo(teacher_and_demos, tmp_path):
    _, demos = teacher_and_demos
    cfg = two_stage_cfg(demos, freeze_obs_normalization=True)
    runner = TwoStageRunner(small_env(), cfg=cfg, log_dir=str(tmp_path))

    def statistics():
        return {f"{name}.{k}": v.clone() for name, network in (("actor", runner.alg.actor), ("critic", runner.alg.critic))
                for k, v in network.state_dict().items() if "normalizer" in k}

    runner.learn(num_learning_iterations=3)  # pretraining fits the statistics on the demonstrations
    pretrained = statistics()
    assert int(pretrained["actor.obs_normalizer.count"]) > 0
    runner.learn(num_learning_iterations=2)  # PPO
    assert all(torch.equal(statistics()[k], v) for k, v in pretrained.items())
