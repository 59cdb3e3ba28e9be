"""GymVecEnv: VecEnv API over Gymnasium envs, same-step autoreset, time limits, final observations."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from legged_train.envs.gym_wrapper import GymVecEnv, make_gym_vec_env


def reference_rollout(env_id: str, seed: int, actions: list, max_episode_steps: int | None = None):
    """Observations, terminated and truncated flags of one plain Gymnasium env."""
    env = gym.make(env_id, max_episode_steps=max_episode_steps)
    obs, _ = env.reset(seed=seed)
    observations, terminated, truncated = [obs], [], []
    for action in actions:
        obs, _, term, trunc, _ = env.step(action)
        observations.append(obs)
        terminated.append(term)
        truncated.append(trunc)
        if term or trunc:
            break
    return observations, terminated, truncated


def test_api_shapes_and_dtypes():
    env = make_gym_vec_env("CartPole-v1", num_envs=3, seed=0)
    obs, extras = env.get_observations()
    assert (env.num_envs, env.num_obs, env.num_actions, env.num_privileged_obs) == (3, 4, 2, None)
    assert env.max_episode_length == 500
    assert obs.shape == (3, 4) and obs.dtype == torch.float32
    assert extras["observations"]["policy"] is obs
    obs, rewards, dones, extras = env.step(torch.zeros(3, dtype=torch.long))
    assert rewards.shape == (3,) and rewards.dtype == torch.float32
    assert dones.dtype == torch.bool
    for key in ("terminated", "truncated", "time_outs"):
        assert extras[key].shape == (3,) and extras[key].dtype == torch.bool
    assert extras["time_outs"] is extras["truncated"]
    assert extras["final_observation"].shape == (3, 4)


def test_time_limit_is_truncated_not_terminated_and_final_observation_is_the_last_one():
    steps = 5
    env = make_gym_vec_env("CartPole-v1", num_envs=2, seed=7, max_episode_steps=steps)
    # Alternating pushes keep the pole up for 5 steps: only the time limit can end the episode.
    actions = [i % 2 for i in range(steps)]
    expected_obs, expected_term, expected_trunc = reference_rollout("CartPole-v1", 7, actions, steps)
    assert expected_trunc[-1] and not any(expected_term)

    for t, action in enumerate(actions):
        obs, _, dones, extras = env.step(torch.full((2,), action))
        if t < steps - 1:
            assert not dones.any()
            assert torch.equal(extras["final_observation"], torch.zeros(2, 4))
    assert extras["truncated"].tolist() == [True, True]
    assert extras["terminated"].tolist() == [False, False]
    assert dones.tolist() == [True, True]
    final = torch.as_tensor(expected_obs[-1])
    torch.testing.assert_close(extras["final_observation"][0], final)
    # Same-step autoreset: the returned observation already belongs to the next episode.
    assert not torch.allclose(obs[0], final)
    assert extras["episode"]["lengths"].tolist() == [steps, steps]
    assert extras["episode"]["returns"].tolist() == [float(steps), float(steps)]


def test_termination_fills_only_the_finished_rows():
    env = make_gym_vec_env("CartPole-v1", num_envs=2, seed=3)
    # Env 0 always pushes right (falls within ~10 steps); env 1 alternates (survives that long).
    expected_obs, expected_term, _ = reference_rollout("CartPole-v1", 3, [1] * 100)
    fall_step = len(expected_term) - 1
    for t in range(fall_step + 1):
        _, _, dones, extras = env.step(torch.tensor([1, t % 2]))
    assert extras["terminated"].tolist() == [True, False]
    assert extras["truncated"].tolist() == [False, False]
    torch.testing.assert_close(extras["final_observation"][0], torch.as_tensor(expected_obs[-1]))
    assert torch.equal(extras["final_observation"][1], torch.zeros(4))
    assert extras["episode"]["lengths"].tolist() == [fall_step + 1]
    assert "log" not in extras


def test_box_actions_are_clipped_to_the_bounds():
    too_large = make_gym_vec_env("Pendulum-v1", num_envs=2, seed=1)
    at_bound = make_gym_vec_env("Pendulum-v1", num_envs=2, seed=1)
    obs_a, rew_a, _, _ = too_large.step(torch.tensor([[50.0], [-50.0]]))
    obs_b, rew_b, _, _ = at_bound.step(torch.tensor([[2.0], [-2.0]]))
    torch.testing.assert_close(obs_a, obs_b)
    torch.testing.assert_close(rew_a, rew_b)


def test_discrete_actions_accept_a_column_and_reject_wrong_shapes():
    env = make_gym_vec_env("CartPole-v1", num_envs=2, seed=0)
    env.step(torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step(torch.zeros(3, dtype=torch.long))


def test_same_seed_same_observations():
    a = make_gym_vec_env("Pendulum-v1", num_envs=2, seed=11)
    b = make_gym_vec_env("Pendulum-v1", num_envs=2, seed=11)
    for _ in range(5):
        action = torch.ones(2, 1)
        obs_a, *_ = a.step(action)
        obs_b, *_ = b.step(action)
    torch.testing.assert_close(obs_a, obs_b)
    torch.testing.assert_close(a.reset()[0], make_gym_vec_env("Pendulum-v1", num_envs=2, seed=11).get_observations()[0])


def test_make_eval_env_is_a_separate_fresh_env():
    env = GymVecEnv([lambda: gym.make("CartPole-v1")] * 2, seed=0)
    before = env.get_observations()[0].clone()
    eval_env = env.make_eval_env(num_envs=5, seed=3)
    assert eval_env is not env and eval_env.num_envs == 5
    for _ in range(20):
        eval_env.step(torch.zeros(5, dtype=torch.long))
    torch.testing.assert_close(env.get_observations()[0], before)


def test_unsupported_spaces_fail_with_a_clear_message():
    with pytest.raises(TypeError, match="observation space Discrete"):
        GymVecEnv([lambda: gym.make("FrozenLake-v1")])
    with pytest.raises(ValueError, match="env_fns is empty"):
        GymVecEnv([])
    with pytest.raises(ValueError, match="not a registered Gymnasium env"):
        make_gym_vec_env("NoSuchEnv-v0")
    assert np.prod(make_gym_vec_env("Pendulum-v1").action_space.shape) == 1
