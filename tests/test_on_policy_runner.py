"""OnPolicyRunner: both call styles, callbacks, evaluation on a separate env, NaN guards, inference policy."""

import os

import pytest
import torch

from legged_train.envs.vec_env import VecEnv
from legged_train.algorithms.ppo import PPO
from legged_train.networks import MLPActor, MLPCritic
from legged_train.runners.base import NonFiniteError
from legged_train.runners.on_policy_runner import OnPolicyRunner
from toy_envs import NaNRewardEnv, PointMassEnv, small_cfg


def test_keyword_style_trains_two_iterations(tmp_path):
    env = PointMassEnv(num_envs=8)
    runner = OnPolicyRunner(
        env=env,
        algorithm="ppo",
        actor_class=MLPActor,
        critic_class=MLPCritic,
        actor_cfg={"hidden_dims": [16]},
        critic_cfg={"hidden_dims": [32]},
        log_dir=str(tmp_path / "logs"),
        save_dir=str(tmp_path / "checkpoints"),
        device=torch.device("cpu"),
        log_interval=1,
        save_interval=1,
    )
    # 2 iterations x 24 steps x 8 envs (the default num_steps_per_env is 24).
    stats = runner.learn(total_timesteps=2 * 24 * 8)
    assert runner.iteration == 2 and runner.total_timesteps == 2 * 24 * 8
    assert runner.alg.actor.mlp[0].out_features == 16 and runner.alg.critic.mlp[0].out_features == 32
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["model_1.pt", "model_2.pt"]
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "logs"))
    assert "train/policy_loss" in stats and "rollout/mean_reward" in stats
    runner.close()


def test_preconfigured_agent_style_and_ppo_learn_delegate_to_the_runner(tmp_path):
    env = PointMassEnv(num_envs=8)
    cfg = small_cfg(learning_rate=3e-4, schedule="fixed")
    agent = PPO(env=env, cfg=cfg, actor_class=MLPActor, critic_class=MLPCritic)
    runner = OnPolicyRunner(agent=agent, env=env, cfg=cfg, log_dir=str(tmp_path))
    runner.learn(num_learning_iterations=2)
    assert runner.iteration == 2 and runner.alg is agent
    runner.close()

    agent2 = PPO(env=PointMassEnv(num_envs=8), cfg=small_cfg())
    agent2.learn(total_timesteps=2 * 8 * 8)
    assert agent2.runner.iteration == 2
    agent2.learn(num_learning_iterations=1)  # the same runner continues
    assert agent2.runner.iteration == 3


def test_rsl_rl_style_trains_two_iterations(tmp_path):
    env = PointMassEnv(num_envs=8)
    train_cfg = {
        "runner": {"num_steps_per_env": 8, "save_interval": 1, "max_iterations": 2, "experiment_name": "toy"},
        "algorithm": {"learning_rate": 1e-3, "num_learning_epochs": 2, "num_mini_batches": 2, "schedule": "adaptive"},
        "policy": {"actor_hidden_dims": [16], "critic_hidden_dims": [16], "activation": "elu", "init_noise_std": 1.0},
    }
    runner = OnPolicyRunner(env, train_cfg, log_dir=str(tmp_path), device="cpu")
    runner.learn(2, init_at_random_ep_len=True)
    assert runner.current_learning_iteration == 2
    assert {"model_1.pt", "model_2.pt"} <= set(os.listdir(tmp_path))
    assert os.path.isfile(tmp_path / "config.yaml")
    # rsl_rl names: rollout_step, train_mode / eval_mode, get_inference_policy, save / load.
    obs, extras = env.get_observations()
    with torch.inference_mode():
        out = runner.rollout_step(obs, extras["observations"]["critic"])
    assert len(out) == 5
    runner.alg.storage.clear()
    saved = runner.save(str(tmp_path / "rsl.pt"), infos={"note": "hello"})
    assert runner.load(saved)["infos"] == {"note": "hello"}
    policy = runner.get_inference_policy(device="cpu")
    assert not runner.alg.actor.training
    assert policy(obs).shape == (8, env.num_actions)
    runner.close()


def test_constructor_errors_are_clear():
    env = PointMassEnv(num_envs=2)
    with pytest.raises(ValueError, match="algorithm='sac'.*allowed: \\['ppo'\\]"):
        OnPolicyRunner(env=env, algorithm="sac")
    with pytest.raises(ValueError, match="either train_cfg"):
        OnPolicyRunner(env, {}, cfg=small_cfg())
    with pytest.raises(TypeError, match="PPOConfig or an rsl_rl-style dict"):
        OnPolicyRunner(env, 42)


def test_callbacks_fire_in_order_with_their_arguments():
    env = PointMassEnv(num_envs=4)
    runner = OnPolicyRunner(env=env, cfg=small_cfg())
    events = []

    def record(event):
        def callback(runner_arg, *args):
            assert runner_arg is runner
            events.append((event, runner_arg.iteration, args))

        return callback

    for event in OnPolicyRunner.CALLBACK_EVENTS:
        runner.add_callback(event, record(event))
    runner.learn(num_learning_iterations=2)

    names = [name for name, _, _ in events]
    one_iteration = ["pre_iteration", "pre_rollout", "post_rollout", "pre_update", "post_update", "post_iteration"]
    assert names == one_iteration * 2
    # pre_* get only the runner; post_rollout/post_update/post_iteration get their stats dicts.
    by_name = {name: (it, args) for name, it, args in events[:6]}
    assert by_name["pre_iteration"] == (0, ())
    assert set(by_name["post_rollout"][1][0]) == {"rollout/mean_reward", "rollout/mean_value"}
    assert "train/policy_loss" in by_name["post_update"][1][0]
    iteration_after, (stats,) = by_name["post_iteration"]
    assert iteration_after == 1 and "rollout/mean_reward" in stats and "perf/fps" in stats


def test_failing_callback_stops_training_with_its_exception():
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=small_cfg())

    def broken(runner_arg, stats):
        raise RuntimeError("threshold check exploded")

    runner.add_callback("post_iteration", broken)
    with pytest.raises(RuntimeError, match="threshold check exploded"):
        runner.learn(num_learning_iterations=3)
    assert runner.iteration == 1  # stopped after the first iteration, not swallowed

    with pytest.raises(ValueError, match="unknown callback event 'on_step'.*pre_iteration"):
        runner.add_callback("on_step", broken)


def test_eval_uses_a_separate_env_and_reports_spec_names():
    env = PointMassEnv(num_envs=8)
    runner = OnPolicyRunner(env=env, cfg=small_cfg())
    runner.learn(num_learning_iterations=1)
    position, steps = env.position.clone(), env.episode_length_buf.clone()
    stats = runner.eval(num_episodes=12)
    assert set(stats) == {"eval/mean_reward", "eval/std_reward", "eval/min_reward", "eval/max_reward"}
    assert stats["eval/min_reward"] <= stats["eval/mean_reward"] <= stats["eval/max_reward"]
    torch.testing.assert_close(env.position, position)  # the training env was not touched
    torch.testing.assert_close(env.episode_length_buf, steps)
    assert runner.alg.actor.training  # back to training mode
    assert runner.get_eval_env() is runner.eval_env  # made once, reused


class FixedLengthEnv(VecEnv):
    """Env i's episodes all last ``episode_lengths[i]`` steps and earn 1 per step: the return is the length."""

    def __init__(self, episode_lengths: list[int], num_obs: int = 4, num_actions: int = 2):
        self.episode_lengths = torch.tensor(episode_lengths)
        self.num_envs, self.num_obs, self.num_actions = len(episode_lengths), num_obs, num_actions
        self.num_privileged_obs = None
        self.max_episode_length = int(self.episode_lengths.max())
        self.device = torch.device("cpu")
        self.steps = torch.zeros(self.num_envs, dtype=torch.long)

    def get_observations(self):
        obs = torch.zeros(self.num_envs, self.num_obs)
        return obs, {"observations": {"policy": obs}}

    def reset(self):
        self.steps.zero_()
        return self.get_observations()

    def step(self, actions):
        self.steps += 1
        truncated = self.steps >= self.episode_lengths
        self.steps[truncated] = 0
        obs, extras = self.get_observations()
        extras.update(terminated=torch.zeros_like(truncated), truncated=truncated, time_outs=truncated,
                      final_observation=torch.zeros_like(obs))
        return obs, torch.ones(self.num_envs), truncated, extras


def test_eval_counts_short_and_long_episodes_alike():
    # Env 0's episodes last 1 step, env 1's 10. Counting whatever finishes first would return four
    # 1-step episodes; each env must contribute its share (2 and 2; 2 and 1 for three episodes).
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=2), cfg=small_cfg(), eval_env=FixedLengthEnv([1, 10]))
    stats = runner.eval(num_episodes=4)
    assert stats["eval/mean_reward"] == pytest.approx((1 + 1 + 10 + 10) / 4)
    assert (stats["eval/min_reward"], stats["eval/max_reward"]) == (1.0, 10.0)
    assert runner.eval(num_episodes=3)["eval/mean_reward"] == pytest.approx((1 + 1 + 10) / 3)
    # Fewer episodes than envs: one each from the first envs.
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=2), cfg=small_cfg(), eval_env=FixedLengthEnv([1, 7, 3]))
    assert runner.eval(num_episodes=2)["eval/mean_reward"] == pytest.approx((1 + 7) / 2)
    assert runner.eval(num_episodes=4)["eval/mean_reward"] == pytest.approx((1 + 1 + 7 + 3) / 4)


def test_periodic_eval_during_learn():
    env = PointMassEnv(num_envs=4)
    runner = OnPolicyRunner(env=env, cfg=small_cfg(eval_interval=2, eval_episodes=4))
    seen = []
    runner.add_callback("post_iteration", lambda r, stats: seen.append("eval/mean_reward" in stats))
    runner.learn(num_learning_iterations=4)
    assert seen == [False, True, False, True]


def test_nan_reward_stops_training_naming_the_source_and_keeps_checkpoints_intact(tmp_path):
    env = NaNRewardEnv(nan_from_step=8 * 2 + 3, num_envs=4)  # inside iteration 3
    runner = OnPolicyRunner(env=env, cfg=small_cfg(save_interval=1), log_dir=str(tmp_path))
    with pytest.raises(NonFiniteError, match="env rewards"):
        runner.learn(num_learning_iterations=5)
    assert sorted(os.listdir(tmp_path)) == sorted(["config.yaml", "git", "model_1.pt", "model_2.pt"] + [
        f for f in os.listdir(tmp_path) if f.startswith("events.out")
    ])
    fresh = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=small_cfg())
    fresh.load_checkpoint(str(tmp_path / "model_2.pt"))
    assert fresh.iteration == 2
    assert all(torch.isfinite(p).all() for p in fresh.alg.actor.parameters())
    runner.close()


class NaNObservationEnv(PointMassEnv):
    def step(self, actions):
        obs, rewards, dones, extras = super().step(actions)
        extras["observations"]["critic"] = extras["observations"]["critic"].clone()
        extras["observations"]["critic"][0, 5] = float("inf")
        return obs, rewards, dones, extras


def test_non_finite_observation_names_the_group():
    runner = OnPolicyRunner(env=NaNObservationEnv(num_envs=4), cfg=small_cfg())
    with pytest.raises(NonFiniteError, match="group 'critic'"):
        runner.learn(num_learning_iterations=1)


def test_point_mass_gets_better():
    torch.manual_seed(0)
    env = PointMassEnv(num_envs=32)
    cfg = small_cfg(num_steps_per_env=16, actor_cfg={"hidden_dims": [32, 32]}, critic_cfg={"hidden_dims": [32, 32]})
    runner = OnPolicyRunner(env=env, cfg=cfg)
    before = runner.eval(num_episodes=32)["eval/mean_reward"]
    runner.learn(num_learning_iterations=25)
    after = runner.eval(num_episodes=32)["eval/mean_reward"]
    assert after > before + 0.5, (before, after)
