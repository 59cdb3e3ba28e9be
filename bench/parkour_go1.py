"""Parkour on go1 (issue 24): a terrain-aware teacher, then a depth student and a blind student
distilled from it for the same wall-clock (Robot Parkour's pipeline, on a CPU).

Stages (``bench/rough_go1.py``'s machinery: a JSON line every ``--eval-every`` iterations with the
training wall-clock, env steps, mean terrain level and peak RSS; the course every
``--course-every-minutes`` and at the end):

1. ``go1_parkour_teacher`` (PPO, actor with the terrain scan and privileged terms) from scratch for
   ``--minutes``;
2. ``go1_parkour_depth`` (depth camera + proprioception, CNN + GRU) distilled from it by online DAgger
   for ``--student-minutes``;
3. ``go1_parkour_blind`` (proprioception, GRU), the control, the same.

The course here is ``legged_train/course.py``'s on the obstacle types (hurdles, gaps, boxes) and
flat and rough ground, at its difficulties 0.2, 0.4, 0.6, 0.8. The last line checks the targets:

- the depth student reaches at least 0.8 of the teacher's success on each obstacle type (success
  averaged over the type's bins);
- the blind student is clearly worse than the depth student on gaps and on hurdles (by at least
  ``CLEARLY`` = 0.1 of success): the camera must matter;
- the teacher's and the depth student's training together within 3 hours.

    python bench/parkour_go1.py [--minutes 120] [--student-minutes 60] [--stages teacher depth blind]
    python bench/parkour_go1.py --stages depth blind --teacher-run logs/bench_parkour/<run>/teacher
    python bench/parkour_go1.py --stages teacher --continue-run logs/bench_parkour/<run>/teacher --minutes 120
    python bench/parkour_go1.py --quick     # a smoke test of the script: tiny settings
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rough_go1 import QUICK_ENV as ROUGH_QUICK_ENV  # noqa: E402
from rough_go1 import (QUICK_PPO, QUICK_STUDENT, ROOT, add_continue_run, check_continue_run, emit,  # noqa: E402
                       latest_checkpoint, recorded_course, run_stage)

from legged_train.course import CourseConfig  # noqa: E402

STAGES = ("teacher", "depth", "blind")
TASKS = {"teacher": "go1_parkour_teacher", "depth": "go1_parkour_depth", "blind": "go1_parkour_blind"}
OBSTACLES = ("hurdles", "gaps", "boxes")
COURSE_TYPES = ("flat", "rough", *OBSTACLES)
DEPTH_SHARE = 0.8  # of the teacher's success, per obstacle type
CLEARLY = 0.1  # success the blind student must trail the depth student by, on gaps and hurdles
PIPELINE_HOURS = 3.0
QUICK_ENV = {**ROUGH_QUICK_ENV, "depth_camera.width": 32, "depth_camera.height": 24}


def type_success(course: dict, name: str) -> float:
    """A type's success rate averaged over the course's bins."""
    bins = course["cells"][name]
    return sum(cell["success_rate"] for cell in bins.values()) / len(bins)


def summary(courses: dict, minutes: dict) -> dict:
    result: dict = {"event": "summary"}
    met = []
    for stage, course in courses.items():
        result[f"{stage}_success"] = {name: round(type_success(course, name), 3) for name in COURSE_TYPES}
    if "teacher" in courses and "depth" in courses:
        shares = {name: (type_success(courses["depth"], name) / type_success(courses["teacher"], name)
                         if type_success(courses["teacher"], name) > 0 else None) for name in OBSTACLES}
        result["depth_share_of_teacher"] = {name: None if v is None else round(v, 3) for name, v in shares.items()}
        met.append(all(v is not None and v >= DEPTH_SHARE for v in shares.values()))
    if "depth" in courses and "blind" in courses:
        leads = {name: round(type_success(courses["depth"], name) - type_success(courses["blind"], name), 3) for name in ("gaps", "hurdles")}
        result["depth_lead_over_blind"] = leads
        met.append(all(v >= CLEARLY for v in leads.values()))
    if "teacher" in minutes and "depth" in minutes:
        result["pipeline_hours"] = round((minutes["teacher"] + minutes["depth"]) / 60.0, 2)
        met.append(result["pipeline_hours"] <= PIPELINE_HOURS)
    result["targets_met"] = bool(met) and all(met)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=120.0, help="training wall-clock of the teacher")
    parser.add_argument("--student-minutes", type=float, default=60.0, help="distillation wall-clock of each student")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--teacher-run", help="a go1_parkour_teacher run folder (its latest checkpoint) for the students")
    add_continue_run(parser)
    parser.add_argument("--max-iterations", type=int, default=100_000, help="per stage")
    parser.add_argument("--eval-every", type=int, default=10, help="iterations between progress lines")
    parser.add_argument("--course-every-minutes", type=float, default=30.0, help="training minutes between courses")
    parser.add_argument("--num-envs", type=int, help="default: the tasks' (teacher 1024, students 256)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny settings to smoke-test the script (2 iterations each)")
    parser.add_argument("--out", default=os.path.join(ROOT, "logs", "bench_parkour", time.strftime("%Y-%m-%d_%H-%M-%S")))
    args = parser.parse_args()
    env_overrides, ppo_overrides, student_overrides = {}, {}, {}
    course_cfg = CourseConfig(types=COURSE_TYPES)
    if args.quick:
        env_overrides, ppo_overrides, student_overrides = QUICK_ENV, QUICK_PPO, QUICK_STUDENT
        args.max_iterations, args.eval_every = 2, 1
        course_cfg = CourseConfig(types=COURSE_TYPES, bins=2, envs_per_cell=4, duration_s=1.0)
    students = [s for s in args.stages if s != "teacher"]
    if students and "teacher" not in args.stages and not args.teacher_run:
        parser.error(f"--stages {' '.join(students)} without teacher needs --teacher-run")
    check_continue_run(parser, args)

    courses, minutes = {}, {}
    teacher_checkpoint = None
    if args.teacher_run:
        teacher_checkpoint = latest_checkpoint(parser, args.teacher_run, "--teacher-run")
        recorded = recorded_course(args.teacher_run)  # this script's teacher stage wrote it
        if "teacher" not in args.stages and recorded is not None:
            courses["teacher"] = recorded
            if "train_wall_clock_s" in recorded:
                minutes["teacher"] = recorded["train_wall_clock_s"] / 60.0
    for stage in [s for s in STAGES if s in args.stages]:
        if stage == "teacher":
            overrides, minutes[stage] = ppo_overrides, args.minutes
        else:
            overrides, minutes[stage] = {**student_overrides, "teacher_checkpoint": teacher_checkpoint}, args.student_minutes
        courses[stage], checkpoint = run_stage(stage, args, args.out, course_cfg, env_overrides, overrides, minutes[stage],
                                               task_name=TASKS[stage], continued=args.continue_run)
        if stage == "teacher":
            teacher_checkpoint = checkpoint
    emit(summary(courses, minutes))
    out = os.path.dirname(os.path.abspath(args.continue_run)) if args.continue_run else args.out  # the run's folder
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary(courses, minutes), f, indent=1)


if __name__ == "__main__":
    main()
