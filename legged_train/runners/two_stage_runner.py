"""Two-stage training: pretrain from demonstrations, then PPO in the env.

``TwoStageRunner`` is an ``OnPolicyRunner`` whose first ``pretrain_iterations`` iterations take
their transitions from a ``RolloutDataset`` instead of the env (``rollout_step`` is the only loop
step that changes): the actor learns the dataset's actions by behaviour cloning and the critic the
dataset's returns (``PPO.collect_transition_from_dataset``). From then on it is plain PPO, starting
from the pretrained networks. Dataset figures are logged as ``Perf/dataset_*``.

    python train.py --task go1_flat_pretrained --set train.pretrain_dataset.data_dir=data/go1_demos
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from legged_train.algorithms.ppo import PPOConfig
from legged_train.config import check_fields
from legged_train.runners.on_policy_runner import OnPolicyRunner


@dataclass
class PretrainDatasetConfig:
    """Where the demonstrations are and how to serve them (``RolloutDataset`` arguments)."""

    data_dir: str | list[str] = ""
    # Start over when every trajectory was served (several epochs of behaviour cloning).
    dataset_loops: bool = True
    # Keep only the newest N trajectories in memory (0: all); for a folder a collector still writes to.
    keep_latest_n_trajs: int = 0


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
        if self.bc_loss not in ("mse", "nll"):
            raise ValueError(f"bc_loss={self.bc_loss!r} is not supported; allowed: ['mse', 'nll']")


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
        from legged_train.demonstrations import RolloutDataset

        self.rollout_dataset = RolloutDataset(
            **dataclasses.asdict(dataset_cfg),
            num_envs=env.num_envs,
            device=self.device,
            expected_layout=env.observation_layout() if hasattr(env, "observation_layout") else None,
            expected_history=env.observation_history() if hasattr(env, "observation_history") else None,
        )
        self._dataset_stats: dict[str, float] = {}
        self._obs_from_dataset = False

    def is_pretraining(self) -> bool:
        return self.iteration < self.cfg.pretrain_iterations

    def rollout_step(self, obs: torch.Tensor, critic_obs: torch.Tensor):
        """A dataset transition while pretraining (an env step once the dataset is exhausted), an env step after."""
        if self.is_pretraining():
            transition, infos = self.rollout_dataset.get_transition_batch()
            self._dataset_stats = {
                f"Perf/dataset_{key}": float(value) for key, value in infos.items() if key != "time_outs"
            }
            if transition is not None:
                self.alg.collect_transition_from_dataset(transition, infos)
                self._obs_from_dataset = True
                # extras without "log": episode figures are the env's, the dataset's go to Perf/dataset_*.
                return transition.next_obs, transition.next_critic_obs, transition.rewards, transition.dones, {}
        if self._obs_from_dataset:
            # The env has not moved while the dataset was served: act on its own observations.
            obs, critic_obs = self._split_observations(*self.env.get_observations())
            self._obs_from_dataset = False
        return super().rollout_step(obs, critic_obs)

    def iteration_stats(self) -> dict[str, float]:
        """The dataset's figures of the iteration just done, while pretraining."""
        stats, self._dataset_stats = self._dataset_stats, {}
        return stats


def two_stage_config_from_dict(train_cfg: dict[str, Any]) -> TwoStagePPOConfig:
    """An rsl_rl-style dict with ``pretrain_iterations`` / ``pretrain_dataset`` next to the runner keys."""
    from legged_train.algorithms.ppo import ppo_config_from_dict
    from legged_train.config import apply_overrides

    train_cfg = dict(train_cfg)
    runner = dict(train_cfg.get("runner") or {})
    two_stage = {}
    for key in ("pretrain_iterations", "pretrain_dataset", "bc_loss"):
        for section in (train_cfg, runner):
            if key in section:
                two_stage[key] = section.pop(key)
    if runner:
        train_cfg["runner"] = runner
    base = ppo_config_from_dict(train_cfg)
    cfg = TwoStagePPOConfig(**{f.name: getattr(base, f.name) for f in dataclasses.fields(PPOConfig)})
    return apply_overrides(cfg, two_stage)
