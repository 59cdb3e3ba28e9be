"""DQN maths: TD targets by hand (terminated vs truncated, double DQN), dueling head, epsilon, target updates."""

import types

import gymnasium as gym
import pytest
import torch
from torch import nn

from legged_train.algorithms.dqn import DQN, DQNConfig, MLPQNetwork, dueling_q_values, linear_schedule
from legged_train.algorithms.off_policy_common import td_targets
from legged_train.replay_buffer import ReplayBatch


def discrete_env(num_obs: int = 2, num_actions: int = 2):
    return types.SimpleNamespace(num_envs=1, num_obs=num_obs, num_actions=num_actions,
                                 action_space=gym.spaces.Discrete(num_actions))


class LinearQ(nn.Module):
    """Q(s, .) = W s with no bias: values a test can compute by hand."""

    def __init__(self, num_obs: int, num_actions: int, dueling: bool = False):
        super().__init__()
        self.layer = nn.Linear(num_obs, num_actions, bias=False)

    def forward(self, obs):
        return self.layer(obs)


def set_weights(net: LinearQ, weights) -> None:
    with torch.no_grad():
        net.layer.weight.copy_(torch.tensor(weights, dtype=torch.float32))


def batch_of(obs, actions, rewards, next_obs, terminated) -> ReplayBatch:
    return ReplayBatch(
        obs={"policy": torch.tensor(obs, dtype=torch.float32)},
        actions=torch.tensor(actions),
        rewards=torch.tensor(rewards, dtype=torch.float32),
        next_obs={"policy": torch.tensor(next_obs, dtype=torch.float32)},
        terminated=torch.tensor(terminated),
    )


def test_td_targets_bootstrap_truncated_but_not_terminated_transitions():
    rewards = torch.tensor([1.0, 1.0])
    next_q = torch.tensor([10.0, 10.0])
    # Row 0 terminated (a fall): no bootstrap. Row 1 was truncated by a time limit: terminated is False.
    targets = td_targets(rewards, next_q, torch.tensor([True, False]), gamma=0.9)
    assert targets.tolist() == pytest.approx([1.0, 1.0 + 0.9 * 10.0])


@pytest.mark.parametrize("double_dqn", [False, True])
def test_dqn_update_uses_the_hand_computed_targets(double_dqn):
    cfg = DQNConfig(gamma=0.9, double_dqn=double_dqn, learning_rate=1e-9, target_update_interval=1000, q_network_cfg={})
    dqn = DQN(discrete_env(), cfg, q_network_class=LinearQ)
    # Online net: Q(s') = [s0, 2*s1]; target net: Q(s') = [3*s0, s1].
    set_weights(dqn.q_network, [[1.0, 0.0], [0.0, 2.0]])
    set_weights(dqn.target_q_network, [[3.0, 0.0], [0.0, 1.0]])
    next_obs = [[1.0, 1.0], [1.0, 1.0]]
    # Online Q(s') = [1, 2] -> argmax 1; target Q(s') = [3, 1].
    # double DQN: target net values the online argmax -> 1; plain DQN: max of target -> 3.
    bootstrap = 1.0 if double_dqn else 3.0
    batch = batch_of(obs=[[1.0, 0.0], [0.0, 1.0]], actions=[0, 1], rewards=[0.5, 0.25], next_obs=next_obs,
                     terminated=[True, False])
    stats = dqn.update(batch)
    expected_targets = [0.5, 0.25 + 0.9 * bootstrap]
    assert stats["train/td_target_mean"] == pytest.approx(sum(expected_targets) / 2)
    # Selected Q: row 0 action 0 -> 1*1 = 1; row 1 action 1 -> 2*1 = 2.
    assert stats["train/mean_q"] == pytest.approx(1.5)
    errors = [1.0 - expected_targets[0], 2.0 - expected_targets[1]]
    huber = [0.5 * e * e if abs(e) < 1 else abs(e) - 0.5 for e in errors]
    assert stats["train/q_loss"] == pytest.approx(sum(huber) / 2, rel=1e-5)


def test_dueling_aggregation():
    value = torch.tensor([[2.0], [-1.0]])
    advantage = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    q = dueling_q_values(value, advantage)
    assert q.tolist() == [[1.0, 2.0, 3.0], [-2.0, -2.0, 1.0]]
    net = MLPQNetwork(num_obs=3, num_actions=4, hidden_dims=[8, 8], dueling=True)
    obs = torch.randn(5, 3)
    features = net.torso(obs)
    # The mean over actions of a dueling Q equals the state value stream.
    torch.testing.assert_close(net(obs).mean(dim=-1, keepdim=True), net.value(features))


def test_epsilon_schedule_and_exploration():
    cfg = DQNConfig(total_timesteps=1000, exploration_fraction=0.5, exploration_initial_eps=1.0,
                    exploration_final_eps=0.1, q_network_cfg={"hidden_dims": [8]})
    dqn = DQN(discrete_env(num_actions=4), cfg)
    assert dqn.epsilon(0) == pytest.approx(1.0)
    assert dqn.epsilon(250) == pytest.approx(0.55)
    assert dqn.epsilon(500) == pytest.approx(0.1)
    assert dqn.epsilon(10_000) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.0, 0, 5) == 0.0

    obs = {"policy": torch.randn(4000, 2)}
    greedy = dqn.act_deterministic(obs["policy"])
    # epsilon = 1: uniform random actions, which differ from greedy 3 times in 4.
    random_actions = dqn.act(obs, timestep=0)
    assert (random_actions != greedy).float().mean().item() == pytest.approx(0.75, abs=0.03)
    # epsilon = 0.1: 10% random, a quarter of which happen to be the greedy action.
    mostly_greedy = dqn.act(obs, timestep=1000)
    assert (mostly_greedy != greedy).float().mean().item() == pytest.approx(0.075, abs=0.02)
    assert dqn.exploration_stats(1000) == {"exploration/epsilon": pytest.approx(0.1)}


def sample_batch(n=16):
    return batch_of(obs=torch.randn(n, 2).tolist(), actions=torch.randint(0, 2, (n,)).tolist(),
                    rewards=torch.randn(n).tolist(), next_obs=torch.randn(n, 2).tolist(),
                    terminated=(torch.rand(n) < 0.2).tolist())


def test_hard_target_update_every_interval():
    dqn = DQN(discrete_env(), DQNConfig(target_update_interval=3, tau=1.0, q_network_cfg={"hidden_dims": [8]}))
    initial_target = [p.clone() for p in dqn.target_q_network.parameters()]
    for _ in range(2):
        dqn.update(sample_batch())
    for p, p0 in zip(dqn.target_q_network.parameters(), initial_target):
        assert torch.equal(p, p0)
    dqn.update(sample_batch())
    for p, q in zip(dqn.target_q_network.parameters(), dqn.q_network.parameters()):
        assert torch.equal(p, q)


def test_soft_target_update_moves_by_tau():
    dqn = DQN(discrete_env(), DQNConfig(target_update_interval=1, tau=0.1, q_network_cfg={"hidden_dims": [8]}))
    before = [p.clone() for p in dqn.target_q_network.parameters()]
    dqn.update(sample_batch())
    for target, online, old in zip(dqn.target_q_network.parameters(), dqn.q_network.parameters(), before):
        torch.testing.assert_close(target, old + 0.1 * (online - old))


def test_gradient_clipping_bounds_the_step():
    cfg = DQNConfig(max_grad_norm=1e-3, learning_rate=1.0, q_network_cfg={"hidden_dims": [8]})
    dqn = DQN(discrete_env(), cfg)
    dqn.optimizer = torch.optim.SGD(dqn.q_network.parameters(), lr=1.0)
    before = torch.nn.utils.parameters_to_vector(dqn.q_network.parameters()).clone()
    batch = sample_batch()
    batch.rewards *= 1000.0
    dqn.update(batch)
    step = torch.nn.utils.parameters_to_vector(dqn.q_network.parameters()) - before
    assert step.norm().item() <= 1e-3 * 1.0001


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="exploration_final_eps=1.5"):
        DQNConfig(exploration_final_eps=1.5)
    with pytest.raises(ValueError, match="tau=0"):
        DQNConfig(tau=0.0)
    with pytest.raises(ValueError, match="batch_size=0"):
        DQNConfig(batch_size=0)
