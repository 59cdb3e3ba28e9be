"""AmpPolicyRunner: the on-policy loop with an AMP algorithm (seed 003's ``amp_policy_runner.py``).

The loop is OnPolicyRunner's; this runner builds the motion library from the config, gives the
algorithm the AMP observation each step starts from, logs the discriminator's figures, and keeps
the seed's names: ``init_writter``, ``evaluation()`` with ``metrics_velrmsd`` / ``metrics_CoT``,
``learn(num_learning_iterations, init_at_random_ep_len=False, trial=None)`` reporting
``metrics_velrmsd`` to an Optuna trial at each evaluation (and raising ``TrialPruned`` when the
trial says so), ``rollout_step``, ``log``, ``save``.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from legged_train.algorithms.amp import AMP, AMPConfig
from legged_train.config import resolve_device
from legged_train.observation_groups import observation_group
from legged_train.runners.base import PROJECT_ROOT
from legged_train.runners.on_policy_runner import OnPolicyRunner
from legged_train.runners.registry import register_runner


def build_motion_library(env, cfg: AMPConfig, device):
    """The library of ``cfg.motion_files`` for the env's robot, policy step and ``amp`` group."""
    from legged_train.motions.library import MotionLibrary

    groups = getattr(getattr(env, "cfg", None), "observations", None) or {}
    if cfg.amp_obs_group not in groups:
        raise ValueError(f"amp_obs_group={cfg.amp_obs_group!r}: the env has no such observation group; its groups: {sorted(groups)}")
    paths = []
    for entry in cfg.motion_files:  # files, or folders of them
        path = entry if os.path.isabs(entry) else os.path.join(PROJECT_ROOT, entry)
        if os.path.isdir(path):
            paths += sorted(os.path.join(path, name) for name in os.listdir(path) if name.endswith((".npz", ".json")))
        elif os.path.isfile(path):
            paths.append(path)
        else:
            raise FileNotFoundError(f"AMPConfig.motion_files: {path} does not exist (make a clip with: python -m legged_train.motions generate ...)")
    return MotionLibrary(paths, env.cfg.robot, env.mj_model, env.step_dt, groups[cfg.amp_obs_group], device=device,
                         weights=cfg.motion_weights, seed=cfg.seed)


class AmpPolicyRunner(OnPolicyRunner):
    def __init__(self, env, train_cfg: AMPConfig | None = None, log_dir: str | None = None, device=None, *,
                 cfg: AMPConfig | None = None, motion_library=None, **kwargs):
        cfg = train_cfg if train_cfg is not None else cfg
        if not isinstance(cfg, AMPConfig):
            raise TypeError(f"AmpPolicyRunner needs an AMPConfig, got {type(cfg).__name__}")
        device = resolve_device(device if device is not None else cfg.device)
        library = motion_library if motion_library is not None else build_motion_library(env, cfg, device)
        super().__init__(env, cfg=cfg, log_dir=log_dir, device=device, agent=AMP(env, cfg, library, device=device), **kwargs)
        if cfg.reference_state_init_prob > 0.0:
            env.set_reference_state_init(library.sample_states, cfg.reference_state_init_prob)
        self.metrics_velrmsd: float | None = None
        self.metrics_CoT: float | None = None

    def init_writter(self, init_at_random_ep_len: bool) -> None:
        """Open the loggers (and write config and code state, once); spread the first episodes' ends."""
        self.start_learning()
        if init_at_random_ep_len:
            with torch.inference_mode():
                self._randomize_episode_lengths()

    def learn(self, num_learning_iterations: int | None = None, init_at_random_ep_len: bool = False, trial: Any = None,
              total_timesteps: int | None = None) -> dict[str, float]:
        self.init_writter(init_at_random_ep_len)
        with torch.inference_mode():
            obs, extras = self.env.get_observations()
            self.alg.amp_observations = observation_group(obs, extras, self.cfg.amp_obs_group).to(self.device)
        return super().learn(num_learning_iterations, trial=trial, total_timesteps=total_timesteps)

    def _check_shapes(self, checkpoint: dict, path: str) -> None:
        # The replay of policy transitions grows with the data; the networks must fit.
        amp = checkpoint.get("amp")
        if isinstance(amp, dict):
            checkpoint = {**checkpoint, "amp": {key: value for key, value in amp.items() if key != "replay"}}
        super()._check_shapes(checkpoint, path)

    def iteration_stats(self) -> dict[str, float]:
        return self.alg.rollout_stats()

    def eval(self, num_episodes: int | None = None) -> dict[str, float]:
        stats = super().eval(num_episodes)
        self.metrics_velrmsd = stats.get("eval/velocity_rmsd")
        self.metrics_CoT = stats.get("eval/cost_of_transport")
        return stats

    def evaluation(self) -> dict[str, float]:
        """The evaluation of the seed: sets ``metrics_velrmsd`` and ``metrics_CoT`` and returns all figures."""
        return self.eval()

    def log(self, locs: dict, width: int = 80, pad: int = 35) -> None:
        """Log an iteration's figures (``locs["stats"]`` at ``locs["it"]``) to the loggers and the console."""
        stats, it = locs["stats"], locs["it"]
        self.log_scalars(stats, step=it)
        self._print_summary(stats, it, locs.get("end", it + 1), locs.get("start", 0))

    def _update_summary(self, stats: dict[str, float]) -> list[str]:
        lines = super()._update_summary(stats)
        if "amp/expert_score" in stats:
            lines.append(
                f"  amp: expert {stats['amp/expert_score']:+.3f}  policy {stats['amp/policy_score']:+.3f}  "
                f"accuracy {stats['amp/disc_accuracy']:.2f}  style reward {stats.get('amp/style_reward', float('nan')):.3f}"
            )
        return lines


register_runner(AMPConfig, AmpPolicyRunner)
