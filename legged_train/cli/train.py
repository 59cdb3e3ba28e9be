"""Train a registered task: ``python train.py --task go1_flat``.

Output goes to ``logs/<experiment>/<YYYY-mm-dd_HH-MM-SS>_<run>/``: config.yaml (resolved env and
training config), git/ (commit, status, diff of the code), TensorBoard event files and
model_<iteration>.pt checkpoints. Any config field can be overridden:

    python train.py --task go1_flat --set env.num_envs=512 train.learning_rate=3e-4 \\
        train.actor_cfg.hidden_dims=[256,128]

``--resume`` continues a run in its own folder from its latest checkpoint (or --load-run /
--checkpoint), with the run's recorded config; ``--max-iterations`` is then the run's total and
``--extra-iterations N`` trains N more. Ctrl-C or SIGTERM stops after the current iteration and
saves a checkpoint (a second Ctrl-C aborts at once). legged_gym spellings (``--num_envs``,
``--max_iterations``, ``--load_run``, ...) are accepted too.

The task names its runner (``runner_cls``; without one, the runner registered for its training
config's type): OnPolicyRunner (PPO), AmpPolicyRunner (PPO with an adversarial motion prior),
TwoStageRunner (pretraining from demonstrations, then PPO), DistillationRunner (a student distilled
from ``--teacher RUN|CHECKPOINT``), OffPolicyRunner (DQN, SAC). A PPO run starts from another run's
actor (a PPO actor or a distilled student) with ``--init-actor RUN|CHECKPOINT``.
``--task`` also takes ``my_pkg.my_module:my_task`` (see the README).

Several GPUs (or CPU processes): ``torchrun --nproc_per_node N train.py --task go1_flat --distributed``.
Each rank steps ``--num-envs`` envs of its own with seed + rank; rank 0 logs, evaluates and saves.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from legged_train.cli.common import (
    UserError,
    add_argument,
    check_above,
    check_at_least,
    check_video_rendering,
    check_writable_folder,
    fail,
    make_parser,
    one_line,
    stop_on_signals,
    user_errors,
)
from legged_train.cli.runs import (
    DEFAULT_LOG_ROOT,
    experiment_name_of,
    load_run,
    new_run_dir,
    remove_unfinished_run,
)
from legged_train.config import RunnerConfig, apply_overrides, config_to_dict, split_env_train_overrides
from legged_train.runners.registry import make_runner

# Run and experiment names become folder names: no separators, no "..", no hidden files.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = make_parser(__doc__, prog)
    add_argument(parser, "--task", help="registered task name (see --list) or module:attribute")
    add_argument(parser, "--list", action="store_true", help="list the registered tasks and exit")
    add_argument(parser, "--num-envs", type=int, help="number of parallel envs (env.num_envs)")
    add_argument(parser, "--seed", type=int, help="seed of the env and the learner")
    add_argument(parser, "--max-iterations", type=int, help="learning iterations of the run (on resume: the run's total)")
    add_argument(parser, "--extra-iterations", type=int, help="with --resume: train this many iterations more")
    add_argument(parser, "--total-timesteps", type=int, help="env steps to train for (off-policy; on-policy too)")
    add_argument(parser, "--device", help="cpu, cuda, cuda:N or auto")
    add_argument(parser, "--experiment-name", help="folder under the log root; default: the task's name")
    add_argument(parser, "--run-name", help="suffix of the run folder name (letters, digits, _ . + -)")
    add_argument(parser, "--resume", action="store_true", help="continue a run (in its folder) from a checkpoint")
    add_argument(parser, "--load-run", help="run folder (name or path) to resume from; default: the latest")
    add_argument(parser, "--checkpoint", help="iteration number or .pt file to resume from; default: the latest")
    add_argument(parser, "--teacher", help="distillation tasks (go1_student), and PPO with train.teacher_coef > 0: the "
                 "teacher's run folder or checkpoint file")
    add_argument(parser, "--init-actor", help="PPO tasks: start the actor from a trained one (a PPO run's actor or a distilled "
                 "student): its run folder or checkpoint file (e.g. go1_rough_student_ppo)")
    add_argument(parser, "--logger", help="tensorboard, wandb, swanlab, or several comma-separated")
    add_argument(parser, "--log-root", default=DEFAULT_LOG_ROOT, help="root of all run folders (default: ./logs)")
    add_argument(parser, "--distributed", action="store_true", help="data-parallel PPO over the processes torchrun starts (NCCL on CUDA, gloo on CPU)")
    add_argument(parser, "--headless", action="store_true", help="accepted for legged_gym scripts: training never opens a window")
    add_argument(parser, "--video", action="store_true", help="record a short clip into <run>/videos every --video-interval iterations")
    add_argument(parser, "--video-interval", type=int, default=50, help="iterations between clips (default 50)")
    add_argument(parser, "--video-length", type=float, default=4.0, help="seconds of simulated time per clip (default 4)")
    add_argument(
        parser,
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config fields: env.<field>=... or train.<field>=... (nested with dots)",
    )
    return parser


def check_arguments(args: argparse.Namespace) -> None:
    """Values argparse lets through but that can never work."""
    check_at_least(args, dict.fromkeys(("num_envs", "max_iterations", "extra_iterations", "total_timesteps", "video_interval"), 1))
    check_above(args, ("video_length",))
    if args.extra_iterations is not None and not args.resume:
        raise UserError("--extra-iterations only makes sense with --resume (use --max-iterations for a new run)")
    if args.extra_iterations is not None and args.max_iterations is not None:
        raise UserError("give --max-iterations (the run's total) or --extra-iterations (more), not both")


def resolve_configs(task, args: argparse.Namespace, env_cfg=None, train_cfg=None):
    """The env and train configs (the task's, or a run's on resume) with the command line applied:
    flags first, then --set. On resume --max-iterations is the run's total, not the config's horizon."""
    env_cfg = task.env_cfg if env_cfg is None else env_cfg
    train_cfg = task.train_cfg if train_cfg is None else train_cfg
    if not isinstance(train_cfg, RunnerConfig):
        raise TypeError(f"task {task.name!r}: train_cfg must be a RunnerConfig subclass, got {type(train_cfg).__name__}")
    env_overrides: dict = {}
    train_overrides: dict = {}
    if args.num_envs is not None:
        env_overrides["num_envs"] = args.num_envs
    if args.seed is not None:
        env_overrides["seed"] = args.seed
        train_overrides["seed"] = args.seed
    if args.max_iterations is not None and not args.resume and hasattr(train_cfg, "max_iterations"):
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
    explicit_experiment = train_overrides.get("experiment_name")
    apply_overrides(env_cfg, env_overrides)
    apply_overrides(train_cfg, train_overrides)
    if hasattr(env_cfg, "validate"):
        env_cfg.validate()  # before any simulator or folder exists
    if hasattr(train_cfg, "check_networks"):
        train_cfg.check_networks(prefix="train.")  # a misspelled network option, before any folder exists
    train_cfg.experiment_name = experiment_name_of(task.name, explicit_experiment and str(explicit_experiment))
    for field in ("run_name", "experiment_name"):
        value = getattr(train_cfg, field)
        if value and not SAFE_NAME.fullmatch(value):
            raise UserError(
                f"{field}={value!r}: must be a folder name of letters, digits and _ . + - "
                "(no path separators, not starting with '.')"
            )
    if hasattr(env_cfg, "seed") and "seed" not in env_overrides:
        env_cfg.seed = train_cfg.seed  # one --seed / train.seed drives both
    check_rollout_size(env_cfg, train_cfg)
    return env_cfg, train_cfg


def check_rollout_size(env_cfg, train_cfg) -> None:
    """``train.num_mini_batches`` must split the rollout (steps x envs; envs alone for recurrent
    networks, whose minibatches hold whole trajectories): checked now, not at the first update."""
    minibatches, steps = getattr(train_cfg, "num_mini_batches", None), getattr(train_cfg, "num_steps_per_env", None)
    num_envs = getattr(env_cfg, "num_envs", None)
    if not (isinstance(minibatches, int) and isinstance(steps, int) and isinstance(num_envs, int)):
        return  # not an on-policy rollout
    networks = [getattr(train_cfg, name, None) for name in ("actor_cfg", "critic_cfg", "student_cfg")]
    if any(isinstance(cfg, dict) and cfg.get("rnn_type") for cfg in networks):
        limit, what = num_envs, f"env.num_envs={num_envs} (recurrent networks split the rollout by envs)"
    else:
        limit, what = steps * num_envs, f"the rollout's train.num_steps_per_env={steps} x env.num_envs={num_envs}"
    if minibatches > limit:
        raise UserError(f"train.num_mini_batches={minibatches}: must be at most {limit}, {what}: lower it or raise those")


def add_video_callback(runner, env, run_dir: str, args) -> None:
    """A clip of the current policy every ``--video-interval`` iterations, into <run>/videos/."""
    from legged_train.evaluation import is_legged_env
    from legged_train.video import record_clip

    if not is_legged_env(env):
        raise UserError(f"--video films legged envs; this task's env is a {type(env).__name__}")

    def record(runner, _stats) -> None:
        if runner.iteration % args.video_interval == 0:
            path = os.path.join(run_dir, "videos", f"iteration_{runner.iteration}.mp4")
            record_clip(env, runner.get_inference_policy(), path, seconds=args.video_length)
            runner.train_mode()

    runner.add_callback("post_iteration", record)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from legged_train.tasks import list_tasks

    if args.list:
        print("\n".join(list_tasks()))
        return 0
    if not args.task:
        fail(parser, "--task is required (see --list for the registered tasks)")
    code = train(parser, args)
    if args.distributed:
        from legged_train import distributed

        distributed.exit_process(code)
    return code


def train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Set up, learn, close; the exit code. Bad input ends here with one line (exit 2)."""
    from legged_train.checkpoint import NonFiniteCheckpointError
    from legged_train.finite import NonFiniteError

    # Anything wrong with what the user gave: one line, exit 2, and no run folder left behind.
    run_dir, is_new_run = None, True
    try:
        check_arguments(args)
        runner, env, run_dir, is_new_run, target = setup(args)
    except KeyboardInterrupt:
        return 130
    except user_errors() as err:
        fail(parser, err)
    unfinished = False  # a new run stopped before its first checkpoint: its folder goes once the runner is closed
    try:
        with stop_on_signals(runner):
            if target is not None:
                runner.learn(num_learning_iterations=target - runner.iteration)
            else:
                runner.learn(total_timesteps=args.total_timesteps or runner.cfg.total_timesteps)
    except (NonFiniteError, NonFiniteCheckpointError) as err:
        # Checkpoints are written between iterations, atomically, and never with NaN: the last one is intact.
        print(f"training stopped: {one_line(err)}; {last_good_checkpoint(parser, args, run_dir)}", file=sys.stderr)
        unfinished = True
        return 1
    except ImportError as err:  # a logger backend that is not installed
        unfinished = True
        fail(parser, err)
    except KeyboardInterrupt:
        unfinished = True
        print(f"aborted at iteration {runner.iteration}: nothing saved since the last checkpoint", file=sys.stderr)
        return 130
    finally:
        # Closed first: the loggers write their last records into the run folder as they close.
        runner.close()
        env.close()
        if unfinished:
            remove_unfinished_run(run_dir, is_new_run)
        if args.distributed:
            from legged_train import distributed

            distributed.shutdown()
    if run_dir is None:  # a data-parallel rank other than 0: rank 0 reports
        return 0
    if getattr(runner, "starved", False):  # a two-stage run whose demonstrations never came
        print(f"training stopped at iteration {runner.iteration}: no demonstrations to serve; "
              f"saved {os.path.join(run_dir, f'model_{runner.iteration}.pt')}", file=sys.stderr)
        return 1
    if runner.stop_requested:
        saved = os.path.join(run_dir, f"model_{runner.iteration}.pt")
        print(f"interrupted at iteration {runner.iteration}; saved {saved}. Continue with: "
              f"{invocation(parser)} --task {args.task} --resume --load-run {run_dir}")
    print(f"done: {run_dir}")
    return 0


def invocation(parser: argparse.ArgumentParser) -> str:
    """How the user started this command: ``python train.py`` or ``legged-train train``."""
    return f"python {parser.prog}" if parser.prog.endswith(".py") else parser.prog


def last_good_checkpoint(parser: argparse.ArgumentParser, args: argparse.Namespace, run_dir: str | None) -> str:
    """What to do after a run stopped on NaN/Inf: the last checkpoint written and how to resume from it."""
    from legged_train.checkpoint import list_checkpoints

    checkpoints = list_checkpoints(run_dir) if run_dir else []
    if not checkpoints:
        return "no checkpoint was written before it (the run folder is removed): fix the cause and train again"
    last = checkpoints[-1]
    iteration = os.path.splitext(os.path.basename(last))[0][len("model_"):]
    return (f"the last good checkpoint is {last}: fix the cause (a weight, a learning rate, an --set value) and "
            f"continue from it with: {invocation(parser)} --task {args.task} --resume --load-run {run_dir} "
            f"--checkpoint {iteration}")


def setup(args: argparse.Namespace):
    """Configs, env, runner and (on resume) the checkpoint, all checked before the run folder exists.

    Returns (runner, env, run_dir, is_new_run, target iteration or None for a timestep budget)."""
    from legged_train.algorithms.ppo import PPO
    from legged_train.checkpoint import set_seed
    from legged_train.config import resolve_device
    from legged_train.logger import check_backends
    from legged_train.tasks import get_task

    task = get_task(args.task)
    resume_path = checkpoint = None
    if args.resume:
        resume_path, checkpoint, env_cfg, train_cfg = load_run(task, args.log_root, args.experiment_name, args.load_run,
                                                               args.checkpoint)
        env_cfg, train_cfg = resolve_configs(task, args, env_cfg, train_cfg)
    else:
        if args.load_run or args.checkpoint:
            print("note: --load-run/--checkpoint only take effect with --resume", file=sys.stderr)
        env_cfg, train_cfg = resolve_configs(task, args)
    resolve_teacher(task, train_cfg, args.teacher, resumed=resume_path is not None)
    resolve_init_actor(task, train_cfg, args.init_actor, resumed=resume_path is not None)
    # What would fail once the run folder exists is checked before it does.
    if resume_path is None:
        check_writable_folder(args.log_root, "--log-root")
    else:
        check_writable_folder(os.path.dirname(resume_path), "--load-run")
    check_backends(train_cfg.logger_backend, getattr(train_cfg, "logger_kwargs", None) or {})
    if args.video:
        check_video_rendering()
    device = resolve_device(train_cfg.device)
    rank = 0
    if args.distributed:
        from legged_train import distributed

        device = distributed.init_from_torchrun(device)
        train_cfg.device, rank = str(device), distributed.rank()
        train_cfg.seed += rank  # each rank its own envs and exploration
        if hasattr(env_cfg, "seed"):
            env_cfg.seed += rank

    on_policy = hasattr(train_cfg, "max_iterations") and args.total_timesteps is None
    target = None
    if on_policy:
        target = args.max_iterations or train_cfg.max_iterations
        if resume_path is not None and args.extra_iterations is not None:
            target = int(checkpoint.get("iteration", 0)) + args.extra_iterations

    if rank != 0:
        run_dir, is_new_run = None, False  # rank 0 writes the run
    elif resume_path is not None:
        run_dir, is_new_run = os.path.dirname(os.path.abspath(resume_path)), False
    else:
        run_dir, is_new_run = new_run_dir(args.log_root, train_cfg.experiment_name, train_cfg.run_name), True

    set_seed(train_cfg.seed)
    env = task.make_env(env_cfg, device)
    try:
        runner = make_runner(env, train_cfg, run_dir, device, runner_cls=task.runner_cls)
        if args.distributed and not isinstance(getattr(runner, "alg", None), PPO):
            raise UserError(f"--distributed trains PPO tasks; task {task.name!r} uses {type(runner).__name__}")
        runner.run_config.update(
            {"task": task.name, "command": " ".join(sys.argv), "env": config_to_dict(env_cfg), "resumed_from": resume_path}
        )
        if resume_path is not None:
            runner.load_checkpoint(resume_path)
            if rank == 0:
                print(f"resumed from {resume_path} at iteration {runner.iteration}")
            if target is not None and target <= runner.iteration:
                raise UserError(
                    f"the run is already at iteration {runner.iteration} (--max-iterations is the run's total, "
                    f"{target}); use --extra-iterations N to train N more"
                )
        if args.video and rank == 0:
            add_video_callback(runner, env, run_dir, args)
    except BaseException:
        env.close()
        raise
    if rank == 0:
        print(f"run directory: {run_dir}")
    return runner, env, run_dir, is_new_run, target


def resolve_teacher(task, train_cfg, teacher: str | None, resumed: bool) -> None:
    """``--teacher RUN|CHECKPOINT`` -> ``train_cfg.teacher_checkpoint`` (an absolute file path).

    A run folder gives its latest checkpoint. A resumed run keeps its recorded teacher unless
    ``--teacher`` names another. The teacher's actor and layout are checked when the runner loads it."""
    from legged_train.algorithms.distillation import DistillationConfig

    # Distillation, or PPO pulled towards a teacher (teacher_coef > 0).
    if not isinstance(train_cfg, DistillationConfig) and not getattr(train_cfg, "teacher_coef", 0) > 0:
        if teacher is not None:
            raise UserError(f"--teacher is for distillation tasks (such as go1_student) and PPO with train.teacher_coef > 0; "
                            f"task {task.name!r} trains without a teacher")
        return
    if teacher is None:
        if resumed and train_cfg.teacher_checkpoint:
            return
        role = "distills" if isinstance(train_cfg, DistillationConfig) else f"(train.teacher_coef={train_cfg.teacher_coef!r}) learns from"
        raise UserError(
            f"task {task.name!r} {role} a teacher: give --teacher logs/<teacher task>/<run> (a run folder or a checkpoint file)"
        )
    train_cfg.teacher_checkpoint = checkpoint_file("--teacher", teacher, "train the teacher first")


def resolve_init_actor(task, train_cfg, init_actor: str | None, resumed: bool) -> None:
    """``--init-actor RUN|CHECKPOINT`` -> ``train_cfg.init_actor_checkpoint`` (an absolute file path).

    Only when a run starts: a resumed run's checkpoint holds its actor (and its fine-tuning anchor),
    so its recorded init_actor_checkpoint is not read again (the file may have moved since)."""
    from legged_train.algorithms.ppo import PPOConfig

    if init_actor is not None and not isinstance(train_cfg, PPOConfig):
        raise UserError(f"--init-actor is for PPO tasks; task {task.name!r} trains with {type(train_cfg).__name__}")
    if resumed:
        if init_actor is not None:
            raise UserError("--init-actor starts a new run from a trained actor; a resumed run continues from its own checkpoint")
        if isinstance(train_cfg, PPOConfig):
            train_cfg.init_actor_checkpoint = ""
        return
    if init_actor is not None:
        train_cfg.init_actor_checkpoint = checkpoint_file("--init-actor", init_actor, "train that run first")


def checkpoint_file(option: str, path: str, remedy: str) -> str:
    """The absolute path of a checkpoint given as a file or as a run folder (its latest checkpoint)."""
    from legged_train.checkpoint import list_checkpoints

    if os.path.isdir(path):
        checkpoints = list_checkpoints(path)
        if not checkpoints:
            raise UserError(f"{option} {path!r}: the run holds no model_<iteration>.pt checkpoint ({remedy})")
        path = checkpoints[-1]
    elif not os.path.isfile(path):
        raise UserError(f"{option} {path!r}: no such run folder or checkpoint file")
    return os.path.abspath(path)
