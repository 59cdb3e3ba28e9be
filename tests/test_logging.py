"""Logging: TensorBoard event files hold the spec's metric names; wandb and SwanLab write local runs."""

import os

import pytest
import torch
import yaml

from legged_train.config import apply_overrides, config_to_dict, parse_override_strings
from legged_train.logger import Logger, flatten_extras
from legged_train.runners.on_policy_runner import OnPolicyRunner
from event_files import read_scalars
from toy_envs import PointMassEnv, small_cfg


SPEC_METRICS = [
    "train/policy_loss",
    "train/value_loss",
    "train/entropy_loss",
    "train/approx_kl",
    "train/learning_rate",
    "episode/mean_reward",
    "episode/mean_length",
    "rollout/mean_reward",
    "rollout/mean_value",
    "perf/fps",
    "perf/collection_time",
    "perf/learning_time",
]


def test_event_files_contain_the_spec_metric_names(tmp_path):
    cfg = small_cfg(extra_log_keys=["log", "time_outs", "terminated", "truncated", "final_observation"])
    runner = OnPolicyRunner(env=PointMassEnv(num_envs=8), cfg=cfg, log_dir=str(tmp_path))
    runner.learn(num_learning_iterations=2)
    runner.close()
    tags = set(read_scalars(tmp_path))
    for name in SPEC_METRICS:
        assert name in tags, name
    # Per-term episode means from extras["log"], and the requested extras.
    assert {"episode/rew_progress", "episode/rew_effort", "episode/rew_goal"} <= tags
    assert {"extra/log/rew_progress", "extra/time_outs", "extra/terminated", "extra/truncated"} <= tags
    assert not any("final_observation" in tag for tag in tags)

    config = yaml.safe_load(open(tmp_path / "config.yaml"))
    assert config["runner"] == "OnPolicyRunner"
    assert config["train"]["num_steps_per_env"] == 8


def test_flatten_extras_is_recursive_and_skips_observation_payloads():
    extras = {
        "time_outs": torch.tensor([True, False, False, False]),
        "reward_components": {"velocity": torch.tensor([1.0, 3.0]), "energy": -0.5, "nested": {"x": 2}},
        "log": {"/robot/height_mean": 0.3},
        "final_observation": torch.zeros(4, 10),
        "name": "not a number",
    }
    flat = flatten_extras(extras, ["time_outs", "reward_components", "log", "final_observation", "name", "absent"])
    assert flat == {
        "extra/time_outs": 0.25,
        "extra/reward_components/velocity": 2.0,
        "extra/reward_components/energy": -0.5,
        "extra/reward_components/nested/x": 2.0,
        "extra/log/robot/height_mean": pytest.approx(0.3),
    }


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="'mlflow'.*allowed: \\['tensorboard', 'wandb', 'swanlab'\\]"):
        Logger("/tmp/never_created", backend="mlflow")


def test_wandb_backend_writes_a_local_offline_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = Logger(str(tmp_path), backend=["tensorboard", "wandb"], backend_kwargs={"wandb": {"project": "legged-train-tests"}}, config={"a": 1})
    logger.log_scalars({"train/policy_loss": 0.5, "perf/fps": torch.tensor(100.0)}, step=0)
    logger.log_scalars({"train/policy_loss": 0.25}, step=1)
    logger.close()
    runs = [d for d in os.listdir(tmp_path / "wandb") if d.startswith("offline-run-")]
    assert len(runs) == 1
    files = os.listdir(tmp_path / "wandb" / runs[0])
    assert any(f.endswith(".wandb") and os.path.getsize(tmp_path / "wandb" / runs[0] / f) > 0 for f in files)
    assert "train/policy_loss" in read_scalars(tmp_path)  # TensorBoard alongside


def test_swanlab_backend_writes_a_local_run(tmp_path, monkeypatch):
    pytest.importorskip("swanlab")
    # "offline" keeps everything under the run dir without a server or the swanboard extra.
    monkeypatch.setenv("SWANLAB_MODE", "offline")
    logger = Logger(str(tmp_path), backend="swanlab", backend_kwargs={"project": "legged-train-tests"}, config={"a": 1})
    logger.log_scalars({"train/policy_loss": 0.5}, step=0)
    logger.log_scalars({"train/policy_loss": 0.25}, step=1)
    logger.close()
    runs = [d for d in os.listdir(tmp_path / "swanlog") if d.startswith("run-")]
    assert len(runs) == 1
    run_files = [os.path.join(root, f) for root, _, files in os.walk(tmp_path / "swanlog" / runs[0]) for f in files]
    assert any(f.endswith(".swanlab") and os.path.getsize(f) > 0 for f in run_files)


def test_config_to_dict_and_typed_overrides():
    cfg = small_cfg()
    apply_overrides(cfg, parse_override_strings(["learning_rate=3e-4", "actor_cfg.hidden_dims=[8,4]", "logger_backend=[tensorboard,wandb]"]))
    assert cfg.learning_rate == 3e-4 and cfg.actor_cfg["hidden_dims"] == [8, 4]
    assert config_to_dict(cfg)["logger_backend"] == ["tensorboard", "wandb"]
    with pytest.raises(ValueError, match="learning_rate='fast' must be a number"):
        apply_overrides(small_cfg(), {"learning_rate": "fast"})
    with pytest.raises(ValueError, match="unknown config field 'lr'; allowed at this level: \\[.*'learning_rate'"):
        apply_overrides(small_cfg(), {"lr": "1e-3"})
    with pytest.raises(ValueError, match="num_mini_batches=2.5 must be an int"):
        apply_overrides(small_cfg(), {"num_mini_batches": "2.5"})
    with pytest.raises(ValueError, match="schedule='cosine' is not supported"):
        apply_overrides(small_cfg(), {"schedule": "cosine"})
