"""SAC maths: squashed log-probability, bounds, temperature toward the target entropy, critic group, TD targets."""

import math
import types

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from legged_train.algorithms.sac import SAC, SACConfig, squashed_log_prob
from legged_train.replay_buffer import ReplayBatch
from toy_envs import SMALL_NETS, PointMassEnv, small_sac_cfg


def box_env(low=-2.0, high=2.0, dim=1, num_obs=3):
    space = gym.spaces.Box(low=low, high=high, shape=(dim,), dtype=np.float32)
    return types.SimpleNamespace(num_envs=1, num_obs=num_obs, num_actions=dim, num_privileged_obs=None,
                                 action_space=space)


def random_batch(num_obs=3, dim=1, n=64, critic_obs=None) -> ReplayBatch:
    obs = {"policy": torch.randn(n, num_obs)}
    next_obs = {"policy": torch.randn(n, num_obs)}
    if critic_obs:
        obs["critic"] = torch.randn(n, critic_obs)
        next_obs["critic"] = torch.randn(n, critic_obs)
    return ReplayBatch(obs=obs, actions=torch.rand(n, dim) * 2 - 1, rewards=torch.randn(n), next_obs=next_obs,
                       terminated=torch.rand(n) < 0.1)


def test_squashed_log_prob_matches_torch_transformed_distribution():
    mean = torch.tensor([[0.3, -1.0]])
    log_std = torch.tensor([[-0.5, 0.2]])
    scale = torch.tensor([2.0, 0.5])
    center = torch.tensor([1.0, 0.0])
    pre_tanh = torch.tensor([[0.7, -2.5]])
    reference = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()),
        [torch.distributions.TanhTransform(), torch.distributions.AffineTransform(center, scale)],
    )
    action = center + scale * torch.tanh(pre_tanh)
    expected = reference.log_prob(action).sum(-1)
    torch.testing.assert_close(squashed_log_prob(pre_tanh, mean, log_std, scale), expected, rtol=1e-4, atol=1e-4)


def test_actions_stay_in_bounds_and_deterministic_action_is_the_squashed_mean():
    sac = SAC(box_env(low=-2.0, high=2.0), small_sac_cfg(learning_starts=0))
    obs = torch.randn(500, 3) * 10
    actions, log_prob = sac.sample_actions(obs)
    assert actions.shape == (500, 1) and log_prob.shape == (500,)
    assert actions.abs().max().item() <= 2.0
    mean, _ = sac.actor(obs)
    torch.testing.assert_close(sac.act_deterministic(obs), 2.0 * torch.tanh(mean))
    # Before learning_starts: uniform over the whole box, not the (untrained) policy.
    warmup = SAC(box_env(low=-2.0, high=2.0), small_sac_cfg(learning_starts=100))
    uniform = warmup.act({"policy": obs}, timestep=0)
    assert uniform.min().item() < -1.8 and uniform.max().item() > 1.8


def test_unbounded_action_spaces_use_action_bound():
    env = PointMassEnv(num_envs=4)
    sac = SAC(env, small_sac_cfg(action_bound=3.0))
    assert sac.action_low.tolist() == [-3.0, -3.0] and sac.action_high.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("target_entropy, direction", [(5.0, +1), (-20.0, -1)])
def test_alpha_moves_toward_the_target_entropy(target_entropy, direction):
    # Entropy below the target -> alpha grows (more exploration); above -> alpha shrinks.
    sac = SAC(box_env(), small_sac_cfg(target_entropy=target_entropy, alpha_learning_rate=1e-2))
    alpha0 = sac.alpha.item()
    for _ in range(20):
        stats = sac.update(random_batch())
    entropy = stats["train/entropy"]
    assert math.copysign(1, target_entropy - entropy) == direction
    assert math.copysign(1, stats["train/alpha"] - alpha0) == direction
    assert stats["train/alpha"] == pytest.approx(sac.alpha.item())


def test_default_target_entropy_is_minus_action_dimension():
    assert SAC(box_env(dim=3), small_sac_cfg()).target_entropy == -3.0


def test_fixed_alpha_does_not_move():
    sac = SAC(box_env(), small_sac_cfg(autotune_alpha=False, init_alpha=0.2))
    for _ in range(5):
        sac.update(random_batch())
    assert sac.alpha.item() == pytest.approx(0.2)


class ConstantCritic(nn.Module):
    """Q(s, a) = sum(s): lets a test compute the TD target by hand."""

    def __init__(self, num_obs, num_actions):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, obs, actions):
        return obs.sum(dim=-1) + 0.0 * self.dummy


def test_td_target_by_hand_for_terminated_and_truncated():
    sac = SAC(box_env(num_obs=2), SACConfig(gamma=0.5, autotune_alpha=False, init_alpha=1e-8,
                                              actor_cfg=dict(SMALL_NETS), critic_cfg={}),
              critic_class=ConstantCritic)
    batch = ReplayBatch(
        obs={"policy": torch.zeros(2, 2)},
        actions=torch.zeros(2, 1),
        rewards=torch.tensor([1.0, 1.0]),
        next_obs={"policy": torch.tensor([[2.0, 2.0], [2.0, 2.0]])},
        terminated=torch.tensor([True, False]),  # row 1 is a truncated (time-limit) transition
    )
    stats = sac.update(batch)
    # Row 0: just r = 1; row 1: r + gamma * min Q_target(s', a') = 1 + 0.5 * 4 (alpha ~ 0).
    assert stats["train/td_target_mean"] == pytest.approx((1.0 + 3.0) / 2, abs=1e-5)


def test_critics_read_the_privileged_group():
    env = PointMassEnv(num_envs=4, privileged=True)
    sac = SAC(env, small_sac_cfg())
    assert sac.critic_group == "critic"
    assert set(sac.obs_spec()) == {"policy", "critic"}
    assert sac.critic1.q[0].in_features == env.num_privileged_obs + env.num_actions
    stats = sac.update(random_batch(num_obs=env.num_obs, dim=env.num_actions, critic_obs=env.num_privileged_obs))
    for key in ("train/actor_loss", "train/critic1_loss", "train/critic2_loss", "train/alpha", "train/entropy"):
        assert math.isfinite(stats[key])


def test_target_critics_follow_by_polyak_averaging():
    sac = SAC(box_env(), small_sac_cfg(tau=0.25))
    old = [p.clone() for p in sac.target_critic1.parameters()]
    sac.update(random_batch())
    for target, online, before in zip(sac.target_critic1.parameters(), sac.critic1.parameters(), old):
        torch.testing.assert_close(target, before + 0.25 * (online - before))


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="tau=1.5"):
        SACConfig(tau=1.5)
    with pytest.raises(ValueError, match="policy_frequency=0"):
        SACConfig(policy_frequency=0)
    with pytest.raises(ValueError, match="actor_learning_rate=-1"):
        SACConfig(actor_learning_rate=-1.0)
