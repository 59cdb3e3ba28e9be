"""The distillation loop: ``OnPolicyRunner``'s (rollout -> update -> schedules -> evaluate -> log ->
save) with the ``Distillation`` algorithm in place of PPO.

What changes is small: the observations split into the student's and the teacher's groups, the
rollout ends without returns, the teacher-acting probability follows the iteration, and each step
also measures how well the envs driven by the student and by the teacher track their velocity
commands (legged envs). Checkpoints, resume, logging, evaluation and export are OnPolicyRunner's
and BaseRunner's, with the student as the policy.

    python train.py --task go1_student --teacher logs/go1_teacher/<run>

    runner = DistillationRunner(env, DistillationConfig(teacher_checkpoint="logs/go1_teacher/<run>/model_400.pt"),
                                log_dir="logs/go1_student/mine")
    runner.learn(num_learning_iterations=200)
"""

from __future__ import annotations

import torch
from torch import nn

from legged_train.algorithms.distillation import Distillation, DistillationConfig, load_teacher
from legged_train.evaluation import is_legged_env, velocity_tracking_error
from legged_train.finite import check_finite
from legged_train.observation_groups import observation_group
from legged_train.runners.base import BaseRunner
from legged_train.runners.on_policy_runner import OnPolicyRunner
from legged_train.runners.registry import register_runner


class DistillationRunner(OnPolicyRunner):
    """``teacher`` left out: loaded from ``cfg.teacher_checkpoint`` (none when it is empty: such a
    runner replays, evaluates and exports the student, but cannot learn)."""

    def __init__(
        self,
        env,
        cfg: DistillationConfig | None = None,
        log_dir: str | None = None,
        device: str | torch.device | None = None,
        *,
        teacher: nn.Module | None = None,
        student_class: type[nn.Module] | None = None,
        save_dir: str | None = None,
        eval_env=None,
    ):
        cfg = cfg if cfg is not None else DistillationConfig()
        if not isinstance(cfg, DistillationConfig):
            raise TypeError(f"DistillationRunner needs a DistillationConfig, got {type(cfg).__name__}")
        # OnPolicyRunner's own __init__ builds PPO: the base's, then the distillation algorithm.
        BaseRunner.__init__(self, env, cfg, log_dir=log_dir, device=device, save_dir=save_dir, eval_env=eval_env)
        if teacher is None and cfg.teacher_checkpoint:
            teacher = load_teacher(cfg.teacher_checkpoint, env, cfg.teacher_obs_group, self.device, self.identity().get("robot"))
        self._init_loop(Distillation(env, cfg, teacher=teacher, student_class=student_class, device=self.device))
        self._tracking_legged = is_legged_env(env)
        self._tracking_sums = torch.zeros(2, device=self.device)  # squared errors: student-driven, teacher-driven
        self._tracking_counts = torch.zeros(2, device=self.device)

    @property
    def policy_obs_group(self) -> str:
        return self.cfg.student_obs_group

    def learn(self, *args, **kwargs) -> dict[str, float]:
        if self.alg.teacher is None:
            raise ValueError(
                "DistillationRunner has no teacher: set DistillationConfig.teacher_checkpoint "
                "(train.py --teacher logs/<teacher task>/<run>) or pass teacher="
            )
        # The schedule from where the run stands: 0 for a new run, the checkpoint's iteration on resume.
        self.alg.adjust_schedules(self.iteration)
        return super().learn(*args, **kwargs)

    # ------------------------------------------------------------------------------ the loop
    def rollout_step(self, obs: torch.Tensor, teacher_obs: torch.Tensor):
        obs, teacher_obs, rewards, dones, extras = super().rollout_step(obs, teacher_obs)
        if self._tracking_legged:
            # Velocity tracking after each step, apart for the envs each policy drove; an env that
            # ended this step already holds its next episode's first state, so it does not count.
            error = velocity_tracking_error(self.env).to(self.device).square()
            alive = ~dones.bool()
            driven = torch.stack((~self.alg.teacher_acted & alive, self.alg.teacher_acted & alive)).float()
            self._tracking_sums += (driven * error).sum(dim=1)
            self._tracking_counts += driven.sum(dim=1)
        return obs, teacher_obs, rewards, dones, extras

    def _split_observations(self, obs: torch.Tensor, extras: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(student observations, teacher observations)."""
        groups = (self.cfg.student_obs_group, self.cfg.teacher_obs_group)
        student_obs, teacher_obs = (observation_group(obs, extras, group).to(self.device) for group in groups)
        check_finite(student_obs, f"env observations (group {groups[0]!r})")
        check_finite(teacher_obs, f"env observations (group {groups[1]!r})")
        return student_obs, teacher_obs

    def _finish_rollout(self, last_obs: torch.Tensor) -> dict[str, float]:
        return {}  # no returns to compute: the labels were taken at every step

    def iteration_stats(self) -> dict[str, float]:
        """RMS planar velocity tracking error (m/s) over the steps the student / the teacher drove."""
        stats = {}
        sums, counts = self._tracking_sums.tolist(), self._tracking_counts.tolist()
        for name, total, count in zip(("student", "teacher"), sums, counts):
            if count > 0:
                stats[f"distill/{name}_tracking_error"] = (total / count) ** 0.5
        self._tracking_sums.zero_()
        self._tracking_counts.zero_()
        return stats

    def _update_summary(self, stats: dict[str, float]) -> list[str]:
        lines = [
            f"  step reward {stats['rollout/mean_reward']:10.4f}   teacher acted {stats['distill/teacher_action_fraction']:.3f}"
            f" (probability {stats['distill/teacher_act_prob']:.3f})",
            f"  losses: action {stats['distill/action_loss']:.5f}  student vs teacher action rms "
            f"{stats['distill/student_action_error']:.4f}  lr {stats['train/learning_rate']:.2e}",
        ]
        tracking = [f"{name} {stats[f'distill/{name}_tracking_error']:.3f}" for name in ("student", "teacher")
                    if f"distill/{name}_tracking_error" in stats]
        if tracking:
            lines.append("  velocity tracking rms (m/s) of the steps driven by the " + "  ".join(tracking))
        return lines


register_runner(DistillationConfig, DistillationRunner)
