"""Train a registered task: ``python train.py --task go1_flat``.

Output goes to ``logs/<experiment>/<YYYY-mm-dd_HH-MM-SS>_<run>/``: config.yaml (resolved env and
training config), git/ (commit, status, diff of the code), TensorBoard event files and
model_<iteration>.pt checkpoints. Any config field can be overridden:

    python train.py --task go1_flat --set env.num_envs=512 train.learning_rate=3e-4 \
        train.actor_cfg.hidden_dims=[256,128]

The training config's type picks the runner: PPOConfig -> OnPolicyRunner, DQNConfig / SACConfig ->
OffPolicyRunner.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from legged_train.config import RunnerConfig, apply_overrides, config_to_dict, split_env_train_overrides

ROOT = os.path.dirname(os.path.abspath(__file__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", help="registered task name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the registered tasks and exit")
    parser.add_argument("--num-envs", type=int, help="number of parallel envs (env.num_envs)")
    parser.add_argument("--seed", type=int, help="seed of the env and the learner")
    parser.add_argument("--max-iterations", type=int, help="learning iterations (on-policy)")
    parser.add_argument("--total-timesteps", type=int, help="env steps to train for (off-policy; on-policy too)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--experiment-name", help="folder under the log root; default: the task's")
    parser.add_argument("--run-name", help="suffix of the run folder name")
    parser.add_argument("--resume", action="store_true", help="continue from a checkpoint of an earlier run")
    parser.add_argument("--load-run", help="run folder (name or path) to resume from; default: the latest")
    parser.add_argument("--checkpoint", help="iteration number or .pt file to resume from; default: the latest")
    parser.add_argument("--logger", help="tensorboard, wandb, swanlab, or several comma-separated")
    parser.add_argument("--log-root", default=os.path.join(ROOT, "logs"), help="root of all run folders (default: ./logs)")
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config fields: env.<field>=... or train.<field>=... (nested with dots)",
    )
    return parser


def resolve_configs(task, args: argparse.Namespace):
    """The task's env and train configs with the command line applied (flags first, then --set)."""
    env_cfg, train_cfg = task.env_cfg, task.train_cfg
    if not isinstance(train_cfg, RunnerConfig):
        raise TypeError(f"task {task.name!r}: train_cfg must be a RunnerConfig subclass, got {type(train_cfg).__name__}")
    env_overrides: dict = {}
    train_overrides: dict = {}
    if args.num_envs is not None:
        env_overrides["num_envs"] = args.num_envs
    if args.seed is not None:
        env_overrides["seed"] = args.seed
        train_overrides["seed"] = args.seed
    if args.max_iterations is not None:
        train_overrides["max_iterations"] = args.max_iterations
    if args.total_timesteps is not None and hasattr(train_cfg, "total_timesteps"):
        train_overrides["total_timesteps"] = args.total_timesteps
    if args.device is not None:
        train_overrides["device"] = args.device
    if args.experiment_name is not None:
        train_overrides["experiment_name"] = args.experiment_name
    if args.run_name is not None:
        train_overrides["run_name"] = args.run_name
    if args.logger is not None:
        backends = [b.strip() for b in args.logger.split(",") if b.strip()]
        train_overrides["logger_backend"] = backends[0] if len(backends) == 1 else backends
    env_set, train_set = split_env_train_overrides(args.set)
    env_overrides.update(env_set)
    train_overrides.update(train_set)
    apply_overrides(env_cfg, env_overrides)
    apply_overrides(train_cfg, train_overrides)
    train_cfg.experiment_name = experiment_name_of(task.name, train_cfg)
    if hasattr(env_cfg, "seed") and "seed" not in env_overrides:
        env_cfg.seed = train_cfg.seed  # one --seed / train.seed drives both
    return env_cfg, train_cfg


def experiment_name_of(task_name: str, train_cfg: RunnerConfig) -> str:
    """The folder under the log root: the config's experiment_name, or the task's name when left at the default."""
    return task_name if train_cfg.experiment_name in ("", "default") else train_cfg.experiment_name


def make_run_dir(log_root: str, experiment_name: str, run_name: str) -> str:
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    name = f"{stamp}_{run_name}" if run_name else stamp
    run_dir = os.path.join(log_root, experiment_name, name)
    suffix = 1
    while os.path.exists(run_dir):  # two runs started within the same second
        run_dir = os.path.join(log_root, experiment_name, f"{name}_{suffix}")
        suffix += 1
    os.makedirs(run_dir)
    return run_dir


def make_runner(env, train_cfg, log_dir: str | None, device, **runner_kwargs):
    """Pick the runner from the training config's type; ``runner_kwargs`` (``eval_env=``...) go to it.

    ``log_dir=None`` writes nothing (play.py replays a run that way).
    """
    from legged_train.algorithms.dqn import DQNConfig
    from legged_train.algorithms.ppo import PPOConfig
    from legged_train.algorithms.sac import SACConfig

    if isinstance(train_cfg, PPOConfig):
        from legged_train.runners.on_policy_runner import OnPolicyRunner

        return OnPolicyRunner(env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
    if isinstance(train_cfg, (DQNConfig, SACConfig)):
        from legged_train.runners.off_policy_runner import OffPolicyRunner

        return OffPolicyRunner(env=env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
    raise TypeError(f"no runner for {type(train_cfg).__name__}; supported: PPOConfig, DQNConfig, SACConfig")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tasks import get_task, list_tasks

    if args.list:
        print("\n".join(list_tasks()))
        return 0
    if not args.task:
        build_parser().error("--task is required (see --list for the registered tasks)")

    from legged_train.checkpoint import CheckpointError, find_checkpoint, set_seed
    from legged_train.config import resolve_device
    from legged_train.runners.base import NonFiniteError

    try:
        task = get_task(args.task)
        env_cfg, train_cfg = resolve_configs(task, args)
    except (KeyError, ValueError, TypeError) as err:
        build_parser().error(str(err))  # exits with status 2 and the message, no traceback
    device = resolve_device(train_cfg.device)
    experiment_dir = os.path.join(args.log_root, train_cfg.experiment_name)
    try:
        resume_path = find_checkpoint(experiment_dir, args.load_run, args.checkpoint) if args.resume else None
    except CheckpointError as err:
        build_parser().error(str(err))
    if not args.resume and (args.load_run or args.checkpoint):
        print("note: --load-run/--checkpoint only take effect with --resume", file=sys.stderr)

    set_seed(train_cfg.seed)
    env = task.make_env(env_cfg, device)
    run_dir = make_run_dir(args.log_root, train_cfg.experiment_name, train_cfg.run_name)
    runner = make_runner(env, train_cfg, run_dir, device)
    runner.run_config.update(
        {"task": task.name, "command": " ".join(sys.argv), "env": config_to_dict(env_cfg), "resumed_from": resume_path}
    )
    if resume_path is not None:
        runner.load_checkpoint(resume_path)
        print(f"resumed from {resume_path} at iteration {runner.iteration}")
    print(f"run directory: {run_dir}")
    try:
        if hasattr(train_cfg, "max_iterations") and args.total_timesteps is None:
            runner.learn(num_learning_iterations=train_cfg.max_iterations)
        else:
            total = args.total_timesteps if args.total_timesteps is not None else train_cfg.total_timesteps
            runner.learn(total_timesteps=total)
    except NonFiniteError as err:
        # Checkpoints are only written between iterations and atomically: the last one is intact.
        print(f"training stopped: {err}", file=sys.stderr)
        return 1
    finally:
        runner.close()
        env.close()
    print(f"done: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
