"""The collector of DAgger in two processes: drive the env with the student a trainer is training,
label every step with a teacher, and write the trajectories for the trainer to learn from.

Start the trainer first (it writes its untrained student as model_0.pt, then waits for data), then
this with the trainer's run folder (train.py prints it as "run directory: ..."):

    python train.py --task go1_dagger_student --set train.pretrain_dataset.data_dir=data/go1_dagger
    python dagger_collect.py --teacher logs/go1_teacher/<run> --student-run logs/go1_dagger_student/<run> \\
        --save-dir data/go1_dagger

The env is the student run's (its config.yaml: the dataset must match what the trainer reads), with
the teacher's observation group added from the teacher's run when the student's env lacks it. The
teacher reads the group its actor was trained on (--teacher-obs-group to insist on one). Before each
buffer of --rollout-length steps the newest student checkpoint is loaded and every env is given its
driver: the teacher with probability --teacher-act-prob of the student's iteration, else the student
(plus --action-sample-std noise). The first checkpoint is awaited --wait-timeout seconds at most.

Stops once --min-timesteps steps (and --min-episodes trajectories) are kept; Ctrl-C or SIGTERM stops
after the current buffer (a second one aborts at once). A folder that holds a dataset is continued.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

from legged_train.cli.collect import check_arguments as check_collection_arguments
from legged_train.cli.collect import parse_compression
from legged_train.cli.common import UserError, add_argument, check_above, check_at_least, fail, make_parser, stop_on_signals, user_errors
from legged_train.cli.runs import load_run_configs, run_task_name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = make_parser(__doc__, prog)
    add_argument(parser, "--teacher", required=True, help="the teacher: a run folder (its latest checkpoint) or a .pt file")
    add_argument(parser, "--teacher-checkpoint", help="iteration of the teacher run's checkpoint; default: the latest")
    add_argument(parser, "--teacher-obs-group", help="group the teacher reads; default: the one its actor was trained on")
    add_argument(parser, "--student-run", required=True, help="the trainer's run folder, where it saves model_<iteration>.pt")
    add_argument(parser, "--save-dir", required=True, help="dataset folder the trainer reads (made if needed; continued if it holds one)")
    add_argument(parser, "--teacher-act-prob", default="exp",
                 help="exp, linear, tanh (of the student's iteration / --update-times-scale) or a probability (default exp)")
    add_argument(parser, "--update-times-scale", type=float, default=50.0,
                 help="the schedule's scale in student iterations (default 50: with exp the teacher drives 36%% of envs "
                      "at iteration 50, 5%% at 150)")
    add_argument(parser, "--action-sample-std", type=float, default=0.0, help="Gaussian noise on the student's actions (default 0)")
    add_argument(parser, "--wait-timeout", type=float, default=600.0, help="seconds to wait for the first student checkpoint (default 600)")
    add_argument(parser, "--min-timesteps", type=int, default=10_000_000, help="stop once this many steps are kept (default 1e7)")
    add_argument(parser, "--min-episodes", type=int, default=0, help="... and this many trajectories (default 0)")
    add_argument(parser, "--num-envs", type=int, help="parallel envs (default: the student run's)")
    add_argument(parser, "--rollout-length", type=int, default=256,
                 help="steps per buffer; the student is reloaded and the drivers redrawn between buffers (default 256)")
    add_argument(parser, "--seed", type=int, help="env and mixing seed (default: the number of earlier collections into --save-dir)")
    add_argument(parser, "--device", default="cpu")
    add_argument(parser, "--compress", nargs="+", default=[], metavar="GROUP[.SEGMENT]=ENCODING",
                 help="store observation segments compressed: float16, uint16 or uint8")
    add_argument(parser, "--set", nargs="+", action="extend", default=[], metavar="env.KEY=VALUE",
                 help="override env config fields of the student run (e.g. env.episode_length_s=10)")
    add_argument(parser, "--tensorboard", action="store_true",
                 help="log rollout statistics to TensorBoard in <student run>/dagger_collector")
    add_argument(parser, "--quiet", action="store_true", help="no progress lines (waits and skipped checkpoints are still said)")
    return parser


def check_arguments(args: argparse.Namespace) -> None:
    check_collection_arguments(args)  # the counts, the buffer length and --save-dir, as collect.py checks them
    check_at_least(args, {"wait_timeout": 0, "action_sample_std": 0})
    check_above(args, ("update_times_scale",))
    if os.path.isfile(args.student_run):
        raise UserError(f"--student-run={args.student_run!r} is a file; give the trainer's run folder")


def parse_teacher_act_prob(value: str):
    """"exp" / "linear" / "tanh", or a number: checked by the schedule itself."""
    from legged_train.algorithms.distillation import teacher_act_prob_schedule

    try:
        schedule = float(value)
    except ValueError:
        schedule = value
    try:
        teacher_act_prob_schedule(schedule, 1.0)
    except ValueError as err:
        raise UserError(f"--teacher-act-prob: {err}") from None
    return schedule


def teacher_checkpoint(args: argparse.Namespace) -> tuple[str, dict]:
    """The teacher's checkpoint path and dict (read with weights_only)."""
    from legged_train.checkpoint import find_checkpoint, read_checkpoint_dict
    from legged_train.tasks import get_task

    teacher = os.path.abspath(args.teacher)
    if os.path.isfile(teacher):
        path = teacher
    elif os.path.isdir(teacher):
        path = find_checkpoint(os.path.dirname(teacher), teacher, args.teacher_checkpoint)
    else:
        raise UserError(f"--teacher={args.teacher!r}: no such run folder or checkpoint file")
    path = os.path.abspath(path)
    checkpoint = read_checkpoint_dict(path, map_location="cpu")
    # A teacher labels a legged robot's steps from its observation groups: a Gymnasium task
    # (cartpole_dqn, pendulum_sac) has none. Said now, before waiting for the student.
    task = run_task_name(os.path.dirname(path), checkpoint)
    if not hasattr(get_task(task).env_cfg, "observations"):
        raise UserError(
            f"--teacher={args.teacher!r} is a run of task {task!r}, which has no legged env: the teacher must be "
            "a legged task's run (for example logs/go1_teacher/<run>)"
        )
    return path, checkpoint


def wait_for_student_run(args: argparse.Namespace) -> str:
    """The student run folder, once the trainer has written its config and a first checkpoint."""
    from legged_train.checkpoint import list_checkpoints
    from legged_train.demonstrations.dagger import CHECKPOINT_PATTERN, wait_for

    run_dir = os.path.abspath(args.student_run)

    def ready() -> bool:
        return os.path.isfile(os.path.join(run_dir, "config.yaml")) and bool(list_checkpoints(run_dir))

    what = (f"the student run {run_dir} (its config.yaml and a {CHECKPOINT_PATTERN}; start the trainer first: "
            f"train.py --task go1_dagger_student --set train.pretrain_dataset.data_dir={args.save_dir})")
    if not wait_for(ready, what, args.wait_timeout, 1.0, lambda line: print(line, file=sys.stderr, flush=True)):
        state = "the folder does not exist" if not os.path.isdir(run_dir) else "it holds no config.yaml and checkpoint yet"
        raise TimeoutError(
            f"no student run appeared in {run_dir} within {args.wait_timeout:g} s ({state}): start the trainer first "
            "(python train.py --task go1_dagger_student ...) and give the run folder it prints, or raise --wait-timeout"
        )
    return run_dir


def make_env(args: argparse.Namespace, student_run: str, teacher_path: str, teacher_ckpt: dict, teacher_group: str, seed: int):
    """The student run's env (its recorded config, our --num-envs / --set / seed), with the teacher's
    observation group added from the teacher's run when the student's env lacks it."""
    from legged_train.checkpoint import list_checkpoints, read_checkpoint_dict
    from legged_train.config import apply_overrides, resolve_device, split_env_train_overrides
    from legged_train.tasks import get_task

    newest = list_checkpoints(student_run)[-1]
    try:
        student_ckpt = read_checkpoint_dict(newest, map_location="cpu")
    except Exception:  # noqa: BLE001 (the config.yaml is enough here; the saver says what is wrong with the file)
        student_ckpt = {}
    student_task = get_task(run_task_name(student_run, student_ckpt))
    env_cfg, _ = load_run_configs(student_task, student_ckpt, student_run)

    if hasattr(env_cfg, "observations"):
        teacher_run = os.path.dirname(teacher_path)
        teacher_cfg, _ = load_run_configs(get_task(run_task_name(teacher_run, teacher_ckpt)), teacher_ckpt, teacher_run)
        theirs = teacher_cfg.observations.get(teacher_group)
        ours = env_cfg.observations.get(teacher_group)
        if theirs is None:
            raise UserError(f"the teacher's run {teacher_run} has no observation group {teacher_group!r}; it has {sorted(teacher_cfg.observations)}")
        if ours is None:
            env_cfg.observations[teacher_group] = copy.deepcopy(theirs)  # the teacher sees what it was trained on
        elif ours != theirs:
            raise UserError(
                f"the teacher reads observation group {teacher_group!r}, which the student run configures differently "
                f"(teacher: history {theirs.history_length}, terms {[t.name for t in theirs.terms]}; student: history "
                f"{ours.history_length}, terms {[t.name for t in ours.terms]}): give the teacher a group of its own"
            )

    env_set, train_set = split_env_train_overrides(args.set)
    if train_set:
        raise UserError(f"--set: dagger_collect.py takes env.<field> overrides only; got train fields {sorted(train_set)}")
    apply_overrides(env_cfg, env_set)
    if args.num_envs is not None:
        env_cfg.num_envs = args.num_envs
    if hasattr(env_cfg, "seed"):
        env_cfg.seed = seed
    if hasattr(env_cfg, "validate"):
        env_cfg.validate()
    return student_task.make_env(env_cfg, resolve_device(args.device))


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)

    from legged_train.checkpoint import set_seed
    from legged_train.demonstrations import ActorPolicy, DaggerSaver, read_metadata
    from legged_train.demonstrations.dagger import actor_obs_group

    # Anything wrong with what the user gave, or a trainer that never showed up: one line, exit 2.
    env = None
    try:
        check_arguments(args)
        schedule = parse_teacher_act_prob(args.teacher_act_prob)
        mapping = parse_compression(args.compress)
        teacher_path, teacher_ckpt = teacher_checkpoint(args)
        teacher_group = args.teacher_obs_group or actor_obs_group(teacher_ckpt)
        student_run = wait_for_student_run(args)
        previous = read_metadata(args.save_dir) if os.path.isdir(args.save_dir) else None
        # A continued dataset gets new episodes: the same seed would replay the same ones.
        seed = args.seed if args.seed is not None else len((previous or {}).get("sessions", []))
        set_seed(seed)
        env = make_env(args, student_run, teacher_path, teacher_ckpt, teacher_group, seed)
        from legged_train.algorithms.distillation import load_teacher

        robot = env.cfg.robot if hasattr(getattr(env, "cfg", None), "robot") else None
        identity = {"mjcf": os.path.basename(robot.mjcf_path), "joint_names": list(robot.joint_names)} if robot else None
        teacher = load_teacher(teacher_path, env, obs_group=teacher_group, device=env.device, robot=identity)
        info = {"checkpoint": teacher_path, "task": (teacher_ckpt.get("identity") or {}).get("task"),
                "iteration": int(teacher_ckpt.get("iteration", 0)), "obs_group": teacher_group, "seed": seed}
        saver = DaggerSaver(
            env,
            ActorPolicy(teacher, info=info),
            args.save_dir,
            training_policy_logdir=student_run,
            teacher_act_prob=schedule,
            update_times_scale=args.update_times_scale,
            action_sample_std=args.action_sample_std,
            log_to_tensorboard=args.tensorboard,
            teacher_obs_group=teacher_group,
            wait_timeout_s=args.wait_timeout,
            seed=seed,
            rollout_storage_length=args.rollout_length,
            min_timesteps=args.min_timesteps,
            min_episodes=args.min_episodes,
            obs_disassemble_mapping=mapping,
            verbose=not args.quiet,
        )
    except (*user_errors(), TimeoutError) as err:
        if env is not None:
            env.close()
        fail(parser, err)
    print(f"teacher: {teacher_path} (group {teacher_group!r}); student run: {student_run} (group {saver.student_obs_group!r}); "
          f"{env.num_envs} envs, seed {seed}", flush=True)
    if saver.timesteps:
        print(f"continuing {args.save_dir}: {saver.trajectories} trajectories, {saver.timesteps} timesteps already")
    started, status = time.time(), 0
    loads = saver.training_policy_loads  # iterations of the students loaded, in order
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
        f"{args.save_dir} ({time.time() - started:.0f} s); {len(loads)} students loaded, iterations {loads[0]} to {loads[-1]}"
    )
    return status
