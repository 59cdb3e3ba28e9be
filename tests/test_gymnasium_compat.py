"""Gymnasium / Stable-Baselines3 compatibility: GymnasiumVectorEnv and Sb3VecEnv over go1_flat."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers.vector import DictInfoToList, RecordEpisodeStatistics
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv as Sb3VecEnvBase
from stable_baselines3.common.vec_env import VecMonitor

from legged_train.envs.gymnasium_env import GymnasiumVectorEnv, Sb3VecEnv, make_gymnasium_env
from legged_train.tasks import get_task


def make_raw_env(num_envs: int, **fields):
    task = get_task("go1_flat")
    cfg = task.env_cfg
    cfg.num_envs = num_envs
    cfg.sim.num_threads = 1
    for name, value in fields.items():
        setattr(cfg, name, value)
    return task.make_env(cfg, "cpu")


def test_spaces_dtypes_and_shapes():
    env = make_gymnasium_env("go1_flat", num_envs=16, sim__num_threads=1)
    legged = env.env
    assert isinstance(env, VectorEnv) and env.num_envs == 16
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.single_observation_space == gym.spaces.Box(-np.inf, np.inf, (legged.num_obs,), np.float32)
    assert env.observation_space.shape == (16, legged.num_obs) and env.observation_space.dtype == np.float32
    bound = legged.cfg.clip_actions
    assert env.single_action_space == gym.spaces.Box(-bound, bound, (12,), np.float32)
    assert env.action_space.shape == (16, 12)

    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs in env.observation_space
    assert info["critic"].shape == (16, legged.num_privileged_obs) and info["critic"].dtype == np.float32
    assert info["_critic"].all()
    obs, rewards, terminated, truncated, info = env.step(env.action_space.sample() * 0.01)
    assert obs.shape == (16, legged.num_obs) and obs.dtype == np.float32
    assert rewards.shape == (16,) and rewards.dtype == np.float32
    assert terminated.dtype == truncated.dtype == np.bool_ and terminated.shape == truncated.shape == (16,)
    assert info["critic"].shape == (16, legged.num_privileged_obs)

    tight = GymnasiumVectorEnv(make_raw_env(4), action_bound=4.0)
    assert tight.single_action_space.high.tolist() == [4.0] * 12

    with pytest.raises(ValueError, match=r"actions has shape \(16, 3\); expected \(16, 12\)"):
        env.step(np.zeros((16, 3)))
    with pytest.raises(ValueError, match="takes no reset options"):
        env.reset(options={"reset_mask": np.ones(16, bool)})
    with pytest.raises(ValueError, match="task 'cartpole_dqn' is not a legged task.*legged tasks: \\[.*'go1_flat'"):
        make_gymnasium_env("cartpole_dqn")
    with pytest.raises(ValueError, match="unknown config field 'sim.num_thread'"):
        make_gymnasium_env("go1_flat", num_envs=2, sim__num_thread=1)
    with pytest.raises(ValueError, match="action_bound=-1.0 must be > 0"):
        GymnasiumVectorEnv(make_raw_env(2), action_bound=-1.0)
    env.close()
    assert env.closed and legged.sim is None


def test_reset_with_a_seed_repeats_the_start():
    env = make_gymnasium_env("go1_flat", num_envs=8, sim__num_threads=1)
    obs_a, info_a = env.reset(seed=3)
    env.step(np.ones((8, 12), np.float32))
    obs_b, info_b = env.reset(seed=3)
    obs_c, _ = env.reset(seed=4)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(info_a["critic"], info_b["critic"])
    assert not np.array_equal(obs_a, obs_c)  # other commands, noise and physics draws


def test_reset_takes_one_seed_per_env_and_the_first_seeds_the_generator():
    env = make_gymnasium_env("go1_flat", num_envs=4, sim__num_threads=1)
    obs_int, info_int = env.reset(seed=3)
    obs_list, info_list = env.reset(seed=[3, 4, 5, 6])  # SyncVectorEnv's reading of seed=3
    np.testing.assert_array_equal(obs_int, obs_list)
    np.testing.assert_array_equal(info_int["critic"], info_list["critic"])
    obs_again, _ = env.reset(seed=[3, 9, 9, 9])
    np.testing.assert_array_equal(obs_int, obs_again)  # one generator: the first seed decides
    assert not np.array_equal(obs_int, env.reset(seed=[4, 5, 6, 7])[0])
    env.reset(seed=[None, 1, 2, 3])  # None first: the generator is left as it is
    with pytest.raises(ValueError, match="a list of 3 seeds for 4 envs"):
        env.reset(seed=[0, 1, 2])
    env.close()


def test_next_step_autoreset_reports_the_reset_on_the_following_step():
    fields = dict(episode_length_s=1.0, seed=5)
    view = GymnasiumVectorEnv(make_raw_env(16, **fields), autoreset_mode="NextStep")
    assert view.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    raw = make_raw_env(16, **fields)  # the same env driven directly, with the actions the view applies
    view.reset()
    with torch.inference_mode():
        raw.reset()
    rng = np.random.default_rng(0)
    resetting = np.zeros(16, bool)
    saw_terminated = saw_truncated = saw_reset_step = False
    for _ in range(120):
        actions = rng.uniform(-4.0, 4.0, size=(16, 12)).astype(np.float32)
        obs, rewards, terminated, truncated, info = view.step(actions)
        applied = np.where(resetting[:, None], 0.0, actions).astype(np.float32)  # the reset step ignores the action
        with torch.inference_mode():
            raw_obs, raw_rewards, raw_dones, extras = raw.step(torch.from_numpy(applied))
        ended = terminated | truncated
        assert "final_obs" not in info
        # The reset step: reward 0, neither flag, an observation of the new episode.
        assert (rewards[resetting] == 0).all() and not ended[resetting].any()
        np.testing.assert_array_equal(obs[resetting], raw_obs.numpy()[resetting])
        saw_reset_step |= bool(resetting.any())
        # The ending step: the flags, the reward and the observation the episode ended with.
        np.testing.assert_array_equal(terminated[~resetting], extras["terminated"].numpy()[~resetting])
        np.testing.assert_array_equal(truncated[~resetting], extras["truncated"].numpy()[~resetting])
        np.testing.assert_array_equal(rewards[~resetting], raw_rewards.numpy()[~resetting])
        np.testing.assert_array_equal(obs[ended], extras["final_observation"].numpy()[ended])
        np.testing.assert_array_equal(info["critic"][ended], extras["final_critic_observation"].numpy()[ended])
        going_on = ~resetting & ~ended
        np.testing.assert_array_equal(obs[going_on], raw_obs.numpy()[going_on])
        saw_terminated |= bool(terminated.any())
        saw_truncated |= bool(truncated.any())
        resetting = ended
    assert saw_terminated and saw_truncated and saw_reset_step
    with pytest.raises(ValueError, match="autoreset_mode=.*allowed: AutoresetMode.SAME_STEP"):
        GymnasiumVectorEnv(make_raw_env(2), autoreset_mode=AutoresetMode.DISABLED)
    with pytest.raises(ValueError, match="Sb3VecEnv needs .*SAME_STEP"):
        Sb3VecEnv(view)


def test_gymnasium_vector_wrappers_accept_the_next_step_view():
    from gymnasium.wrappers.vector import FlattenObservation, NormalizeObservation

    env = make_gymnasium_env("go1_flat", num_envs=8, sim__num_threads=1, episode_length_s=0.2, autoreset_mode="NextStep")
    wrapped = RecordEpisodeStatistics(FlattenObservation(NormalizeObservation(env)))
    obs, _ = wrapped.reset(seed=0)
    assert obs.shape == (8, env.env.num_obs)
    finished = 0
    for _ in range(25):  # 10-step episodes: every env ends twice
        obs, rewards, terminated, truncated, info = wrapped.step(env.action_space.sample() * 0.01)
        assert obs.shape == (8, env.env.num_obs) and np.isfinite(obs).all()
        finished += int(info.get("_episode", np.zeros(8, bool)).sum())
    assert finished >= 8
    # Normalized: the running statistics moved away from their start.
    assert np.abs(wrapped.env.env.obs_rms.mean).sum() > 0
    wrapped.close()


def test_make_vec_builds_the_registered_ids():
    from legged_train.envs.gymnasium_env import GENERIC_ID, GYMNASIUM_IDS

    assert GYMNASIUM_IDS["legged_train/Go1Flat-v0"] == "go1_flat"
    assert set(GYMNASIUM_IDS) <= set(gym.registry)
    env = gym.make_vec("legged_train/Go1Flat-v0", num_envs=8, vectorization_mode="vector_entry_point", sim__num_threads=1)
    assert isinstance(env, GymnasiumVectorEnv) and env.num_envs == 8 and env.spec.id == "legged_train/Go1Flat-v0"
    obs, _ = env.reset(seed=list(range(8)))
    assert obs.shape == (8, env.env.num_obs)
    env.close()
    env = gym.make_vec(GENERIC_ID, num_envs=2, task="go1_flat", sim__num_threads=1, autoreset_mode="NextStep")
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    env = gym.wrappers.vector.NormalizeObservation(env)
    env.reset(seed=0)
    env.step(env.action_space.sample() * 0.0)
    env.close()
    with pytest.raises(ValueError, match="needs task="):
        gym.make_vec(GENERIC_ID, num_envs=2)


def test_episode_ends_and_same_step_autoreset_match_the_env():
    # Two identical envs (same seed), one seen through Gymnasium, one driven directly: 1 s episodes and
    # violent actions, so that both falls (terminated) and time limits (truncated) happen.
    fields = dict(episode_length_s=1.0, seed=5)
    view = RecordEpisodeStatistics(GymnasiumVectorEnv(make_raw_env(16, **fields)))
    raw = make_raw_env(16, **fields)
    view.reset()
    with torch.inference_mode():
        raw.reset()
    rng = np.random.default_rng(0)
    saw_terminated = saw_truncated = False
    for _ in range(120):
        actions = rng.uniform(-4.0, 4.0, size=(16, 12)).astype(np.float32)
        obs, rewards, terminated, truncated, info = view.step(actions)
        with torch.inference_mode():
            raw_obs, raw_rewards, raw_dones, extras = raw.step(torch.from_numpy(actions))
        np.testing.assert_array_equal(terminated, extras["terminated"].numpy())
        np.testing.assert_array_equal(truncated, extras["truncated"].numpy())
        assert not (terminated & truncated).any()
        np.testing.assert_array_equal(obs, raw_obs.numpy())
        np.testing.assert_array_equal(rewards, raw_rewards.numpy())
        np.testing.assert_array_equal(info["critic"], extras["observations"]["critic"].numpy())
        ended = terminated | truncated
        if not ended.any():
            assert "final_obs" not in info and "final_info" not in info
            continue
        saw_terminated |= bool(terminated.any())
        saw_truncated |= bool(truncated.any())
        # Same-step autoreset: the ended envs are already in their next episode; what they ended with
        # is in final_obs / final_info, in the rows that _final_obs / _final_info mark.
        np.testing.assert_array_equal(info["_final_obs"], ended)
        np.testing.assert_array_equal(info["_final_info"], ended)
        np.testing.assert_array_equal(info["final_obs"][ended], extras["final_observation"].numpy()[ended])
        np.testing.assert_array_equal(info["final_info"]["critic"][ended], extras["final_critic_observation"].numpy()[ended])
        assert not np.array_equal(info["final_obs"][ended], obs[ended])
        assert (raw.episode_length_buf.numpy()[ended] == 0).all()
        # Gymnasium's own episode statistics count the step that ended an episode (same-step mode):
        # a time-limit episode lasts exactly max_episode_length steps.
        np.testing.assert_array_equal(info["_episode"], ended)
        assert (info["episode"]["l"][truncated] == raw.max_episode_length).all()
    assert saw_terminated and saw_truncated

    # Every info value is an array over envs: Gymnasium's DictInfoToList turns it into per-env dicts.
    listed = DictInfoToList(view.env)
    _, list_info = listed.reset()
    assert len(list_info) == 16 and list_info[0]["critic"].shape == (raw.num_privileged_obs,)


def test_sb3_adapter_reports_timeouts_and_terminal_observations():
    env = Sb3VecEnv(make_raw_env(8, episode_length_s=0.1))  # 5-step episodes
    assert isinstance(env, Sb3VecEnvBase) and env.num_envs == 8
    assert env.observation_space == env.venv.single_observation_space
    env.seed(7)
    first = env.reset()
    env.seed(7)
    np.testing.assert_array_equal(env.reset(), first)
    for _ in range(4):
        obs, rewards, dones, infos = env.step(np.zeros((8, 12), np.float32))
        assert not dones.any() and all(info == {"TimeLimit.truncated": False} for info in infos)
    last_obs = obs
    obs, rewards, dones, infos = env.step(np.zeros((8, 12), np.float32))
    assert dones.all() and len(infos) == 8  # standing still: the time limit, not a fall
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        assert info["terminal_observation"].shape == last_obs[i].shape
        assert not np.array_equal(info["terminal_observation"], obs[i])  # obs is the next episode's first
    assert env.get_attr("step_dt") == [0.02] * 8 and env.get_attr("render_mode", indices=[1, 2]) == [None, None]
    assert env.env_is_wrapped(VecMonitor) == [False] * 8
    assert env.env_method("observation_layout")[0]["policy"][0] == ("base_ang_vel", 3)
    with pytest.raises(ValueError, match=r"set_attr: indices=\[0\]; one batched env serves all envs"):
        env.set_attr("hold_commands", True, indices=[0])
    env.close()


def test_sb3_ppo_trains_on_go1_flat():
    num_envs, n_steps = 32, 48
    venv = VecMonitor(Sb3VecEnv(make_raw_env(num_envs, episode_length_s=0.5)))  # 25-step episodes
    model = PPO(
        "MlpPolicy", venv, n_steps=n_steps, batch_size=512, n_epochs=2, learning_rate=3e-4,
        policy_kwargs={"net_arch": [64, 64]}, seed=0, device="cpu", verbose=0,
    )
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=2 * num_envs * n_steps)
    assert model.num_timesteps == 2 * num_envs * n_steps
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))
    # VecMonitor saw whole episodes end: time limits at 25 steps, falls earlier.
    lengths = [episode["l"] for episode in model.ep_info_buffer]
    assert lengths and max(lengths) == 25
    obs = venv.reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (num_envs, 12) and np.isfinite(actions).all()
    venv.close()
