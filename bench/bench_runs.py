"""What the benchmark scripts share: their JSON lines, and a task's env and runner set up for measuring."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from legged_train.checkpoint import set_seed  # noqa: E402
from legged_train.config import apply_overrides  # noqa: E402
from legged_train.runners.registry import make_runner  # noqa: E402
from legged_train.tasks import get_task  # noqa: E402


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def build_run(task_name: str, seed: int, log_interval: int, run_dir: str | None, env_overrides: dict | None = None,
              train_overrides: dict | None = None, configs: tuple | None = None, device: str = "cpu",
              num_envs: int | None = None):
    """(env, runner) of a task (or of ``configs``: its (env_cfg, train_cfg)) with the overrides, seeded;
    ``num_envs`` (None: the task's) before ``env_overrides``.

    The runner logs every ``log_interval`` iterations and never evaluates by itself (eval_interval 0):
    its periodic evaluation would run inside learn() and count as training wall-clock; the scripts
    evaluate between learn() calls instead."""
    task = get_task(task_name)
    env_cfg, train_cfg = configs if configs is not None else (task.env_cfg, task.train_cfg)
    apply_overrides(env_cfg, {"seed": seed, **({"num_envs": num_envs} if num_envs else {}), **(env_overrides or {})})
    apply_overrides(train_cfg, {"seed": seed, "log_interval": log_interval, "eval_interval": 0, **(train_overrides or {})})
    set_seed(seed)
    env = task.make_env(env_cfg, device)
    runner = make_runner(env, train_cfg, run_dir, device, runner_cls=task.runner_cls)
    runner.run_config.update({"task": task.name, "command": " ".join(sys.argv)})
    return env, runner
