"""Which runner trains a task: ``make_runner`` builds it for an env and a training config."""

from __future__ import annotations


def make_runner(env, train_cfg, log_dir: str | None, device, **runner_kwargs):
    """Pick the runner from the training config's type; ``runner_kwargs`` (``eval_env=``...) go to it.

    ``log_dir=None`` writes nothing (play.py replays a run that way).
    """
    from legged_train.algorithms.amp import AMPConfig
    from legged_train.algorithms.dqn import DQNConfig
    from legged_train.algorithms.ppo import PPOConfig
    from legged_train.algorithms.sac import SACConfig

    from legged_train.algorithms.distillation import DistillationConfig
    from legged_train.runners.two_stage_runner import TwoStagePPOConfig

    if isinstance(train_cfg, AMPConfig):
        from legged_train.runners.amp_policy_runner import AmpPolicyRunner

        return AmpPolicyRunner(env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
    if isinstance(train_cfg, DistillationConfig):
        from legged_train.runners.distillation_runner import DistillationRunner

        return DistillationRunner(env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
    if isinstance(train_cfg, TwoStagePPOConfig):
        from legged_train.runners.two_stage_runner import TwoStageRunner

        return TwoStageRunner(env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
    if isinstance(train_cfg, PPOConfig):
        from legged_train.runners.on_policy_runner import OnPolicyRunner

        return OnPolicyRunner(env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
    if isinstance(train_cfg, (DQNConfig, SACConfig)):
        from legged_train.runners.off_policy_runner import OffPolicyRunner

        return OffPolicyRunner(env=env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
    raise TypeError(
        f"no runner for {type(train_cfg).__name__}; supported: PPOConfig, AMPConfig, TwoStagePPOConfig, DistillationConfig, "
        "DQNConfig, SACConfig"
    )
