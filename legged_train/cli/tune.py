"""Hyperparameter search with Optuna: ``python tune.py --task go1_amp --trials 20 --iterations 300``.

Each trial draws values from the task's search space (``train_cfg.search_space``: override key ->
distribution, e.g. ``"train.style_reward_weight": {"type": "float", "low": 0.5, "high": 8, "log": true}``),
trains ``--iterations`` iterations with them, and is scored by the standard evaluation's
velocity_rmsd (lower is better). The runner reports it to the trial at every evaluation
(``--eval-interval``); Optuna's median pruner stops trials that fall behind. The study lives in
``<log-root>/<task>/tune/<study>.db`` (SQLite): running the same command again continues it.

Install Optuna with ``pip install -e ".[tune]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from legged_train.cli.common import UserError, check_at_least, check_writable_folder, fail, make_parser, user_errors
from legged_train.cli.runs import DEFAULT_LOG_ROOT
from legged_train.cli.train import check_rollout_size
from legged_train.runners.registry import make_runner

DISTRIBUTIONS = ("float", "int", "categorical")


def check_search_space(space) -> dict:
    if not isinstance(space, dict) or not space:
        raise UserError("the task's train_cfg.search_space is empty: nothing to tune (give it override key -> distribution)")
    for key, spec in space.items():
        if not str(key).startswith(("train.", "env.")):
            raise UserError(f"search_space key {key!r}: must start with 'train.' or 'env.' (as --set keys do)")
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in DISTRIBUTIONS:
            raise UserError(f"search_space[{key!r}].type={kind!r}: allowed: {', '.join(DISTRIBUTIONS)}")
        needed = ("choices",) if kind == "categorical" else ("low", "high")
        missing = [name for name in needed if name not in spec]
        if missing:
            raise UserError(f"search_space[{key!r}] lacks {missing}")
    return space


def suggest(trial, space: dict) -> dict:
    values = {}
    for key, spec in space.items():
        if spec["type"] == "float":
            values[key] = trial.suggest_float(key, spec["low"], spec["high"], log=bool(spec.get("log", False)))
        elif spec["type"] == "int":
            values[key] = trial.suggest_int(key, spec["low"], spec["high"], log=bool(spec.get("log", False)))
        else:
            values[key] = trial.suggest_categorical(key, spec["choices"])
    return values


def trial_configs(task_name: str, args: argparse.Namespace, values: dict, eval_interval: int):
    """A fresh task with the fixed overrides, one trial's values and the tuning settings applied."""
    from legged_train.config import apply_overrides, split_env_train_overrides
    from legged_train.tasks import get_task

    task = get_task(task_name)
    env_set, train_set = split_env_train_overrides(args.set + [f"{k}={v}" for k, v in values.items()])
    env_overrides = {"seed": args.seed, **({"num_envs": args.num_envs} if args.num_envs is not None else {}), **env_set}
    apply_overrides(task.env_cfg, env_overrides)
    apply_overrides(task.train_cfg, {"seed": args.seed, "eval_interval": eval_interval, "max_iterations": args.iterations, **train_set})
    if hasattr(task.env_cfg, "validate"):
        task.env_cfg.validate()
    check_rollout_size(task.env_cfg, task.train_cfg)
    return task


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = make_parser(__doc__, prog)
    parser.add_argument("--task", required=True)
    parser.add_argument("--trials", type=int, default=10, help="trials to run now (the study keeps earlier ones)")
    parser.add_argument("--iterations", type=int, default=300, help="learning iterations per trial")
    parser.add_argument("--eval-interval", type=int, help="iterations between evaluations reported to the trial (default: iterations / 4)")
    parser.add_argument("--study-name", help="default: the task's name")
    parser.add_argument("--num-envs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-root", default=DEFAULT_LOG_ROOT)
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help="fixed overrides, as in train.py")
    args = parser.parse_args(argv)
    try:
        import optuna
    except ImportError:
        fail(parser, "tune.py needs Optuna: pip install -e \".[tune]\"")
    from legged_train.checkpoint import set_seed
    from legged_train.tasks import get_task

    eval_interval = args.eval_interval or max(1, args.iterations // 4)
    try:
        check_at_least(args, {"trials": 1, "iterations": 1, "eval_interval": 1, "num_envs": 1})
        task = get_task(args.task)
        space = check_search_space(getattr(task.train_cfg, "search_space", None))
        # Every fixed setting, with the space's lowest values, is checked before the study exists:
        # a mistake fails now in one line, not as a failed trial kept in the study.
        lows = {k: spec["choices"][0] if spec["type"] == "categorical" else spec["low"] for k, spec in space.items()}
        trial_configs(args.task, args, lows, eval_interval)
        check_writable_folder(args.log_root, "--log-root")
        if args.study_name is not None and os.sep in args.study_name:
            raise UserError(f"--study-name={args.study_name!r}: must be a file name, without {os.sep!r}")
    except user_errors() as err:
        fail(parser, err)

    study_name = args.study_name or task.name
    tune_dir = os.path.join(args.log_root, task.name.replace(":", "."), "tune")
    os.makedirs(tune_dir, exist_ok=True)
    storage = f"sqlite:///{os.path.join(tune_dir, study_name)}.db"
    study = optuna.create_study(study_name=study_name, storage=storage, direction="minimize", load_if_exists=True,
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=eval_interval))

    def objective(trial) -> float:
        values = suggest(trial, space)
        task = trial_configs(args.task, args, values, eval_interval)  # fresh configs for every trial
        set_seed(args.seed)
        env = task.make_env(task.env_cfg, task.train_cfg.device)
        run_dir = os.path.join(tune_dir, f"{study_name}_trial_{trial.number}")
        runner = make_runner(env, task.train_cfg, run_dir, task.train_cfg.device, runner_cls=task.runner_cls)
        runner.run_config.update({"task": task.name, "command": " ".join(sys.argv), "trial": trial.number, "params": values})
        try:
            stats = runner.learn(args.iterations, trial=trial)
        finally:
            runner.close()
            env.close()
        value = stats.get("eval/velocity_rmsd")
        if value is None:  # the last iteration was not an evaluation one
            value = runner.eval()["eval/velocity_rmsd"]
        return float(value)

    study.optimize(objective, n_trials=args.trials)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    summary = {"study": study_name, "storage": storage, "trials": len(study.trials), "completed": len(completed),
               "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)}
    if completed:
        summary.update({"best_value": study.best_value, "best_params": study.best_params})
    print(json.dumps(summary))
    return 0
