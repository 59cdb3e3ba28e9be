"""Which runner trains what: the runner registry (by config or algorithm class), a task's runner_cls,
and make_runner."""

from __future__ import annotations

import pytest

from legged_train.algorithms.amp import AMP, AMPConfig
from legged_train.algorithms.distillation import DistillationConfig
from legged_train.algorithms.dqn import DQNConfig
from legged_train.algorithms.ppo import PPO, PPOConfig
from legged_train.algorithms.sac import SACConfig
from legged_train.runners.amp_policy_runner import AmpPolicyRunner
from legged_train.runners.distillation_runner import DistillationRunner
from legged_train.runners.off_policy_runner import OffPolicyRunner
from legged_train.runners.on_policy_runner import OnPolicyRunner
from legged_train.runners.registry import make_runner, runner_class
from legged_train.runners.two_stage_runner import TwoStagePPOConfig, TwoStageRunner
from legged_train.tasks import Task, get_task, register_task, registry


def test_the_runner_follows_the_config_type():
    assert runner_class(PPOConfig) is OnPolicyRunner
    assert runner_class(TwoStagePPOConfig) is TwoStageRunner
    assert runner_class(AMPConfig) is AmpPolicyRunner
    assert runner_class(DistillationConfig) is DistillationRunner
    assert runner_class(DQNConfig) is runner_class(SACConfig) is OffPolicyRunner

    class MyPPOConfig(PPOConfig):  # a config of one's own without a runner: its parent's
        pass

    assert runner_class(MyPPOConfig) is OnPolicyRunner
    with pytest.raises(TypeError, match="no runner for dict; runners are registered for: .*PPOConfig"):
        runner_class(dict)


def test_ppo_learn_delegates_to_the_registered_runner():
    # PPO.learn() finds OnPolicyRunner here without importing it (the runner imports PPO); AMP is a PPO.
    assert runner_class(PPO) is OnPolicyRunner
    assert runner_class(AMP) is OnPolicyRunner


class RecordingRunner:
    def __init__(self, env, cfg, log_dir, device, **kwargs):
        self.args = (env, cfg, log_dir, device, kwargs)


def test_a_task_names_its_runner(monkeypatch):
    from legged_train.envs.legged.env import make_legged_env
    from legged_train.tasks.go1.flat import go1_flat_env, go1_flat_train

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_task("recorded", go1_flat_env, go1_flat_train, make_legged_env, runner_cls=RecordingRunner)
    task = get_task("recorded")
    assert task.runner_cls is RecordingRunner
    runner = make_runner("env", task.train_cfg, "logs/x", "cpu", runner_cls=task.runner_cls, eval_env="eval")
    assert isinstance(runner, RecordingRunner)
    assert runner.args == ("env", task.train_cfg, "logs/x", "cpu", {"eval_env": "eval"})
    # A Task given as a module attribute keeps its runner.
    static = Task(name="static", env_cfg=go1_flat_env(), train_cfg=go1_flat_train(), make_env=make_legged_env,
                  runner_cls=RecordingRunner)
    assert registry._task_factory(static, "static", "m:static")().runner_cls is RecordingRunner


def test_built_in_tasks_name_their_runners_or_take_the_configs():
    assert get_task("go1_student").runner_cls is DistillationRunner
    assert get_task("go1_flat_pretrained").runner_cls is TwoStageRunner
    flat = get_task("go1_flat")
    assert flat.runner_cls is None and runner_class(type(flat.train_cfg)) is OnPolicyRunner
