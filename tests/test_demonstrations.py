"""Demonstrations: DemonstrationSaver writes what the env produced (exactly, or within the stated
compression error), resumes, drops falls with success_traj_only, leaves nothing half written after
kill -9; RolloutDataset serves it as batched transitions (shapes, next_obs at the end, exhaustion,
looping, a growing folder, keep_latest_n_trajs, bad input); collect.py end to end."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from legged_train.algorithms.ppo import PPO, PPOConfig
from legged_train.demonstrations import ActorPolicy, DemonstrationSaver, RolloutDataset, read_trajectory
from legged_train.demonstrations import files
from legged_train.tasks import get_task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_NETS = {"actor_cfg": {"hidden_dims": [32]}, "critic_cfg": {"hidden_dims": [32]}}


def make_env(num_envs=8, seed=0, max_tilt=None):
    task = get_task("go1_flat")
    cfg = task.env_cfg
    cfg.num_envs, cfg.seed, cfg.episode_length_s, cfg.sim.num_threads = num_envs, seed, 0.5, 1  # 25-step episodes
    if max_tilt is not None:
        cfg.terminations.max_tilt = max_tilt
    return task.make_env(cfg, "cpu")


def fresh_policy(env):
    torch.manual_seed(0)
    return ActorPolicy(PPO(env, PPOConfig(**SMALL_NETS)).actor, info={"task": "go1_flat", "checkpoint": "none"})


class RandomPolicy:
    """Large random joint targets: the robot stumbles, and with a low tilt limit often falls."""

    def __init__(self, num_actions, scale, seed=0):
        self.num_actions, self.scale = num_actions, scale
        self.generator = torch.Generator().manual_seed(seed)

    def act_inference(self, obs, critic_obs):
        return self.scale * torch.randn(obs.shape[0], self.num_actions, generator=self.generator)

    act = act_inference

    def reset(self, dones):
        pass


STEP_KEYS = ("actions", "rewards", "dones", "time_outs", "terminated")


class RecordingEnv:
    """The env, plus a CPU copy of everything it gave the saver at each step."""

    def __init__(self, env):
        self.env = env
        self.steps = []
        self.current = None

    def __getattr__(self, name):
        return getattr(self.env, name)

    def _keep(self, extras):
        self.current = {g: v.clone() for g, v in extras["observations"].items()}

    def reset(self):
        obs, extras = self.env.reset()
        self._keep(extras)
        return obs, extras

    def step(self, actions):
        obs, rewards, dones, extras = self.env.step(actions)
        self.steps.append({
            "obs": self.current, "actions": actions.clone(), "rewards": rewards.clone(), "dones": dones.clone(),
            "time_outs": extras["time_outs"].clone(), "terminated": extras["terminated"].clone(),
            "final_obs": {"policy": extras["final_observation"].clone(), "critic": extras["final_critic_observation"].clone()},
        })
        self._keep(extras)
        return obs, rewards, dones, extras

    def trajectories(self, env_i):
        """Env ``env_i``'s finished trajectories, as the saver should have written them."""
        finished, rows = [], []
        for step in self.steps:
            rows.append(step)
            if step["dones"][env_i]:
                finished.append({
                    "obs": {g: torch.stack([r["obs"][g][env_i] for r in rows]).numpy() for g in ("policy", "critic")},
                    "final_obs": {g: step["final_obs"][g][env_i].numpy() for g in ("policy", "critic")},
                    **{k: torch.stack([r[k][env_i] for r in rows]).numpy() for k in STEP_KEYS},
                })
                rows = []
        return finished


def saved_trajectories(save_dir):
    """{env slot: [trajectory, ...] in numbering order}."""
    by_env = {}
    for _, folder in sorted(files.list_trajectory_dirs(save_dir).items()):
        trajectory = read_trajectory(folder)
        assert trajectory is not None, f"{folder} is unfinished"
        by_env.setdefault(trajectory["env"], []).append(trajectory)
    return by_env


def assert_clean_dataset(save_dir):
    """Every visible .npz loads without pickle and nothing visible is empty."""
    for dirpath, dirnames, filenames in os.walk(save_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if dirpath != str(save_dir):
            assert [f for f in filenames if not f.startswith(".")], f"empty folder {dirpath}"
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name.startswith("."):
                continue
            assert os.path.getsize(path) > 0, f"empty file {path}"
            if name.endswith(".npz"):
                with np.load(path, allow_pickle=False) as data:
                    assert len(data.files) > 0
                    for key in data.files:
                        assert data[key].dtype.kind != "O", f"{path}:{key} is an object array"


def collect(save_dir, env, policy=None, min_timesteps=300, **kwargs):
    kwargs.setdefault("rollout_storage_length", 10)
    saver = DemonstrationSaver(env, policy or fresh_policy(env), str(save_dir), min_timesteps=min_timesteps, verbose=False, **kwargs)
    saver.collect_and_save()
    saver.close()
    return saver


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A small dataset: 8 envs, 25-step episodes, ~50 trajectories."""
    save_dir = tmp_path_factory.mktemp("demos")
    collect(save_dir, make_env(), min_timesteps=1000, rollout_storage_length=16)
    return save_dir


# ------------------------------------------------------------------------ DemonstrationSaver


def test_saved_trajectories_are_exactly_what_the_env_produced(tmp_path):
    env = RecordingEnv(make_env())
    # Buffers of 10 steps: 25-step trajectories span 3-4 slice files.
    saver = collect(tmp_path, env, min_timesteps=300, demo_by_sample=True)
    by_env = saved_trajectories(tmp_path)
    assert sum(len(t) for t in by_env.values()) == saver.trajectories >= 8
    for env_i in range(env.num_envs):
        expected = env.trajectories(env_i)
        assert len(by_env.get(env_i, [])) == len(expected) > 0  # the cut last trajectory is dropped
        for got, want in zip(by_env[env_i], expected):
            for group in ("policy", "critic"):
                np.testing.assert_array_equal(got["obs"][group], want["obs"][group])
                np.testing.assert_array_equal(got["final_obs"][group], want["final_obs"][group])
            for key in ("actions", "rewards", "dones", "time_outs", "terminated"):
                np.testing.assert_array_equal(got[key], want[key])
            assert got["dones"][-1] and not got["dones"][:-1].any()
            assert got["action_mean"].shape == got["actions"].shape and not np.array_equal(got["action_mean"], got["actions"])
    assert any(len(os.listdir(f)) >= 3 for f in files.list_trajectory_dirs(tmp_path).values())
    assert_clean_dataset(tmp_path)

    metadata = json.load(open(tmp_path / "metadata.json"))
    assert metadata["timesteps"] == saver.timesteps == sum(t["length"] for ts in by_env.values() for t in ts)
    assert metadata["trajectories"] == saver.trajectories and metadata["step_dt"] == pytest.approx(0.02)
    assert metadata["observation_layouts"] == files.normalize_layouts(env.observation_layout())
    assert metadata["policy"] == {"task": "go1_flat", "checkpoint": "none"}
    assert metadata["collection"]["demo_by_sample"] is True and metadata["collection"]["rollout_storage_length"] == 10


def test_resume_continues_numbering_and_counts(tmp_path):
    first = collect(tmp_path, make_env(seed=0), min_timesteps=150)
    numbers_before = set(files.list_trajectory_dirs(tmp_path))
    assert len(numbers_before) == first.trajectories

    second = DemonstrationSaver(make_env(seed=1), fresh_policy(make_env()), str(tmp_path), rollout_storage_length=10,
                                min_timesteps=400, verbose=False)
    assert (second.timesteps, second.trajectories) == (first.timesteps, first.trajectories)
    assert second.traj_index.min() > max(numbers_before)  # never reuses a number
    second.collect_and_save()
    second.close()
    numbers_after = set(files.list_trajectory_dirs(tmp_path))
    assert numbers_before < numbers_after and len(numbers_after) == second.trajectories
    metadata = json.load(open(tmp_path / "metadata.json"))
    assert metadata["timesteps"] == second.timesteps >= 400
    assert metadata["timesteps"] == sum(read_trajectory(f)["length"] for f in files.list_trajectory_dirs(tmp_path).values())
    assert len(metadata["sessions"]) == 2

    # A dataset is only continued with the same observations.
    other = make_env()
    layout = other.observation_layout()
    layout["policy"] = [("something_else", 47)]
    other.observation_layout = lambda: layout
    with pytest.raises(ValueError, match="observation layout of group 'policy' does not match"):
        DemonstrationSaver(other, fresh_policy(other), str(tmp_path), verbose=False)
    # One collector per folder, and never into a folder that is not a dataset.
    env = make_env()
    first_writer = DemonstrationSaver(env, fresh_policy(env), str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="being written by another collector"):
        DemonstrationSaver(env, fresh_policy(env), str(tmp_path), verbose=False)
    first_writer.close()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files but no metadata.json"):
        DemonstrationSaver(env, fresh_policy(env), str(tmp_path / "elsewhere"), verbose=False)


def test_success_only_keeps_time_outs_and_removes_falls(tmp_path):
    env = RecordingEnv(make_env(max_tilt=0.25))
    # 8-step buffers: a fall after step 8 has slices on disk already, which must go too.
    saver = collect(tmp_path, env, RandomPolicy(env.num_actions, 0.5), min_timesteps=250, rollout_storage_length=8,
                    success_traj_only=True)
    falls = [(i, n) for i in range(env.num_envs) for n, t in enumerate(env.trajectories(i)) if t["terminated"][-1]]
    late_falls = [t for i in range(env.num_envs) for t in env.trajectories(i) if t["terminated"][-1] and len(t["rewards"]) > 8]
    assert falls and late_falls, "the setting should make the robot fall, also after its first buffer"
    assert saver.dropped_trajectories == len(falls)
    by_env = saved_trajectories(tmp_path)
    kept = [t for ts in by_env.values() for t in ts]
    assert len(kept) == saver.trajectories > 0
    assert all(t["time_outs"][-1] and not t["terminated"].any() for t in kept)
    for env_i, trajectories in by_env.items():  # exactly the env's time-outs, in order
        expected = [t for t in env.trajectories(env_i) if t["time_outs"][-1]]
        assert [t["rewards"].tolist() for t in trajectories] == [t["rewards"].tolist() for t in expected]
    assert json.load(open(tmp_path / "metadata.json"))["dropped_trajectories"] == len(falls)
    assert_clean_dataset(tmp_path)


def test_compression_round_trip_within_its_stated_error(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 50, (300, 3)), rng.uniform(-1e-3, 1e-3, (300, 2)), np.full((300, 1), 7.25)], axis=1)
    x = x.astype(np.float32)
    for encoding, levels in (("uint8", 255), ("uint16", 65535)):
        decoded = files.decode_segment(files.encode_segment(x, encoding, "x"), encoding)
        bound = (x.max(0) - x.min(0)) / (2 * levels) + 2.0**-23 * np.abs(x)
        assert (np.abs(decoded - x) <= bound).all() and decoded[:, 5].tolist() == x[:, 5].tolist()
    decoded = files.decode_segment(files.encode_segment(x, "float16", "x"), "float16")
    assert (np.abs(decoded - x) <= np.maximum(2.0**-11 * np.abs(x), 2.0**-25)).all()
    with pytest.raises(ValueError, match="beyond float16"):
        files.encode_segment(np.array([[1e5]], np.float32), "float16", "obs segment")

    env = RecordingEnv(make_env())
    mapping = {"critic": {"joint_vel": "uint8", "foot_contact_force": "float16", "base_lin_vel": "uint16"}, "policy": "uint8"}
    collect(tmp_path, env, min_timesteps=100, obs_disassemble_mapping=mapping)
    layout = files.normalize_layouts(env.observation_layout())
    columns = {g: np.cumsum([0] + [w for _, w in layout[g]]) for g in layout}
    segments = {g: {name: (columns[g][i], columns[g][i + 1]) for i, (name, _) in enumerate(layout[g])} for g in layout}
    by_env = saved_trajectories(tmp_path)
    largest_error = {}
    for env_i, trajectories in by_env.items():
        for got, want in zip(trajectories, env.trajectories(env_i)):
            for group in ("policy", "critic"):
                for name, (a, b) in segments[group].items():
                    encoding = mapping[group] if isinstance(mapping[group], str) else mapping[group].get(name, "float32")
                    g, w = got["obs"][group][:, a:b], want["obs"][group][:, a:b]
                    if encoding == "float32":
                        np.testing.assert_array_equal(g, w)
                    elif encoding == "float16":
                        assert (np.abs(g - w) <= np.maximum(2.0**-11 * np.abs(w), 2.0**-25)).all()
                    else:  # per slice file: at most half a quantization step of that file's range
                        levels = 255 if encoding == "uint8" else 65535
                        # Within the trajectory's range: each file's own range is at most that.
                        assert (np.abs(g - w) <= (w.max(0) - w.min(0)) / (2 * levels) + 1e-6 * np.abs(w)).all()
                    largest_error[group, name] = max(largest_error.get((group, name), 0.0), float(np.abs(g - w).max()))
                np.testing.assert_array_equal(got["final_obs"][group], want["final_obs"][group])  # kept exact
    assert largest_error["critic", "joint_vel"] > 0 and largest_error["policy", "joint_vel"] > 0  # really compressed
    slice_path = files.list_slices(files.list_trajectory_dirs(tmp_path)[0])[0][2]
    with np.load(slice_path, allow_pickle=False) as data:
        assert data["obs.critic.joint_vel"].dtype == np.uint8 and data["obs.critic.foot_contact_force"].dtype == np.float16
        assert data["obs.critic"].shape[1] == 70 - 12 - 4 - 3 and data["obs.policy"].shape[1] == 0

    with pytest.raises(ValueError, match="names segment 'nope'"):
        DemonstrationSaver(env, fresh_policy(env), str(tmp_path / "x"), obs_disassemble_mapping={"critic": {"nope": "uint8"}})
    with pytest.raises(ValueError, match="allowed"):
        DemonstrationSaver(env, fresh_policy(env), str(tmp_path / "y"), obs_disassemble_mapping={"policy": "int4"})


class CountingRecurrentActor(torch.nn.Module):
    """A stand-in recurrent actor: its memory counts the steps since each env's last reset."""

    def __init__(self, num_envs, num_actions):
        super().__init__()
        self.num_actions = num_actions
        self.scale = torch.nn.Parameter(torch.tensor(0.01))
        self.memory = torch.zeros(1, num_envs, 2)  # rsl_rl's (layers, envs, hidden)

    def forward(self, obs):
        action = self.scale * self.memory[0, :, :1].expand(-1, self.num_actions)
        self.memory = self.memory + 1.0
        return action

    def reset(self, dones):
        self.memory[:, dones.bool()] = 0.0

    def get_hidden_states(self):
        return self.memory


def test_recurrent_policy_memory_is_reset_per_trajectory_and_stored(tmp_path):
    env = make_env(num_envs=4)
    collect(tmp_path, env, ActorPolicy(CountingRecurrentActor(4, env.num_actions)), min_timesteps=120)
    for trajectory in saved_trajectories(tmp_path)[0] + saved_trajectories(tmp_path)[3]:
        steps = np.arange(trajectory["length"], dtype=np.float32)
        (memory,) = trajectory["hidden_states"]
        assert memory.shape == (trajectory["length"], 1, 2)  # (steps, layers, hidden): the memory each action used
        np.testing.assert_array_equal(memory[:, 0, 0], steps)
        np.testing.assert_allclose(trajectory["actions"][:, 0], 0.01 * steps, rtol=1e-6)


def test_groups_with_history_are_stored_and_compressed_per_step(tmp_path):
    task = get_task("go1_flat")
    cfg = task.env_cfg
    if not hasattr(cfg, "observations"):
        pytest.skip("this env has no configurable observation groups")
    cfg.num_envs, cfg.episode_length_s, cfg.sim.num_threads = 4, 0.5, 1
    cfg.observations["policy"].history_length = 3
    env = RecordingEnv(task.make_env(cfg, "cpu"))
    one_step = sum(w for _, w in env.observation_layout()["policy"])
    collect(tmp_path, env, min_timesteps=100, obs_disassemble_mapping={"policy": {"joint_vel": "float16"}})
    metadata = json.load(open(tmp_path / "metadata.json"))
    assert metadata["observation_history"]["policy"] == 3 and metadata["observation_history"]["critic"] == 1
    joint_vel = next(i for i, (name, _) in enumerate(env.observation_layout()["policy"]) if name == "joint_vel")
    first = sum(w for _, w in env.observation_layout()["policy"][:joint_vel])
    compressed = np.concatenate([np.arange(k * one_step + first, k * one_step + first + 12) for k in range(3)])
    for env_i, trajectories in saved_trajectories(tmp_path).items():
        for got, want in zip(trajectories, env.trajectories(env_i)):
            g, w = got["obs"]["policy"], want["obs"]["policy"]
            assert g.shape[1] == 3 * one_step
            exact = np.setdiff1d(np.arange(3 * one_step), compressed)
            np.testing.assert_array_equal(g[:, exact], w[:, exact])
            assert (np.abs(g[:, compressed] - w[:, compressed]) <= np.maximum(2.0**-11 * np.abs(w[:, compressed]), 2.0**-25)).all()
    dataset = RolloutDataset(str(tmp_path), num_envs=2, expected_layout=env.observation_layout(), expected_history={"policy": 3})
    assert dataset.get_transition_batch()[0].obs.shape == (2, 3 * one_step)
    with pytest.raises(ValueError, match="stacks 3 steps of history in the data, 1 in the env"):
        RolloutDataset(str(tmp_path), num_envs=2, expected_history={"policy": 1})


# --------------------------------------------------------------------------- RolloutDataset


def test_dataset_batches_have_the_right_shapes_and_walk_whole_trajectories(demo_dir):
    env = make_env()
    dataset = RolloutDataset(str(demo_dir), num_envs=4, device="cpu", expected_layout=env.observation_layout())
    trajectories = {t["trajectory"]: t for t in (read_trajectory(f) for f in files.list_trajectory_dirs(demo_dir).values())}
    order = sorted(trajectories)
    served = {slot: [] for slot in range(4)}
    transition, infos = dataset.get_transition_batch()
    batches = [(transition, infos)]
    for _ in range(60):
        batches.append(dataset.get_transition_batch())
    transition, infos = batches[0]
    assert transition.obs.shape == (4, 47) and transition.critic_obs.shape == (4, 70) and transition.actions.shape == (4, 12)
    assert transition.next_obs.shape == (4, 47) and transition.next_critic_obs.shape == (4, 70)
    assert transition.rewards.shape == (4,) and transition.rewards.dtype == torch.float32
    assert transition.dones.dtype == torch.bool and infos["time_outs"].dtype == torch.bool and infos["time_outs"].shape == (4,)
    assert infos["num_trajectories"] == len(trajectories)
    assert infos["num_transitions"] == sum(t["length"] for t in trajectories.values())

    # Slot s serves trajectories one after another, each from its first step to its last.
    next_number = iter(order)
    current = {slot: [next(next_number), 0] for slot in range(4)}
    for transition, infos in batches:
        for slot in range(4):
            number, t = current[slot]
            want = trajectories[number]
            last = t == want["length"] - 1
            np.testing.assert_array_equal(transition.obs[slot].numpy(), want["obs"]["policy"][t])
            np.testing.assert_array_equal(transition.critic_obs[slot].numpy(), want["obs"]["critic"][t])
            np.testing.assert_array_equal(transition.actions[slot].numpy(), want["actions"][t])
            assert transition.rewards[slot].item() == pytest.approx(float(want["rewards"][t]))
            assert bool(transition.dones[slot]) == last and bool(infos["time_outs"][slot]) == bool(want["time_outs"][t])
            next_obs = want["final_obs"]["policy"] if last else want["obs"]["policy"][t + 1]
            next_critic = want["final_obs"]["critic"] if last else want["obs"]["critic"][t + 1]
            np.testing.assert_array_equal(transition.next_obs[slot].numpy(), next_obs)
            np.testing.assert_array_equal(transition.next_critic_obs[slot].numpy(), next_critic)
            served[slot].append(number)
            current[slot] = [next(next_number), 0] if last else [number, t + 1]
    assert all(len(set(numbers)) >= 2 for numbers in served.values())  # every slot moved on at least once
    assert infos["served_trajectories"] > 4 and infos["mean_episode_length"] > 0 and np.isfinite(infos["mean_episode_return"])


def test_dataset_exhausts_or_loops(demo_dir):
    total = json.load(open(demo_dir / "metadata.json"))["timesteps"]
    dataset = RolloutDataset(str(demo_dir), num_envs=4)
    batches = 0
    while dataset.get_transition_batch()[0] is not None:
        batches += 1
        assert batches * 4 <= total
    assert batches * 4 > total - 4 * 25  # only the other slots' unfinished tails are left
    assert dataset.get_transition_batch()[0] is None  # stays exhausted

    looping = RolloutDataset(str(demo_dir), num_envs=4, dataset_loops=True, shuffle=True, seed=1)
    num_batches = 2 * total // 4  # twice through the data
    for _ in range(num_batches):
        transition, infos = looping.get_transition_batch()
        assert transition is not None
    assert infos["passes"] >= 1 and infos["served_transitions"] == num_batches * 4


def test_dataset_follows_a_growing_folder_and_never_reads_unfinished_trajectories(tmp_path):
    collect(tmp_path, make_env(), min_timesteps=100)
    dataset = RolloutDataset(str(tmp_path), num_envs=2, rescan_interval=1)
    before = dataset.get_transition_batch()[1]["num_trajectories"]
    while dataset.get_transition_batch()[0] is not None:
        pass

    # A collector next to the trainer: slices of unfinished trajectories are on disk.
    env = make_env(seed=5)
    saver = DemonstrationSaver(env, fresh_policy(env), str(tmp_path), rollout_storage_length=10, min_timesteps=10**9, verbose=False)
    with torch.inference_mode():
        saver.reset_env()
        for step_i in range(10):
            saver.collect_step(step_i)
            saver.step_i = step_i + 1
        saver.save_steps()
    assert len(files.list_trajectory_dirs(tmp_path)) == before + env.num_envs  # unfinished folders exist
    transition, infos = dataset.get_transition_batch()
    assert transition is None and infos["num_trajectories"] == before

    with torch.inference_mode():  # the collector finishes those trajectories
        for _ in range(2):
            for step_i in range(10):
                saver.collect_step(step_i)
                saver.step_i = step_i + 1
            saver.save_steps()
    saver.close()
    transition, infos = dataset.get_transition_batch()
    assert transition is not None and infos["num_trajectories"] == saver.trajectories > before
    assert (transition.obs[:, :3].abs().sum(1) > 0).all()


def test_keep_latest_n_trajs_bounds_what_is_loaded(tmp_path):
    collect(tmp_path, make_env(), min_timesteps=300)
    numbers = sorted(files.list_trajectory_dirs(tmp_path))
    dataset = RolloutDataset(str(tmp_path), num_envs=2, keep_latest_n_trajs=3, dataset_loops=True, rescan_interval=5)
    assert [key[1] for key in dataset._pool] == numbers[-3:]
    transition, infos = dataset.get_transition_batch()
    assert infos["num_trajectories"] == 3

    collect(tmp_path, make_env(seed=1), min_timesteps=500)  # the folder grows
    newest = sorted(files.list_trajectory_dirs(tmp_path))[-3:]
    for _ in range(10):
        transition, infos = dataset.get_transition_batch()
    assert transition is not None
    assert infos["num_trajectories"] <= 3 + 2  # the newest 3, plus what the 2 slots are still serving
    assert set(newest) <= {key[1] for key in dataset._pool}


def test_dataset_bad_input_is_one_clear_error(tmp_path, demo_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RolloutDataset(str(tmp_path / "missing"), num_envs=2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=f"{tmp_path / 'empty'}.*no metadata.json"):
        RolloutDataset(str(tmp_path / "empty"), num_envs=2)
    no_trajectories = tmp_path / "no_trajectories"
    no_trajectories.mkdir()
    (no_trajectories / "metadata.json").write_text((demo_dir / "metadata.json").read_text())
    with pytest.raises(ValueError, match="holds no finished trajectory"):
        RolloutDataset(str(no_trajectories), num_envs=2)
    assert RolloutDataset(str(no_trajectories), num_envs=2, allow_empty=True).get_transition_batch()[0] is None

    layout = make_env().observation_layout()
    layout["critic"] = layout["critic"][:7] + [("base_lin_vel", 2)] + layout["critic"][8:]
    with pytest.raises(ValueError, match=r"group 'critic' does not match the env: term 7 is \('base_lin_vel', 3\) in the data"):
        RolloutDataset(str(demo_dir), num_envs=2, expected_layout=layout)
    with pytest.raises(ValueError, match="no observation group 'student'"):
        RolloutDataset(str(demo_dir), num_envs=2, obs_group="student")
    with pytest.raises(ValueError, match="num_envs=0"):
        RolloutDataset(str(demo_dir), num_envs=0)


# ------------------------------------------------------------------------------- collect.py

TINY_TRAIN = [
    "--task", "go1_flat", "--num-envs", "16", "--max-iterations", "2", "--seed", "1",
    "--set", "train.num_steps_per_env=4", "train.actor_cfg.hidden_dims=[32]", "train.critic_cfg.hidden_dims=[32]",
    "train.torch_threads=1", "env.sim.num_threads=1",
]
TINY_COLLECT = ["--task", "go1_flat", "--num-envs", "8", "--rollout-length", "16",
                "--set", "env.episode_length_s=0.5", "env.sim.num_threads=1"]


def run_script(*args, check=True):
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    log_root = tmp_path_factory.mktemp("logs")
    run_script("train.py", "--log-root", str(log_root), *TINY_TRAIN)
    (run_name,) = os.listdir(log_root / "go1_flat")
    return log_root, run_name


def test_collect_cli_end_to_end(tiny_run, tmp_path):
    log_root, run_name = tiny_run
    save_dir = tmp_path / "demos"
    result = run_script("collect.py", "--log-root", str(log_root), "--load_run", run_name, "--save-dir", str(save_dir),
                        "--min-timesteps", "300", "--sample", "--compress", "critic.foot_contact_force=float16", *TINY_COLLECT)
    assert "steps/s" in result.stdout and "ETA" in result.stdout and "done: " in result.stdout
    metadata = json.load(open(save_dir / "metadata.json"))
    assert metadata["timesteps"] >= 300 and metadata["policy"]["task"] == "go1_flat"
    assert metadata["policy"]["checkpoint"].endswith(os.path.join(run_name, "model_2.pt"))
    assert metadata["collection"]["demo_by_sample"] is True and metadata["collection"]["num_envs"] == 8
    assert_clean_dataset(save_dir)
    dataset = RolloutDataset(str(save_dir), num_envs=8, expected_layout=make_env().observation_layout())
    assert dataset.get_transition_batch()[0] is not None

    # Continued with more: a new seed (new episodes), the numbering and counts go on.
    run_script("collect.py", "--log-root", str(log_root), "--save-dir", str(save_dir), "--min-timesteps", "500", *TINY_COLLECT)
    metadata2 = json.load(open(save_dir / "metadata.json"))
    assert metadata2["timesteps"] >= 500 and metadata2["trajectories"] > metadata["trajectories"]
    assert [s["seed"] for s in metadata2["sessions"]] == [0, 1]



def test_a_policys_gait_becomes_a_motion_clip(tiny_run, tmp_path):
    from legged_train.cli import collect
    from legged_train.envs.robot import RobotConfig
    from legged_train.motions.__main__ import main as motions_main
    from legged_train.motions.clip import MotionClip

    log_root, _ = tiny_run
    save_dir = tmp_path / "gait"
    assert collect.main(["--log-root", str(log_root), "--save-dir", str(save_dir), "--min-timesteps", "100", "--motion",
                         "--quiet", *TINY_COLLECT]) == 0
    out = tmp_path / "policy_gait.npz"
    assert motions_main(["from-demonstrations", str(save_dir), "--trajectory", "1", "--out", str(out)]) == 0
    clip = MotionClip.load(str(out))
    recorded = read_trajectory(sorted(files.list_trajectory_dirs(save_dir).items())[1][1])
    assert clip.num_frames == recorded["length"] and clip.fps == pytest.approx(50.0)
    assert np.allclose(clip.root_pos, recorded["obs"]["motion"][:, :3])
    # The clip's joint angles are the simulated ones: the critic's (relative, clean) joint_pos plus the standing pose.
    critic_joint_pos = recorded["obs"]["critic"][:, 6:18]
    robot = RobotConfig()
    from legged_train.envs.robot import build_model

    build_model(robot, 0.004, False)  # fills the standing pose from the file
    assert np.allclose(clip.joint_pos - np.asarray(robot.default_joint_pos), critic_joint_pos, atol=1e-5)
    assert np.allclose(np.linalg.norm(clip.root_quat, axis=1), 1.0, atol=1e-5)


def test_collect_cli_user_errors_are_one_line_exit_2(tiny_run, tmp_path, capsys):
    from legged_train.cli import collect  # in-process: the same main() as the command line, without a second interpreter

    log_root, _ = tiny_run
    for args, message in (
        (["--load-run", "nope"], "run 'nope' not found"),
        (["--compress", "critic.nope=uint8"], "names segment 'nope'"),
        (["--compress", "critic"], "must look like GROUP=ENCODING"),
        (["--min-timesteps", "-1"], "--min-timesteps=-1: must be >= 0"),
        (["--set", "train.learning_rate=1"], "env.<field> overrides only"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            collect.main(["--log-root", str(log_root), "--save-dir", str(tmp_path / "bad"), *TINY_COLLECT, *args])
        stderr = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "bad").exists() or not files.list_trajectory_dirs(tmp_path / "bad")


def start_and_kill_collect(log_root, save_dir) -> None:
    """Run collect.py into ``save_dir`` and SIGKILL it once it has written 60 slices."""
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    process = subprocess.Popen(
        [sys.executable, "collect.py", "--log-root", str(log_root), "--save-dir", str(save_dir), "--min-timesteps", "100000000",
         "--quiet", "--sample", "--task", "go1_flat", "--num-envs", "8", "--rollout-length", "4",
         "--set", "env.episode_length_s=0.5", "env.sim.num_threads=1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None:
            if save_dir.is_dir() and sum(1 for _ in save_dir.glob("trajectory_*/*.npz")) >= 60:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.137)  # somewhere in the middle of writing
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()


def test_collect_killed_leaves_only_whole_files_and_resumes(tiny_run, tmp_path):
    log_root, _ = tiny_run
    # The 8 episodes of 25 steps start together, so every 100 steps all of them end exactly at a
    # 4-step write: until the next write no trajectory is open. A kill in that window (about 1 in
    # 25) cuts nothing and proves nothing; such a kill is made again in a fresh folder.
    for attempt in range(3):
        save_dir = tmp_path / f"demos_{attempt}"
        start_and_kill_collect(log_root, save_dir)
        assert_clean_dataset(save_dir)
        killed = files.list_trajectory_dirs(save_dir)
        killed_numbers = set(killed)
        unfinished = [k for k, f in killed.items() if read_trajectory(f) is None]
        if unfinished:
            break
    assert unfinished, "three kills in a row found every trajectory closed"

    # The next run in the folder removes what the kill cut and what it left half written, and goes on.
    # (More trajectories than the killed run finished, however far it got before the kill.)
    finished = len(killed_numbers) - len(unfinished)
    run_script("collect.py", "--log-root", str(log_root), "--save-dir", str(save_dir), "--min-timesteps", "400", "--quiet",
               "--min-episodes", str(finished + 5), *TINY_COLLECT)
    assert_clean_dataset(save_dir)
    assert not [name for name in os.listdir(save_dir) if name.startswith(files.TEMP_PREFIX)]
    folders = files.list_trajectory_dirs(save_dir)
    assert all(read_trajectory(f) is not None for f in folders.values())
    assert not set(unfinished) & set(folders)
    assert min(set(folders) - killed_numbers) > max(killed_numbers)
    metadata = json.load(open(save_dir / "metadata.json"))
    assert metadata["trajectories"] == len(folders) and metadata["timesteps"] >= 400
