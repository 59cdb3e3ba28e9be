"""Collect demonstrations from a trained run:

    python collect.py --task go1_flat --load-run <run> --save-dir data/go1_demos --min-timesteps 200000

Loads the run the way play.py does (the run's recorded env and training config, the checkpoint
read with weights_only), then runs its policy in the training env (domain randomization on) and
writes every env's trajectories to ``--save-dir`` (``legged_train.demonstrations``: .npz slices,
metadata.json; loaded without pickle) until ``--min-timesteps`` and ``--min-episodes`` are reached.

A second run with the same ``--save-dir`` continues the dataset (numbering and counts). Actions are
the policy's deterministic ones unless ``--sample``; ``--success-only`` keeps only trajectories that
ended by time-out (falls are removed). ``--compress GROUP[.SEGMENT]=ENCODING`` stores observation
segments (named as in the env's observation layout) at lower precision: float16, uint16 or uint8.
Ctrl-C or SIGTERM stops after the current buffer is written (a second one aborts at once; finished
trajectories stay on disk either way).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from legged_train.cli.common import (
    UserError,
    add_argument,
    check_at_least,
    check_writable_folder,
    fail,
    make_parser,
    stop_on_signals,
    user_errors,
)
from legged_train.cli.runs import DEFAULT_LOG_ROOT, load_run
from legged_train.runners.registry import make_runner


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = make_parser(__doc__, prog)
    add_argument(parser, "--task", required=True, help="registered task name (of the run)")
    add_argument(parser, "--load-run", help="run folder (name or path); default: the latest run of the task")
    add_argument(parser, "--checkpoint", help="iteration number or .pt file; default: the latest of the run")
    add_argument(parser, "--experiment-name", help="folder under the log root; default: the task's")
    add_argument(parser, "--log-root", default=DEFAULT_LOG_ROOT)
    add_argument(parser, "--save-dir", required=True, help="dataset folder (made if needed; an existing dataset is continued)")
    add_argument(parser, "--min-timesteps", type=int, default=1_000_000, help="stop once this many steps are kept (default 1e6)")
    add_argument(parser, "--min-episodes", type=int, default=0, help="... and this many trajectories (default 0)")
    add_argument(parser, "--success-only", action="store_true", help="keep only trajectories that ended by time-out")
    add_argument(parser, "--sample", action="store_true", help="sample actions from the policy (default: its mean)")
    add_argument(parser, "--use-critic-obs", action="store_true", help="feed the policy the critic (privileged) group")
    add_argument(parser, "--num-envs", type=int, help="parallel envs (default: the run's)")
    add_argument(parser, "--rollout-length", type=int, default=256, help="steps buffered before writing (default 256)")
    add_argument(parser, "--seed", type=int, help="env seed (default: the number of earlier collections into --save-dir)")
    add_argument(parser, "--device", default="cpu")
    add_argument(parser, "--compress", nargs="+", default=[], metavar="GROUP[.SEGMENT]=ENCODING",
                 help="store observation segments compressed: float16, uint16 or uint8 (e.g. critic.foot_contact_force=float16)")
    add_argument(parser, "--set", nargs="+", action="extend", default=[], metavar="env.KEY=VALUE",
                 help="override env config fields of the run (e.g. env.episode_length_s=10)")
    add_argument(parser, "--motion", action="store_true",
                 help="also record the 'motion' group (base pose, joint angles) for python -m legged_train.motions from-demonstrations")
    add_argument(parser, "--quiet", action="store_true", help="no progress line")
    return parser


def check_arguments(args: argparse.Namespace) -> None:
    """The counts, the buffer length and --save-dir (dagger_collect.py checks them the same way)."""
    check_at_least(args, {"num_envs": 1, "rollout_length": 1, "min_timesteps": 0, "min_episodes": 0})
    if os.path.exists(args.save_dir) and not os.path.isdir(args.save_dir):
        raise UserError(f"--save-dir={args.save_dir!r}: exists and is not a folder")
    check_writable_folder(args.save_dir, "--save-dir")


def parse_compression(items: list[str]) -> dict:
    """``["critic.joint_vel=uint8", "policy=float16"]`` -> ``{"critic": {"joint_vel": "uint8"}, "policy": "float16"}``."""
    mapping: dict = {}
    for item in items:
        key, sep, encoding = item.partition("=")
        if not sep or not key or not encoding:
            raise UserError(f"--compress item {item!r} must look like GROUP=ENCODING or GROUP.SEGMENT=ENCODING")
        group, _, segment = key.partition(".")
        if segment:
            if isinstance(mapping.get(group), str):
                raise UserError(f"--compress: group {group!r} is given whole and by segment; give one")
            mapping.setdefault(group, {})[segment] = encoding
        else:
            if group in mapping:
                raise UserError(f"--compress: group {group!r} is given twice")
            mapping[group] = encoding
    return mapping


def load_policy_and_env(args: argparse.Namespace, seed: int):
    """The run's env (its recorded config, our --num-envs/--set/seed) and its policy as an ActorPolicy."""
    from legged_train.checkpoint import set_seed
    from legged_train.config import apply_overrides, resolve_device, split_env_train_overrides
    from legged_train.demonstrations import ActorPolicy
    from legged_train.tasks import get_task

    task = get_task(args.task)
    checkpoint_path, _, env_cfg, train_cfg = load_run(task, args.log_root, args.experiment_name, args.load_run, args.checkpoint)
    env_set, train_set = split_env_train_overrides(args.set)
    if train_set:
        raise UserError(f"--set: collect.py takes env.<field> overrides only; got train fields {sorted(train_set)}")
    apply_overrides(env_cfg, env_set)
    if args.motion:
        from legged_train.envs.legged.config import ObservationGroupConfig
        from legged_train.motions.from_demonstrations import MOTION_GROUP, MOTION_TERMS

        if not hasattr(env_cfg, "observations"):
            raise UserError(f"--motion records a legged robot's motion; task {task.name!r} has no observation groups")
        env_cfg.observations[MOTION_GROUP] = ObservationGroupConfig(list(MOTION_TERMS))
    if args.num_envs is not None:
        env_cfg.num_envs = args.num_envs
    if hasattr(env_cfg, "seed"):
        env_cfg.seed = seed
    if hasattr(env_cfg, "validate"):
        env_cfg.validate()
    device = resolve_device(args.device)
    train_cfg.device = str(device)
    set_seed(seed)

    env = task.make_env(env_cfg, device)
    try:
        runner = make_runner(env, train_cfg, None, device, runner_cls=task.runner_cls)
        runner.run_config["task"] = task.name
        runner.load_checkpoint(checkpoint_path, load_optimizer=False, map_location=device)
        info = {"checkpoint": checkpoint_path, "task": task.name, "iteration": runner.iteration, "seed": seed}
        policy = ActorPolicy.from_runner(runner, info=info)
    except BaseException:
        env.close()
        raise
    return env, policy


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)

    from legged_train.demonstrations import DemonstrationSaver, read_metadata

    # Anything wrong with what the user gave: one line, exit 2.
    env = None
    try:
        check_arguments(args)
        mapping = parse_compression(args.compress)
        previous = read_metadata(args.save_dir) if os.path.isdir(args.save_dir) else None
        # A continued dataset gets new episodes: the same seed would replay the same ones.
        seed = args.seed if args.seed is not None else len((previous or {}).get("sessions", []))
        env, policy = load_policy_and_env(args, seed)
        saver = DemonstrationSaver(
            env,
            policy,
            args.save_dir,
            rollout_storage_length=args.rollout_length,
            min_timesteps=args.min_timesteps,
            min_episodes=args.min_episodes,
            success_traj_only=args.success_only,
            use_critic_obs=args.use_critic_obs,
            obs_disassemble_mapping=mapping,
            demo_by_sample=args.sample,
            verbose=not args.quiet,
        )
    except user_errors() as err:
        if env is not None:
            env.close()
        fail(parser, err)
    print(f"policy: {policy.info['checkpoint']} (iteration {policy.info['iteration']}); {env.num_envs} envs, seed {seed}")
    if saver.timesteps:
        print(f"continuing {args.save_dir}: {saver.trajectories} trajectories, {saver.timesteps} timesteps already")
    started, status = time.time(), 0
    try:
        with stop_on_signals(saver, "stopping after the current buffer"):
            saver.collect_and_save(config={"command": " ".join(sys.argv), "seed": seed})
    except KeyboardInterrupt:
        status = 130
    finally:
        saver.close()  # writes the finished trajectories still buffered, removes the cut ones
        env.close()
    print(
        f"{'aborted' if status else 'done'}: {saver.trajectories} trajectories, {saver.timesteps} timesteps in "
        f"{args.save_dir} ({time.time() - started:.0f} s)"
    )
    return status
