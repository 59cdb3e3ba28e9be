"""DAgger in two processes on go1: DaggerSaver collects, TwoStageRunner trains, side by side.

Starts the trainer (``train.py --task go1_dagger_student``) and the collector (``dagger_collect.py``
with ``--teacher-run``, a go1_teacher run) as two processes sharing the machine, lets them run for
``--minutes`` of wall-clock, stops both with Ctrl-C (each saves), then prints JSON lines: the
student's standard evaluation at its last checkpoint, the teacher's, and the gap.

    python bench/dagger_two_process.py --teacher-run logs/go1_teacher/<run> [--minutes 5]

Targets (issue 9, as for online DAgger): the student's velocity_rmsd within 0.03 m/s of the
teacher's and fall_rate <= 0.02.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from legged_train.algorithms.distillation import load_teacher  # noqa: E402
from legged_train.checkpoint import list_checkpoints, list_runs, read_checkpoint_dict  # noqa: E402
from legged_train.evaluation import standard_evaluation  # noqa: E402
from legged_train.tasks import get_task  # noqa: E402
from legged_train.cli.runs import load_run_configs  # noqa: E402
from legged_train.runners.registry import make_runner  # noqa: E402


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def evaluate_student(run_dir: str) -> dict:
    """Standard evaluation of the newest checkpoint of a go1_dagger_student run."""
    path = list_checkpoints(run_dir)[-1]
    task = get_task("go1_dagger_student")
    checkpoint = read_checkpoint_dict(path, map_location="cpu")
    env_cfg, train_cfg = load_run_configs(task, checkpoint, run_dir)
    env = task.make_env(env_cfg, "cpu")
    runner = make_runner(env, train_cfg, None, "cpu", runner_cls=task.runner_cls)
    runner.run_config["task"] = task.name
    runner.load_checkpoint(path, load_optimizer=False)
    result = {"checkpoint": path, "iteration": runner.iteration, **standard_evaluation(env, runner.get_inference_policy())}
    env.close()
    return result


def evaluate_teacher(teacher_run: str) -> dict:
    task = get_task("go1_teacher")
    env = task.make_env(task.env_cfg, "cpu")
    path = list_checkpoints(teacher_run)[-1]
    teacher = load_teacher(path, env, "teacher", "cpu")
    result = {"checkpoint": path, **standard_evaluation(env, teacher, obs_group="teacher")}
    env.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher-run", required=True, help="a go1_teacher run folder")
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock of the two processes together")
    parser.add_argument("--out", default=os.path.join(ROOT, "logs", "bench_dagger", time.strftime("%Y-%m-%d_%H-%M-%S")))
    args = parser.parse_args()

    data_dir, log_root = os.path.join(args.out, "data"), os.path.join(args.out, "logs")
    trainer = subprocess.Popen(
        [sys.executable, "train.py", "--task", "go1_dagger_student", "--log-root", log_root,
         "--set", f"train.pretrain_dataset.data_dir={data_dir}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    started = time.time()
    experiment = os.path.join(log_root, "go1_dagger_student")
    while not (list_runs(experiment) and list_checkpoints(list_runs(experiment)[-1])):  # model_0.pt: the first student
        time.sleep(0.5)
    run_dir = list_runs(experiment)[-1]
    collector = subprocess.Popen(
        [sys.executable, "dagger_collect.py", "--teacher", args.teacher_run, "--student-run", run_dir,
         "--save-dir", data_dir, "--quiet"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(max(0.0, args.minutes * 60.0 - (time.time() - started)))
    for process in (collector, trainer):
        process.send_signal(signal.SIGINT)
    for process in (collector, trainer):
        process.wait(timeout=300)
    wall_clock = time.time() - started
    student = evaluate_student(run_dir)
    emit({"event": "student", "wall_clock_s": round(wall_clock, 1), "run": run_dir,
          **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in student.items()}})
    teacher = evaluate_teacher(args.teacher_run)
    emit({"event": "teacher", **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in teacher.items()}})
    gap = student["velocity_rmsd"] - teacher["velocity_rmsd"]
    emit({"event": "summary", "velocity_rmsd_gap": round(gap, 4), "student_fall_rate": round(student["fall_rate"], 4),
          "gap_met": gap <= 0.03, "fall_rate_met": student["fall_rate"] <= 0.02})


if __name__ == "__main__":
    main()
