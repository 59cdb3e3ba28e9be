"""Teacher-student distillation on go1: train a privileged teacher, distill a GRU student, compare them.

1. The teacher: ``go1_teacher`` (PPO, actor on the privileged ``teacher`` group) from scratch for
   ``--teacher-minutes`` of training wall-clock, or the latest checkpoint of ``--teacher-run``. One
   JSON line with its training wall-clock and its standard evaluation.
2. The student: ``go1_student`` distilled from it by online DAgger for ``--minutes`` of distillation
   wall-clock. Every ``--eval-every`` iterations a JSON line with the distillation wall-clock
   (evaluations excluded), the teacher-acting probability, the action loss and the student's
   standard evaluation.
3. A summary line: student minus teacher velocity_rmsd (target <= 0.03 m/s) and the student's
   fall_rate (target <= 0.02), with whether each target was met.

    python bench/distill_go1.py [--teacher-minutes 10 | --teacher-run logs/go1_teacher/<run>] [--minutes 5]
    python bench/distill_go1.py --quick     # a smoke test of the script: tiny settings, seconds

Targets (2-core CPU): the student's velocity_rmsd within 0.03 m/s of the teacher's and fall_rate <=
0.02 after at most 5 minutes of distillation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench_runs import build_run, emit  # noqa: E402
from legged_train.checkpoint import list_checkpoints, read_checkpoint_dict  # noqa: E402
from legged_train.evaluation import standard_evaluation  # noqa: E402
from legged_train.tasks import get_task  # noqa: E402
from legged_train.cli.runs import load_run_configs  # noqa: E402

TARGET_RMSD_GAP = 0.03  # m/s
TARGET_FALL_RATE = 0.02
# --quick: tiny envs and networks, for checking that the script runs end to end.
QUICK_ENV = {"num_envs": 16, "sim.num_threads": 1}
QUICK_TEACHER = {"num_steps_per_env": 4, "actor_cfg.hidden_dims": [16], "critic_cfg.hidden_dims": [16]}
QUICK_STUDENT = {"num_steps_per_env": 4, "num_mini_batches": 2, "actor_cfg.rnn_hidden_dim": 8, "actor_cfg.hidden_dims": [8]}


def rounded(evaluation: dict) -> dict:
    return {name: round(value, 4) for name, value in evaluation.items()}


def build(task_name: str, args, run_dir: str | None, env_overrides: dict, train_overrides: dict, checkpoint: str | None = None):
    """Env and runner of a task (with a run's recorded configs when ``checkpoint`` is given; loaded from it)."""
    configs = None
    if checkpoint is not None:
        configs = load_run_configs(get_task(task_name), read_checkpoint_dict(checkpoint), os.path.dirname(checkpoint))
    env, runner = build_run(task_name, args.seed, args.eval_every, run_dir, env_overrides, train_overrides, configs,
                            num_envs=args.num_envs)
    if checkpoint is not None:
        runner.load_checkpoint(checkpoint, load_optimizer=False)
    return env, runner


def train_for(runner, env, minutes: float, max_iterations: int, eval_every: int, on_progress) -> float:
    """Learn in chunks of ``eval_every`` iterations until ``minutes`` of learning wall-clock (evaluations
    excluded) or ``max_iterations``; ``on_progress(seconds, evaluation, stats)`` after each chunk."""
    seconds = 0.0
    while seconds < minutes * 60.0 and runner.iteration < max_iterations:
        started = time.time()
        stats = runner.learn(num_learning_iterations=min(eval_every, max_iterations - runner.iteration))
        seconds += time.time() - started
        evaluation = standard_evaluation(env, runner.get_inference_policy())  # the runner's own group
        runner.train_mode()
        on_progress(seconds, evaluation, stats)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher-run", help="a go1_teacher run folder (its latest checkpoint); default: train one")
    parser.add_argument("--teacher-minutes", type=float, default=10.0, help="teacher training wall-clock budget")
    parser.add_argument("--minutes", type=float, default=5.0, help="distillation wall-clock budget")
    parser.add_argument("--max-iterations", type=int, default=100_000, help="per stage")
    parser.add_argument("--eval-every", type=int, default=25, help="iterations between standard evaluations")
    parser.add_argument("--num-envs", type=int, help="default: the tasks' (1024)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny settings to smoke-test the script (2 iterations each)")
    parser.add_argument("--out", default=os.path.join(ROOT, "logs", "bench_distill", time.strftime("%Y-%m-%d_%H-%M-%S")))
    args = parser.parse_args()
    env_overrides, teacher_overrides, student_overrides = {}, {}, {}
    if args.quick:
        env_overrides, teacher_overrides, student_overrides = QUICK_ENV, QUICK_TEACHER, QUICK_STUDENT
        args.max_iterations, args.eval_every = 2, 1

    # 1. The teacher.
    if args.teacher_run:
        checkpoints = list_checkpoints(args.teacher_run)
        if not checkpoints:
            parser.error(f"--teacher-run {args.teacher_run!r} holds no model_<iteration>.pt checkpoint")
        teacher_checkpoint, teacher_seconds = os.path.abspath(checkpoints[-1]), None
        teacher_env, teacher = build("go1_teacher", args, None, env_overrides, {}, checkpoint=teacher_checkpoint)
    else:
        teacher_env, teacher = build("go1_teacher", args, os.path.join(args.out, "teacher"), env_overrides, teacher_overrides)

        def teacher_progress(seconds, evaluation, stats):
            emit({"event": "teacher_progress", "iteration": teacher.iteration, "train_wall_clock_s": round(seconds, 1),
                  "env_steps": teacher.total_timesteps, **rounded(evaluation)})

        teacher_seconds = train_for(teacher, teacher_env, args.teacher_minutes, args.max_iterations, args.eval_every,
                                    teacher_progress)
        teacher_checkpoint = os.path.join(args.out, "teacher", f"model_{teacher.iteration}.pt")  # saved by learn()
    teacher_eval = standard_evaluation(teacher_env, teacher.get_inference_policy())
    teacher.close()
    teacher_env.close()
    emit({"event": "teacher", "checkpoint": teacher_checkpoint, "iteration": teacher.iteration,
          "train_wall_clock_s": None if teacher_seconds is None else round(teacher_seconds, 1), **rounded(teacher_eval)})

    # 2. The student.
    student_env, student = build("go1_student", args, os.path.join(args.out, "student"), env_overrides,
                                 {**student_overrides, "teacher_checkpoint": teacher_checkpoint})
    last: dict = {}

    def student_progress(seconds, evaluation, stats):
        last.update(evaluation)
        emit({"event": "student_progress", "iteration": student.iteration, "distill_wall_clock_s": round(seconds, 1),
              "env_steps": student.total_timesteps, "teacher_act_prob": stats.get("distill/teacher_act_prob"),
              "action_loss": stats.get("distill/action_loss"), **rounded(evaluation)})

    student_seconds = train_for(student, student_env, args.minutes, args.max_iterations, args.eval_every, student_progress)
    student.close()
    student_env.close()

    # 3. Student vs teacher.
    gap = last["velocity_rmsd"] - teacher_eval["velocity_rmsd"]
    emit({
        "event": "summary",
        "distill_wall_clock_s": round(student_seconds, 1),
        "student_iterations": student.iteration,
        "teacher_velocity_rmsd": round(teacher_eval["velocity_rmsd"], 4),
        "student_velocity_rmsd": round(last["velocity_rmsd"], 4),
        "velocity_rmsd_gap": round(gap, 4),
        "gap_target": TARGET_RMSD_GAP,
        "teacher_fall_rate": round(teacher_eval["fall_rate"], 4),
        "student_fall_rate": round(last["fall_rate"], 4),
        "fall_rate_target": TARGET_FALL_RATE,
        "met": gap <= TARGET_RMSD_GAP and last["fall_rate"] <= TARGET_FALL_RATE,
    })


if __name__ == "__main__":
    main()
