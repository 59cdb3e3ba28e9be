"""PPO maths: GAE by hand, truncation bootstrapping, learning-rate schedules, KL, normalization, config errors."""

import math

import pytest
import torch

from legged_train.algorithms.ppo import (
    PPO,
    PPOConfig,
    adaptive_learning_rate,
    gaussian_kl,
    linear_learning_rate,
)
from legged_train.networks import EmpiricalNormalization, MLPActor
from legged_train.rsl_rl_config import ppo_config_from_dict
from legged_train.storage import RolloutStorage, compute_gae
from toy_envs import PointMassEnv, small_cfg


def test_gae_matches_hand_computation():
    gamma, lam = 0.9, 0.8
    # 3 steps x 2 envs; env 1 ends its episode at step 1.
    rewards = torch.tensor([[1.0, 0.5], [0.0, 2.0], [1.0, -1.0]])
    values = torch.tensor([[0.5, 1.0], [0.2, 0.3], [0.4, 0.6]])
    dones = torch.tensor([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    last_values = torch.tensor([1.5, 0.7])

    # env 0: no episode end.
    d2 = 1.0 + 0.9 * 1.5 - 0.4
    d1 = 0.0 + 0.9 * 0.4 - 0.2
    d0 = 1.0 + 0.9 * 0.2 - 0.5
    a2 = d2
    a1 = d1 + 0.9 * 0.8 * a2
    a0 = d0 + 0.9 * 0.8 * a1
    # env 1: done at step 1 cuts both the bootstrap and the advantage trace.
    e2 = -1.0 + 0.9 * 0.7 - 0.6
    e1 = 2.0 - 0.3
    e0 = 0.5 + 0.9 * 0.3 - 1.0
    b2, b1 = e2, e1
    b0 = e0 + 0.9 * 0.8 * b1
    expected = torch.tensor([[a0, b0], [a1, b1], [a2, b2]])

    advantages = compute_gae(rewards, values, dones, last_values, gamma, lam)
    torch.testing.assert_close(advantages, expected)

    storage = RolloutStorage(num_envs=2, num_steps=3, num_obs=1, num_critic_obs=1, num_actions=1)
    for t in range(3):
        storage.add(torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2), values[t], torch.zeros(2, 1), torch.ones(2, 1))
        storage.set_step_result(rewards[t], dones[t])
    storage.compute_returns(last_values, gamma, lam)
    torch.testing.assert_close(storage.returns, expected + values)


def test_truncated_steps_bootstrap_from_final_critic_observation_and_terminated_do_not():
    env = PointMassEnv(num_envs=4, privileged=True)
    ppo = PPO(env, small_cfg(gamma=0.9))
    obs, extras = env.get_observations()
    ppo.act(obs, extras["observations"]["critic"])
    rewards = torch.tensor([1.0, 1.0, 1.0, 1.0])
    # env 0 truncated, env 1 terminated, env 2 both (a real end wins), env 3 running.
    truncated = torch.tensor([True, False, True, False])
    terminated = torch.tensor([False, True, True, False])
    final_critic = torch.randn(4, env.num_privileged_obs) * torch.tensor([1.0, 1.0, 1.0, 0.0])[:, None]
    step_extras = {
        "truncated": truncated,
        "time_outs": truncated,
        "terminated": terminated,
        "final_observation": torch.randn(4, env.num_obs),  # must not be used: the env has a critic group
        "final_critic_observation": final_critic,
    }
    ppo.process_env_step(rewards, truncated | terminated, step_extras)

    with torch.no_grad():
        final_value = ppo.critic(final_critic)
    stored = ppo.storage.rewards[0]
    torch.testing.assert_close(stored[0], 1.0 + 0.9 * final_value[0])
    torch.testing.assert_close(stored[1:], torch.ones(3))
    torch.testing.assert_close(ppo.storage.dones[0], torch.tensor([1.0, 1.0, 1.0, 0.0]))


def test_truncation_without_critic_group_uses_final_observation():
    env = PointMassEnv(num_envs=2, privileged=False)
    ppo = PPO(env, small_cfg(gamma=0.5))
    obs, _ = env.get_observations()
    ppo.act(obs, obs)
    final_obs = torch.randn(2, env.num_obs)
    truncated = torch.tensor([True, False])
    ppo.process_env_step(
        torch.zeros(2), truncated, {"truncated": truncated, "terminated": torch.zeros(2, dtype=torch.bool), "final_observation": final_obs}
    )
    with torch.no_grad():
        expected = 0.5 * ppo.critic(final_obs)[0]
    torch.testing.assert_close(ppo.storage.rewards[0], torch.stack([expected, torch.tensor(0.0)]))


def test_adaptive_learning_rate_rule():
    # KL above twice the target: divide by the factor; below half: multiply; in between: keep.
    assert adaptive_learning_rate(1e-3, kl=0.03, desired_kl=0.01) == pytest.approx(1e-3 / 1.5)
    assert adaptive_learning_rate(1e-3, kl=0.004, desired_kl=0.01) == pytest.approx(1.5e-3)
    assert adaptive_learning_rate(1e-3, kl=0.01, desired_kl=0.01) == 1e-3
    assert adaptive_learning_rate(1e-3, kl=0.0, desired_kl=0.01) == 1e-3  # no information, no change
    assert adaptive_learning_rate(1e-5, kl=1.0, desired_kl=0.01) == 1e-5  # floor
    assert adaptive_learning_rate(1e-2, kl=1e-4, desired_kl=0.01) == 1e-2  # ceiling


def _collect(ppo: PPO, env: PointMassEnv) -> None:
    obs, extras = env.get_observations()
    critic_obs = extras["observations"]["critic"]
    with torch.inference_mode():
        for _ in range(ppo.cfg.num_steps_per_env):
            actions = ppo.act(obs, critic_obs)
            obs, rewards, dones, extras = env.step(actions)
            critic_obs = extras["observations"]["critic"]
            ppo.process_env_step(rewards, dones, extras)
        ppo.compute_returns(critic_obs)


def test_adaptive_learning_rate_moves_with_the_measured_kl():
    torch.manual_seed(0)
    env = PointMassEnv(num_envs=16)
    # A target KL far below anything an update produces: the rate must fall every minibatch.
    ppo = PPO(env, small_cfg(desired_kl=1e-9, learning_rate=1e-3, num_learning_epochs=2, num_mini_batches=2))
    _collect(ppo, env)
    stats = ppo.update()
    assert stats["train/approx_kl"] > 0
    # Four minibatches; the first may measure KL ~ 0 (policy not yet changed), the others shrink it.
    assert ppo.learning_rate in (pytest.approx(1e-3 / 1.5**3), pytest.approx(1e-3 / 1.5**4))
    assert ppo.optimizer.param_groups[0]["lr"] == ppo.learning_rate
    assert stats["train/learning_rate"] == ppo.learning_rate

    # A target far above: grows after each minibatch with a positive KL, up to the ceiling.
    ppo = PPO(env, small_cfg(desired_kl=1e3, learning_rate=1e-3, num_learning_epochs=2, num_mini_batches=2, max_learning_rate=2e-3))
    _collect(ppo, env)
    ppo.update()
    assert ppo.learning_rate == pytest.approx(2e-3)


def test_fixed_and_linear_schedules():
    env = PointMassEnv(num_envs=8)
    fixed = PPO(env, small_cfg(schedule="fixed", learning_rate=3e-4))
    _collect(fixed, env)
    fixed.update()
    fixed.adjust_schedules(5)
    assert fixed.learning_rate == 3e-4

    cfg = small_cfg(schedule="linear", learning_rate=1e-3, max_iterations=10, min_learning_rate=1e-5)
    assert linear_learning_rate(cfg, 0) == pytest.approx(1e-3)
    assert linear_learning_rate(cfg, 5) == pytest.approx(5e-4)
    assert linear_learning_rate(cfg, 10) == pytest.approx(1e-5)
    assert linear_learning_rate(cfg, 20) == pytest.approx(1e-5)
    linear = PPO(env, cfg)
    linear.adjust_schedules(5)
    assert linear.optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)


def test_entropy_coefficient_anneals_to_final_value():
    env = PointMassEnv(num_envs=4)
    ppo = PPO(env, small_cfg(entropy_coef=0.01, entropy_coef_final=0.005, max_iterations=100))
    assert ppo.entropy_coef == 0.01
    ppo.adjust_schedules(50)
    assert ppo.entropy_coef == pytest.approx(0.0075)
    ppo.adjust_schedules(1000)
    assert ppo.entropy_coef == pytest.approx(0.005)


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(1)
    old_mean, new_mean = torch.randn(5, 3), torch.randn(5, 3)
    old_std, new_std = torch.rand(5, 3) + 0.1, torch.rand(5, 3) + 0.1
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(old_mean, old_std), torch.distributions.Normal(new_mean, new_std)
    ).sum(-1)
    torch.testing.assert_close(gaussian_kl(old_mean, old_std, new_mean, new_std), expected)


def test_empirical_normalization_tracks_mean_and_std_of_everything_seen():
    torch.manual_seed(2)
    normalizer = EmpiricalNormalization(3, eps=0.0)
    batches = [torch.randn(50, 3) * 4.0 + 2.0, torch.randn(70, 3) * 0.5 - 1.0]
    for batch in batches:
        normalizer.update(batch)
    everything = torch.cat(batches)
    torch.testing.assert_close(normalizer.mean, everything.mean(0))
    torch.testing.assert_close(normalizer.std, everything.std(0, unbiased=False))
    torch.testing.assert_close(normalizer(everything).mean(0), torch.zeros(3), atol=1e-5, rtol=0)


def test_kept_columns_pass_through_and_the_switch_travels_in_the_state_dict():
    normalizer = EmpiricalNormalization(3)
    normalizer.update(torch.randn(100, 3) * 4.0 + 2.0)
    normalizer.keep_columns(torch.tensor([False, True, False]))
    x = torch.randn(5, 3)
    out = normalizer(x)
    torch.testing.assert_close(out[:, 1], x[:, 1])
    torch.testing.assert_close(out[:, 0], (x[:, 0] - normalizer.mean[0]) / (normalizer.std[0] + normalizer.eps))
    loaded = EmpiricalNormalization(3)
    loaded.load_state_dict(normalizer.state_dict())
    torch.testing.assert_close(loaded(x), out)
    # A checkpoint from before the switch normalizes every column.
    old = {key: value for key, value in normalizer.state_dict().items() if key != "normalized"}
    loaded.load_state_dict(old)
    assert loaded.normalized.all() and not loaded.keeps_columns


def test_actor_owns_its_normalizer_and_std_is_learnable():
    actor = MLPActor(4, 2, hidden_dims=[8], obs_normalization=True, init_noise_std=0.5)
    assert "obs_normalizer.mean" in actor.state_dict()
    assert actor.log_std.requires_grad
    torch.testing.assert_close(actor.std, torch.full((2,), 0.5))


def test_update_reports_spec_losses_and_learns_something():
    torch.manual_seed(3)
    env = PointMassEnv(num_envs=16)
    ppo = PPO(env, small_cfg())
    _collect(ppo, env)
    stats = ppo.update()
    for name in ("train/policy_loss", "train/value_loss", "train/entropy_loss", "train/approx_kl", "train/learning_rate"):
        assert math.isfinite(stats[name]), name
    assert ppo.storage.step == 0  # cleared for the next rollout


def test_non_finite_loss_is_named():
    from legged_train.runners.base import NonFiniteError

    env = PointMassEnv(num_envs=4)
    ppo = PPO(env, small_cfg(num_steps_per_env=2))
    _collect(ppo, env)
    ppo.storage.returns[0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="value loss"):
        ppo.update()


def test_config_errors_name_field_value_and_allowed():
    with pytest.raises(ValueError, match=r"schedule='cosine'.*allowed: \['adaptive', 'fixed', 'linear'\]"):
        PPOConfig(schedule="cosine")
    with pytest.raises(ValueError, match="num_mini_batches=0"):
        PPOConfig(num_mini_batches=0)
    with pytest.raises(ValueError, match="gamma=1.5"):
        PPOConfig(gamma=1.5)
    with pytest.raises(ValueError, match="logger_backend='neptune'.*allowed"):
        PPOConfig(logger_backend="neptune")
    with pytest.raises(ValueError, match="activation='swish'.*allowed"):
        PPO(PointMassEnv(num_envs=2), small_cfg(actor_cfg={"hidden_dims": [8], "activation": "swish"}))


def test_rsl_rl_style_dict_maps_to_ppo_config():
    cfg = ppo_config_from_dict(
        {
            "runner": {"num_steps_per_env": 12, "max_iterations": 7, "experiment_name": "x", "logger": "tensorboard"},
            "algorithm": {"class_name": "PPO", "learning_rate": 5e-4, "schedule": "fixed", "num_mini_batches": 2},
            "policy": {"class_name": "ActorCritic", "actor_hidden_dims": [32, 16], "critic_hidden_dims": [64], "activation": "tanh", "init_noise_std": 0.7},
            "empirical_normalization": False,
        }
    )
    assert (cfg.num_steps_per_env, cfg.max_iterations, cfg.experiment_name) == (12, 7, "x")
    assert (cfg.learning_rate, cfg.schedule, cfg.num_mini_batches) == (5e-4, "fixed", 2)
    assert cfg.actor_cfg == {"hidden_dims": [32, 16], "activation": "tanh"}
    assert cfg.critic_cfg == {"hidden_dims": [64], "activation": "tanh"}
    assert cfg.init_noise_std == 0.7 and cfg.empirical_normalization is False
    with pytest.raises(ValueError, match="unknown config field 'learning_rat'"):
        ppo_config_from_dict({"algorithm": {"learning_rat": 1e-3}})
