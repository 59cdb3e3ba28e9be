"""Two-stage training: pretrain from demonstrations, then PPO in the env.

``TwoStageRunner`` is an ``OnPolicyRunner`` whose first ``pretrain_iterations`` iterations take
their transitions from a ``RolloutDataset`` instead of the env (``rollout_step`` is the only loop
step that changes): the actor learns the dataset's actions by behaviour cloning and the critic the
dataset's returns (``legged_train.algorithms.behaviour_cloning``). From then on it is plain PPO, starting
from the pretrained networks. Dataset figures are logged as ``Perf/dataset_*``.

    python train.py --task go1_flat_pretrained --set train.pretrain_dataset.data_dir=data/go1_demos

With ``pretrain_dataset.wait_for_data_s > 0`` the dataset is a folder a collector is still filling
(DAgger's two processes: ``dagger_collect.py`` writes, this runner learns; task go1_dagger_student).
The runner then writes its untrained networks as ``model_<iteration>.pt`` before the first batch
(the collector drives the env with the student, so it needs one before there is any data), and
whenever there is nothing to serve (no folder or metadata yet, no finished trajectory yet, every
trajectory served without ``dataset_loops``) it waits, polling, and says so; after
``wait_for_data_s`` seconds without data it stops training as a requested stop would (the
iteration in progress is dropped, a checkpoint of the last whole one written) with a message.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from legged_train.algorithms.behaviour_cloning import BC_LOSSES, behaviour_cloning_update, store_demonstration
from legged_train.algorithms.ppo import PPOConfig
from legged_train.config import check_fields
from legged_train.runners.on_policy_runner import OnPolicyRunner
from legged_train.runners.registry import register_runner


@dataclass
class PretrainDatasetConfig:
    """Where the demonstrations are and how to serve them (``RolloutDataset`` arguments)."""

    data_dir: str | list[str] = ""
    # Start over when every trajectory was served (several epochs of behaviour cloning).
    dataset_loops: bool = True
    # Keep only the newest N trajectories in memory (0: all); for a folder a collector still writes to.
    keep_latest_n_trajs: int = 0
    # Seconds to wait for demonstrations while there is none to serve. 0: the folder must hold a
    # dataset at start, and an exhausted dataset hands over to env steps. > 0: a folder a collector
    # is filling (DAgger): wait, saying so, and stop training after this long without data.
    wait_for_data_s: float = 0.0


# Seconds between looks at the folder while starved, and between "still waiting" lines.
DATA_POLL_INTERVAL_S = 0.5
DATA_WAIT_REPORT_S = 30.0


class DemonstrationsTimeout(TimeoutError):
    """No demonstration to serve for ``pretrain_dataset.wait_for_data_s`` seconds."""


@dataclass
class TwoStagePPOConfig(PPOConfig):
    # Iterations whose transitions come from the dataset; the run switches to the env after them.
    pretrain_iterations: int = 50
    pretrain_dataset: PretrainDatasetConfig = field(default_factory=PretrainDatasetConfig)
    # Behaviour cloning of the dataset's actions: "mse" fits the actor's mean (its std is left for
    # PPO to explore with); "nll" fits the whole Gaussian (for datasets of sampled actions).
    bc_loss: str = "mse"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, ("pretrain_iterations",), lambda v: v >= 0, ">= 0")
        if not self.pretrain_dataset.wait_for_data_s >= 0:
            raise ValueError(f"pretrain_dataset.wait_for_data_s={self.pretrain_dataset.wait_for_data_s!r} must be >= 0")
        if self.bc_loss not in BC_LOSSES:
            raise ValueError(f"bc_loss={self.bc_loss!r} is not supported; allowed: {list(BC_LOSSES)}")


class TwoStageRunner(OnPolicyRunner):
    def __init__(self, env, train_cfg: dict | TwoStagePPOConfig | None = None, log_dir=None, device=None, **kwargs):
        if isinstance(train_cfg, dict):
            train_cfg = two_stage_config_from_dict(train_cfg)
        if kwargs.get("cfg") is not None and isinstance(kwargs["cfg"], dict):
            kwargs["cfg"] = two_stage_config_from_dict(kwargs["cfg"])
        super().__init__(env, train_cfg, log_dir, device, **kwargs)
        if not isinstance(self.cfg, TwoStagePPOConfig):
            raise TypeError(f"TwoStageRunner needs a TwoStagePPOConfig, got {type(self.cfg).__name__}")
        dataset_cfg = self.cfg.pretrain_dataset
        if not dataset_cfg.data_dir:
            raise ValueError(
                "pretrain_dataset.data_dir is empty: TwoStageRunner pretrains from demonstrations "
                "(e.g. --set train.pretrain_dataset.data_dir=data/go1_demos; collect them with collect.py)"
            )
        dataset_kwargs = dataclasses.asdict(dataset_cfg)
        self.wait_for_data_s = float(dataset_kwargs.pop("wait_for_data_s"))
        self._dataset_kwargs = dict(
            **dataset_kwargs,
            obs_group=self.cfg.actor_obs_group,  # the group the actor reads (a depth student's "depth")
            num_envs=env.num_envs,
            device=self.device,
            expected_layout=env.observation_layout() if hasattr(env, "observation_layout") else None,
            expected_history=env.observation_history() if hasattr(env, "observation_history") else None,
            allow_empty=self.wait_for_data_s > 0,
        )
        self.rollout_dataset = None
        self._open_dataset()  # at once unless waiting for a collector that has not started
        self._dataset_stats: dict[str, float] = {}
        self._obs_from_dataset = False
        self._storage_from_dataset = False  # the stored rollout is demonstrations: clone it
        self.starved = False  # set when training stopped for want of demonstrations

    def _open_dataset(self) -> bool:
        """Make the RolloutDataset; while waiting for data, only once every folder has its metadata."""
        from legged_train.demonstrations import RolloutDataset
        from legged_train.demonstrations.files import read_metadata

        if self.rollout_dataset is None:
            data_dirs = self._dataset_kwargs["data_dir"]
            data_dirs = [data_dirs] if isinstance(data_dirs, (str, os.PathLike)) else list(data_dirs)
            if self.wait_for_data_s > 0 and not all(os.path.isdir(d) and read_metadata(d) is not None for d in data_dirs):
                return False
            self.rollout_dataset = RolloutDataset(**self._dataset_kwargs)
        return True

    def learn(self, *args, **kwargs) -> dict[str, float]:
        """``OnPolicyRunner.learn``; waiting for a collector, first writes the current networks (the
        collector's first student) and ends like a requested stop if the data stays away."""
        if self.wait_for_data_s > 0 and self.is_pretraining() and self.save_dir is not None:
            self.start_learning()  # the run folder and its config.yaml, then the checkpoint
            path = os.path.join(self.save_dir, f"model_{self.iteration}.pt")
            if not os.path.exists(path):
                self.save_checkpoint(path)
        try:
            return super().learn(*args, **kwargs)
        except DemonstrationsTimeout as err:
            # The iteration in progress has part of a rollout: drop it, keep the last whole one.
            self.alg.storage.clear()
            self._storage_from_dataset = False
            self._obs_from_dataset = False
            self.starved = self.stop_requested = True
            print(f"training stopped: {err}", file=sys.stderr, flush=True)
            self.finish_learn()
            return {}

    def _dataset_batch(self):
        """The next dataset batch; while waiting for a collector, polls until there is one."""
        batch = self.rollout_dataset.get_transition_batch() if self._open_dataset() else (None, {})
        if batch[0] is not None or self.wait_for_data_s <= 0:
            return batch
        started = last_report = time.monotonic()
        self._report_starved(0.0)
        while batch[0] is None:
            waited = time.monotonic() - started
            if waited >= self.wait_for_data_s:
                raise DemonstrationsTimeout(
                    f"no demonstrations to serve for {waited:.0f} s (pretrain_dataset.wait_for_data_s={self.wait_for_data_s:g}): "
                    f"{self._starved_reason()}; is the collector (dagger_collect.py) running and writing there?"
                )
            if time.monotonic() - last_report >= DATA_WAIT_REPORT_S:
                self._report_starved(waited)
                last_report = time.monotonic()
            time.sleep(DATA_POLL_INTERVAL_S)
            batch = self.rollout_dataset.get_transition_batch() if self._open_dataset() else (None, {})
        print(f"demonstrations arrived after {time.monotonic() - started:.0f} s: "
              f"{self.rollout_dataset.served_trajectories} trajectories served so far", flush=True)
        return batch

    def _starved_reason(self) -> str:
        where = self._dataset_kwargs["data_dir"]
        if self.rollout_dataset is None:
            return f"{where} holds no dataset yet (no metadata.json)"
        if not self.rollout_dataset.served_trajectories and not self.rollout_dataset.num_trajectories:
            return f"{where} holds no finished trajectory yet"
        return f"every trajectory in {where} was served and none is new (dataset_loops=False)"

    def _report_starved(self, waited: float) -> None:
        print(f"waiting for demonstrations: {self._starved_reason()} (waited {waited:.0f} s of at most "
              f"{self.wait_for_data_s:g} s)", flush=True)

    def is_pretraining(self) -> bool:
        return self.iteration < self.cfg.pretrain_iterations

    def rollout_step(self, obs: torch.Tensor, critic_obs: torch.Tensor):
        """A dataset transition while pretraining (an env step once the dataset is exhausted), an env step after."""
        if self.is_pretraining():
            transition, infos = self._dataset_batch()
            self._dataset_stats = {
                f"Perf/dataset_{key}": float(value) for key, value in infos.items() if key != "time_outs"
            }
            if transition is not None:
                store_demonstration(self.alg, transition, infos)
                self._storage_from_dataset = True
                self._obs_from_dataset = True
                # extras without "log": episode figures are the env's, the dataset's go to Perf/dataset_*.
                return transition.next_obs, transition.next_critic_obs, transition.rewards, transition.dones, {}
        if self._obs_from_dataset:
            # The env has not moved while the dataset was served: act on its own observations.
            obs, critic_obs = self._split_observations(*self.env.get_observations())
            self._obs_from_dataset = False
        return super().rollout_step(obs, critic_obs)

    def update(self) -> dict[str, float]:
        """Behaviour cloning on a rollout of demonstrations, PPO's update on one of env steps."""
        if self._storage_from_dataset:
            self._storage_from_dataset = False
            return behaviour_cloning_update(self.alg, self.cfg.bc_loss)
        return super().update()

    def iteration_stats(self) -> dict[str, float]:
        """The dataset's figures of the iteration just done, while pretraining."""
        stats, self._dataset_stats = self._dataset_stats, {}
        return stats


def two_stage_config_from_dict(train_cfg: dict[str, Any]) -> TwoStagePPOConfig:
    """An rsl_rl-style dict with ``pretrain_iterations`` / ``pretrain_dataset`` next to the runner keys."""
    from legged_train.config import apply_overrides
    from legged_train.rsl_rl_config import ppo_config_from_dict

    train_cfg = dict(train_cfg)
    runner = dict(train_cfg.get("runner") or {})
    two_stage = {}
    for key in ("pretrain_iterations", "pretrain_dataset", "bc_loss"):
        for section in (train_cfg, runner):
            if key in section:
                two_stage[key] = section.pop(key)
    if runner:
        train_cfg["runner"] = runner
    return apply_overrides(ppo_config_from_dict(train_cfg, TwoStagePPOConfig), two_stage)


register_runner(TwoStagePPOConfig, TwoStageRunner)
