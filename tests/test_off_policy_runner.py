"""OffPolicyRunner: DQN on CartPole and SAC on Pendulum train end to end, logs the spec's names, resumes exactly."""

import copy
import glob
import math
import os

import pytest
import torch

from legged_train.envs.gym_wrapper import make_gym_vec_env
from event_files import read_scalars
from legged_train.algorithms.dqn import MLPQNetwork
from legged_train.algorithms.ppo import PPOConfig
from legged_train.algorithms.sac import MLPQCritic, SquashedGaussianActor
from legged_train.checkpoint import CheckpointError
from legged_train.runners.base import NonFiniteError
from legged_train.runners.off_policy_runner import OffPolicyRunner
from toy_envs import NaNRewardEnv, PointMassEnv, small_dqn_cfg, small_sac_cfg

DQN_KEYS = ("train/q_loss", "train/mean_q", "train/td_target_mean", "exploration/epsilon", "buffer/size")
SAC_KEYS = ("train/q_loss", "train/mean_q", "train/td_target_mean", "buffer/size", "train/actor_loss",
            "train/critic1_loss", "train/critic2_loss", "train/alpha", "train/entropy")
EPISODE_KEYS = ("episode/mean_reward", "episode/mean_length", "perf/fps")


def test_dqn_trains_on_cartpole_and_logs_the_spec_names(tmp_path):
    env = make_gym_vec_env("CartPole-v1", num_envs=2, seed=0)
    runner = OffPolicyRunner(env=env, cfg=small_dqn_cfg(extra_log_keys=["time_outs", "episode"]),
                             q_network_class=MLPQNetwork, device=torch.device("cpu"), log_dir=str(tmp_path),
                             verbose=False)
    before = [p.clone() for p in runner.algorithm.q_network.parameters()]
    stats = runner.learn(total_timesteps=400)
    runner.close()
    assert runner.total_timesteps == 400 and runner.iteration == 200
    assert len(runner.replay_buffer) == 400
    # One gradient step per vector step from the one that reaches learning_starts (iteration 50) on.
    assert runner.algorithm.num_updates == 151
    assert any(not torch.equal(p, q) for p, q in zip(before, runner.algorithm.q_network.parameters()))
    for key in DQN_KEYS + EPISODE_KEYS:
        assert math.isfinite(stats[key]), key
    tags = set(read_scalars(tmp_path))
    assert set(DQN_KEYS + EPISODE_KEYS) <= tags
    assert "extra/time_outs" in tags and "extra/episode/returns" in tags
    assert os.path.isfile(tmp_path / "config.yaml") and os.path.isdir(tmp_path / "git")
    assert os.path.isfile(tmp_path / "model_200.pt")


def test_sac_trains_on_pendulum_and_logs_the_spec_names(tmp_path):
    env = make_gym_vec_env("Pendulum-v1", num_envs=1, seed=0)
    runner = OffPolicyRunner(env=env, cfg=small_sac_cfg(), actor_class=SquashedGaussianActor, critic_class=MLPQCritic,
                             device="cpu", log_dir=str(tmp_path), verbose=False)
    stats = runner.learn(total_timesteps=300)
    runner.close()
    assert runner.algorithm.num_updates == 201
    for key in SAC_KEYS + EPISODE_KEYS:
        assert math.isfinite(stats[key]), key
    assert "exploration/epsilon" not in stats
    assert stats["episode/mean_length"] == 200.0
    assert set(SAC_KEYS + EPISODE_KEYS) <= set(read_scalars(tmp_path))


def test_sac_on_a_vec_env_with_a_privileged_critic_group():
    env = PointMassEnv(num_envs=8, privileged=True)
    # One log window per learn() call: the second call's 50 iterations hold the time-outs at step 40.
    cfg = small_sac_cfg(learning_starts=40, train_freq=2, gradient_steps=3, log_interval=1000)
    runner = OffPolicyRunner(env=env, cfg=cfg, verbose=False)
    assert set(runner.replay_buffer.obs) == {"policy", "critic"}
    runner.learn(total_timesteps=160)
    # 20 vector steps; training from timestep 40 on every 2nd iteration: iterations 6, 8, ..., 20.
    assert runner.algorithm.num_updates == 8 * 3
    assert "episode/rew_progress" in runner.learn(total_timesteps=400)
    stats = runner.eval(num_episodes=4)
    assert set(stats) >= {"eval/mean_reward", "eval/std_reward", "eval/min_reward", "eval/max_reward"}


def test_train_freq_and_gradient_steps_schedule():
    env = make_gym_vec_env("CartPole-v1", num_envs=1, seed=0)
    runner = OffPolicyRunner(env=env, cfg=small_dqn_cfg(learning_starts=10, train_freq=4, gradient_steps=2), verbose=False)
    runner.learn(total_timesteps=30)
    # Training rounds at iterations 12, 16, 20, 24, 28: 5 rounds of 2 gradient steps.
    assert runner.algorithm.num_updates == 10


def test_callbacks_fire_and_failures_propagate():
    env = make_gym_vec_env("CartPole-v1", num_envs=1, seed=0)
    runner = OffPolicyRunner(env=env, cfg=small_dqn_cfg(learning_starts=5), verbose=False)
    seen = {event: 0 for event in runner.CALLBACK_EVENTS}
    for event in runner.CALLBACK_EVENTS:
        runner.add_callback(event, lambda r, *args, event=event: seen.__setitem__(event, seen[event] + 1))
    last_stats = {}
    runner.add_callback("post_iteration", lambda r, stats: last_stats.update(stats))
    runner.learn(total_timesteps=10)
    assert seen["pre_iteration"] == seen["post_iteration"] == seen["pre_rollout"] == 10
    assert seen["pre_update"] == seen["post_update"] == 6  # timesteps 5..10 reached at iterations 5..10
    assert "buffer/size" in last_stats

    def boom(runner, stats):
        raise RuntimeError("callback failed")

    runner.add_callback("post_update", boom)
    with pytest.raises(RuntimeError, match="callback failed"):
        runner.learn(total_timesteps=5)
    with pytest.raises(ValueError, match="unknown callback event"):
        runner.add_callback("on_step", boom)


def test_eval_uses_a_separate_env_and_is_deterministic():
    env = make_gym_vec_env("CartPole-v1", num_envs=2, seed=0)
    runner = OffPolicyRunner(env=env, cfg=small_dqn_cfg(), verbose=False)
    runner.learn(total_timesteps=50)
    obs_before = env.get_observations()[0].clone()
    first = runner.eval(num_episodes=3)
    second = runner.eval(num_episodes=3)
    assert first == second
    torch.testing.assert_close(env.get_observations()[0], obs_before)
    assert runner.algorithm.q_network.training


@pytest.mark.parametrize("algorithm", ["dqn", "sac"])
def test_checkpoint_round_trip_resumes_exactly(tmp_path, algorithm):
    if algorithm == "dqn":
        make_env = lambda: make_gym_vec_env("CartPole-v1", num_envs=2, seed=0)  # noqa: E731
        make_cfg = lambda seed: small_dqn_cfg(seed=seed, save_replay_buffer=True, learning_starts=50)  # noqa: E731
    else:
        make_env = lambda: make_gym_vec_env("Pendulum-v1", num_envs=2, seed=0)  # noqa: E731
        make_cfg = lambda seed: small_sac_cfg(seed=seed, save_replay_buffer=True, learning_starts=50)  # noqa: E731
    runner = OffPolicyRunner(env=make_env(), cfg=make_cfg(0), verbose=False)
    runner.learn(total_timesteps=120)
    path = runner.save_checkpoint(str(tmp_path / "resume.pt"))
    # The checkpoint does not hold the simulator: give the resumed run an env in the same state.
    env_at_checkpoint = copy.deepcopy(runner.env)
    runner.learn(total_timesteps=80)

    resumed = OffPolicyRunner(env=env_at_checkpoint, cfg=make_cfg(123), verbose=False)
    resumed.load_checkpoint(path)
    assert (resumed.iteration, resumed.total_timesteps) == (60, 120)
    assert len(resumed.replay_buffer) == 120
    resumed.learn(total_timesteps=80)

    assert (resumed.iteration, resumed.total_timesteps) == (runner.iteration, runner.total_timesteps)
    assert resumed.algorithm.num_updates == runner.algorithm.num_updates
    original, restored = runner.algorithm.state_dict(), resumed.algorithm.state_dict()
    for name, value in original.items():
        if isinstance(value, dict) and name != "actor_stats" and "optimizer" not in name:
            for key, tensor in value.items():
                assert torch.equal(tensor, restored[name][key]), f"{name}.{key}"
    assert torch.equal(runner.replay_buffer.rewards, resumed.replay_buffer.rewards)
    assert list(runner.episodes.recent_returns) == list(resumed.episodes.recent_returns)


def test_replay_buffer_is_left_out_of_checkpoints_unless_asked(tmp_path):
    env = make_gym_vec_env("CartPole-v1", num_envs=1, seed=0)
    runner = OffPolicyRunner(env=env, cfg=small_dqn_cfg(), verbose=False)
    runner.learn(total_timesteps=20)
    path = runner.save_checkpoint(str(tmp_path / "small.pt"))
    assert "replay_buffer" not in torch.load(path, weights_only=False)
    fresh = OffPolicyRunner(env=make_gym_vec_env("CartPole-v1"), cfg=small_dqn_cfg(), verbose=False)
    fresh.load_checkpoint(path)
    assert fresh.total_timesteps == 20 and len(fresh.replay_buffer) == 0


def test_a_checkpoint_of_another_algorithm_is_refused(tmp_path):
    dqn = OffPolicyRunner(env=make_gym_vec_env("CartPole-v1"), cfg=small_dqn_cfg(), verbose=False)
    path = dqn.save_checkpoint(str(tmp_path / "dqn.pt"))
    sac = OffPolicyRunner(env=make_gym_vec_env("Pendulum-v1"), cfg=small_sac_cfg(), verbose=False)
    with pytest.raises(CheckpointError, match="algorithm 'dqn'"):
        sac.load_checkpoint(path)


def test_bad_constructor_arguments():
    cartpole, pendulum = make_gym_vec_env("CartPole-v1"), make_gym_vec_env("Pendulum-v1")
    with pytest.raises(TypeError, match=r"SAC needs a continuous Box action space.*Discrete\(2\)"):
        OffPolicyRunner(env=cartpole, cfg=small_sac_cfg())
    with pytest.raises(TypeError, match=r"DQN needs a Discrete action space.*Box\(shape=\(1,\)\)"):
        OffPolicyRunner(env=pendulum, cfg=small_dqn_cfg())
    with pytest.raises(TypeError, match="allowed: DQNConfig"):
        OffPolicyRunner(env=cartpole, cfg=PPOConfig())
    with pytest.raises(ValueError, match="q_network_class is for DQN"):
        OffPolicyRunner(env=pendulum, cfg=small_sac_cfg(), q_network_class=MLPQNetwork)
    with pytest.raises(ValueError, match="actor_class/critic_class are for SAC"):
        OffPolicyRunner(env=cartpole, cfg=small_dqn_cfg(), actor_class=SquashedGaussianActor)


def test_train_py_runs_the_registered_off_policy_tasks(tmp_path):
    from legged_train.cli import train

    for task in ("cartpole_dqn", "pendulum_sac"):
        code = train.main([
            "--task", task, "--total-timesteps", "60", "--log-root", str(tmp_path),
            "--set", "train.learning_starts=20", "train.batch_size=16", "train.log_interval=10", "train.train_freq=1",
            "train.gradient_steps=1",
        ])
        assert code == 0
        (run_dir,) = glob.glob(str(tmp_path / task / "*"))
        assert os.path.isfile(os.path.join(run_dir, "config.yaml"))
        assert os.path.isfile(os.path.join(run_dir, "model_60.pt"))
        assert "train/q_loss" in read_scalars(run_dir)


def test_non_finite_rewards_stop_training_with_a_named_error():
    runner = OffPolicyRunner(env=NaNRewardEnv(num_envs=2), cfg=small_sac_cfg(), verbose=False)
    with pytest.raises(NonFiniteError, match="env rewards"):
        runner.learn(total_timesteps=10)
