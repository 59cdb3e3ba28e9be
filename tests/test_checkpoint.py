"""Checkpoints: bit-for-bit round trip, exact resume (iteration, learning rate, logged step), clear errors."""

import os

import pytest
import torch

from legged_train.checkpoint import (
    SCHEMA_VERSION,
    CheckpointError,
    atomic_torch_save,
    capture_rng_state,
    find_checkpoint,
    load_checkpoint_file,
    restore_rng_state,
)
from legged_train.runners.on_policy_runner import OnPolicyRunner
from event_files import read_scalars
from toy_envs import PointMassEnv, small_cfg


def test_save_load_round_trip_reproduces_actions_bit_for_bit(tmp_path):
    env = PointMassEnv(num_envs=8)
    runner = OnPolicyRunner(env=env, cfg=small_cfg())
    runner.learn(num_learning_iterations=2)  # normalizer statistics and weights away from init
    path = runner.save_checkpoint(str(tmp_path / "model.pt"))

    restored = OnPolicyRunner(env=PointMassEnv(num_envs=8), cfg=small_cfg())
    checkpoint = restored.load_checkpoint(path)
    obs = torch.randn(64, env.num_obs) * 3.0
    assert torch.equal(runner.get_inference_policy()(obs), restored.get_inference_policy()(obs))
    # Stochastic actions too, given the same RNG state.
    torch.manual_seed(7)
    sampled = runner.alg.actor.distribution(obs).sample()
    torch.manual_seed(7)
    assert torch.equal(sampled, restored.alg.actor.distribution(obs).sample())

    assert checkpoint["schema_version"] == SCHEMA_VERSION
    assert checkpoint["iteration"] == 2 and checkpoint["total_timesteps"] == 2 * 8 * 8
    assert checkpoint["config"]["num_steps_per_env"] == 8
    for key in ("actor_state_dict", "critic_state_dict", "optimizer_state_dict", "learning_rate", "rng_state"):
        assert key in checkpoint
    assert "obs_normalizer.mean" in checkpoint["actor_state_dict"]
    assert restored.alg.learning_rate == runner.alg.learning_rate


def test_resumed_run_continues_iteration_learning_rate_and_logged_step(tmp_path):
    first_dir, second_dir = str(tmp_path / "first"), str(tmp_path / "second")
    first = OnPolicyRunner(env=PointMassEnv(num_envs=8), cfg=small_cfg(save_interval=3), log_dir=first_dir)
    first.learn(num_learning_iterations=3)
    first.close()
    lr_at_save = first.alg.learning_rate
    assert lr_at_save != 1e-3  # the adaptive schedule moved it, so restoring it is observable

    second = OnPolicyRunner(env=PointMassEnv(num_envs=8), cfg=small_cfg(), log_dir=second_dir)
    second.load_checkpoint(os.path.join(first_dir, "model_3.pt"))
    assert second.iteration == 3 and second.total_timesteps == 3 * 8 * 8
    assert second.alg.learning_rate == lr_at_save
    assert second.alg.optimizer.param_groups[0]["lr"] == lr_at_save
    seen_lr = []
    second.add_callback("pre_update", lambda r: seen_lr.append(r.alg.optimizer.param_groups[0]["lr"]))
    second.learn(num_learning_iterations=2)
    second.close()
    assert seen_lr[0] == lr_at_save
    assert second.iteration == 5
    assert "model_5.pt" in os.listdir(second_dir)

    assert sorted(read_scalars(first_dir)["train/learning_rate"]) == [0, 1, 2]
    assert sorted(read_scalars(second_dir)["train/learning_rate"]) == [3, 4]
    # The same log dir resumed in place keeps one continuous step axis.
    third = OnPolicyRunner(env=PointMassEnv(num_envs=8), cfg=small_cfg(), log_dir=first_dir)
    third.load_checkpoint(os.path.join(first_dir, "model_3.pt"))
    third.learn(num_learning_iterations=1)
    third.close()
    assert sorted(read_scalars(first_dir)["train/learning_rate"]) == [0, 1, 2, 3]


def test_wrong_shape_checkpoint_gives_a_clear_error(tmp_path):
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=small_cfg())
    path = runner.save_checkpoint(str(tmp_path / "model.pt"))
    wider = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=small_cfg(actor_cfg={"hidden_dims": [32, 16]}))
    with pytest.raises(CheckpointError, match=r"does not fit this runner's networks.*actor_state_dict\.mlp\.0\.weight is \(16, 4\) in the file, \(32, 4\) here"):
        wider.load_checkpoint(path)


def test_corrupt_missing_and_old_schema_files_give_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint_file(corrupt)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint_file(tmp_path / "missing.pt")
    old = tmp_path / "old.pt"
    torch.save({"schema_version": 0, "model_state_dict": {}}, old)
    with pytest.raises(CheckpointError, match="schema_version=0.*ckpt_manipulator"):
        load_checkpoint_file(old)
    truncated = tmp_path / "truncated.pt"
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=small_cfg())
    good = runner.save_checkpoint(str(tmp_path / "good.pt"))
    truncated.write_bytes(open(good, "rb").read()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        runner.load_checkpoint(str(truncated))


def test_ckpt_manipulator_transforms_the_loaded_checkpoint(tmp_path):
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=small_cfg())
    path = runner.save_checkpoint(str(tmp_path / "model.pt"))
    # An "old" file with other key names and no schema version, converted on load.
    old = torch.load(path, weights_only=False)
    legacy = {"model": {"actor": old["actor_state_dict"], "critic": old["critic_state_dict"]}, "iter": 42}
    torch.save(legacy, tmp_path / "legacy.pt")

    def convert(checkpoint):
        return {
            "schema_version": SCHEMA_VERSION,
            "actor_state_dict": checkpoint["model"]["actor"],
            "critic_state_dict": checkpoint["model"]["critic"],
            "iteration": checkpoint["iter"],
        }

    other = OnPolicyRunner(env=PointMassEnv(num_envs=4), cfg=small_cfg())
    other.load_checkpoint(str(tmp_path / "legacy.pt"), load_optimizer=False, ckpt_manipulator=convert)
    assert other.iteration == 42
    obs = torch.randn(5, 4)
    assert torch.equal(other.get_inference_policy()(obs), runner.get_inference_policy()(obs))


def test_atomic_save_never_leaves_a_partial_file(tmp_path):
    path = tmp_path / "model.pt"
    atomic_torch_save({"schema_version": SCHEMA_VERSION, "value": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        atomic_torch_save({"schema_version": SCHEMA_VERSION, "value": Unpicklable()}, path)
    assert load_checkpoint_file(path)["value"] == 1  # the previous file is intact
    assert os.listdir(tmp_path) == ["model.pt"]  # and no temp file is left behind


def test_rng_state_capture_and_restore():
    import random

    import numpy as np

    state = capture_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(3))
    restore_rng_state(state)
    assert random.random() == expected[0] and np.random.rand() == expected[1]
    assert torch.equal(torch.rand(3), expected[2])


def test_find_checkpoint_picks_latest_or_the_named_one(tmp_path):
    experiment = tmp_path / "go"
    for run, iterations in (("2026-01-01_00-00-00_a", [50, 100]), ("2026-01-02_00-00-00_b", [5, 20, 10])):
        (experiment / run).mkdir(parents=True)
        for i in iterations:
            (experiment / run / f"model_{i}.pt").write_bytes(b"x")
    assert find_checkpoint(experiment).endswith("2026-01-02_00-00-00_b/model_20.pt")
    assert find_checkpoint(experiment, load_run="2026-01-01_00-00-00_a").endswith("model_100.pt")
    assert find_checkpoint(experiment, "2026-01-01_00-00-00_a", 50).endswith("_a/model_50.pt")
    with pytest.raises(CheckpointError, match="available: \\['model_5.pt', 'model_10.pt', 'model_20.pt'\\]"):
        find_checkpoint(experiment, checkpoint=7)
    with pytest.raises(CheckpointError, match="run 'nope' not found"):
        find_checkpoint(experiment, load_run="nope")
    with pytest.raises(CheckpointError, match="train first"):
        find_checkpoint(tmp_path / "empty")


def test_random_bytes_are_always_a_corrupt_checkpoint(tmp_path):
    """torch's old-format unpickler fails on random bytes in many ways (UnpicklingError, EOFError,
    IndexError, KeyError...): every one reads as a corrupt checkpoint, never as a crash."""
    import numpy as np

    from legged_train.checkpoint import CorruptCheckpointError, read_checkpoint_dict

    rng = np.random.default_rng(0)
    path = tmp_path / "model_1.pt"
    for _ in range(200):
        path.write_bytes(rng.integers(0, 256, size=int(rng.integers(16, 4096)), dtype=np.uint8).tobytes())
        with pytest.raises(CorruptCheckpointError):
            read_checkpoint_dict(path)
