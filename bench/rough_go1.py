"""Rough terrain on go1 (issue 21): blind PPO, a height-scan teacher, and a blind student distilled from it.

Three stages, each a JSON line per ``--eval-every`` iterations and a course at intervals:

1. ``go1_rough`` (PPO, blind actor, critic with the height scan) from scratch for ``--minutes`` of
   training wall-clock (evaluations excluded);
2. ``go1_rough_teacher`` (actor with the height scan and privileged terms) from scratch, the same budget;
3. ``go1_rough_student`` (recurrent, blind) distilled from that teacher by online DAgger for
   ``--student-minutes``;
4. (``--stages student_ppo``, not by default) ``go1_rough_student_ppo``: that student (or
   ``--student-run``'s) fine-tuned by PPO for ``--finetune-minutes`` (``--teacher-coef``:
   ``go1_rough_student_ppo_teacher``, pulled towards the teacher's actions all along); its course is reported beside the distilled student's,
   which the targets judge.

Every ``--eval-every`` iterations: the training wall-clock, env steps, the curriculum's mean terrain
level (the curve of level against wall-clock) and the process's peak RSS. Every
``--course-every-minutes`` of training and at the end of a stage: the terrain evaluation course
(``legged_train/course.py``: every sub-terrain type at difficulties 0.2, 0.4, 0.6, 0.8; success = 4 m
along the heading within 10 s without falling), as success rates per type and difficulty. The last line
checks the targets on the final courses:

- go1_rough and the teacher: success >= 0.9 on slopes up to 0.3 rad, up and down (the course's bins of
  0.08, 0.16 and 0.24 rad) and on random roughness up to 5 cm (every bin: 1.8 to 4.2 cm);
- the teacher: success >= 0.7 on stairs of 10 cm, up and down: measured at 10 cm by a course of the
  two stair types alone (``StairsCourse``, 16 robots each: 10 cm lies between the course's bins of
  8.6 and 12.2 cm), at every course; the 12.2 cm bin is reported beside it;
- the student: within 0.1 of the teacher's success on every type (and bin) where the teacher succeeds
  (success >= 0.7), and ahead of go1_rough on stairs (mean over both stair types and all bins).

    python bench/rough_go1.py [--minutes 45] [--student-minutes 15] [--stages rough teacher student]
    python bench/rough_go1.py --stages student --teacher-run logs/bench_rough/<run>/teacher
    python bench/rough_go1.py --stages student --teacher-run <teacher> --continue-run <run>/student --student-minutes 30
    python bench/rough_go1.py --stages student_ppo --teacher-run <teacher> --student-run <run>/student --rough-run <run>/rough
    python bench/rough_go1.py --stages student_ppo --teacher-coef 1 --teacher-run <teacher> --student-run <run>/student
    python bench/rough_go1.py --quick     # a smoke test of the script: tiny settings, seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench_runs import build_run, emit  # noqa: E402
from legged_train.checkpoint import list_checkpoints  # noqa: E402
from legged_train.course import CourseConfig, course_evaluation, write_heat_map  # noqa: E402
from legged_train.envs.terrain import SubTerrainParams  # noqa: E402
from legged_train.evaluation import standard_evaluation  # noqa: E402

SLOPE_MAX = 0.3  # rad
ROUGH_MAX = 0.05  # m
STAIR_HEIGHT = 0.10  # m
EASY_SUCCESS = 0.9
TEACHER_STAIRS_SUCCESS = 0.7
STUDENT_GAP = 0.1
TEACHER_SUCCEEDS = 0.7  # a (type, bin) where the teacher "succeeds"
STAGES = ("rough", "teacher", "student", "student_ppo")
DEFAULT_STAGES = ["rough", "teacher", "student"]  # the pipeline; student_ppo on request
TASKS = {"rough": "go1_rough", "teacher": "go1_rough_teacher", "student": "go1_rough_student",
         "student_ppo": "go1_rough_student_ppo"}
# --quick: tiny envs, terrain, networks and course, for checking that the script runs end to end.
QUICK_ENV = {"num_envs": 20, "sim.num_threads": 1, "terrain.num_rows": 2}
QUICK_PPO = {"num_steps_per_env": 4, "actor_cfg.hidden_dims": [16], "critic_cfg.hidden_dims": [16]}
QUICK_STUDENT = {"num_steps_per_env": 4, "num_mini_batches": 2, "actor_cfg.rnn_hidden_dim": 8, "actor_cfg.hidden_dims": [8]}
QUICK_STUDENT_PPO = {**QUICK_PPO, **{key: value for key, value in QUICK_STUDENT.items() if key.startswith("actor_cfg")}}


@dataclasses.dataclass
class StairsCourse(CourseConfig):
    """The course's stairs, up and down, at one riser height: the target's 10 cm lies between the
    course's bins (8.6 and 12.2 cm), so it is also measured where it is, with twice the robots a cell."""

    step_height: float = STAIR_HEIGHT
    types: tuple[str, ...] = ("stairs_up", "stairs_down")
    bins: int = 1
    envs_per_cell: int = 16

    def difficulties(self) -> list[float]:
        low, high = SubTerrainParams().step_height
        return [(self.step_height - low) / (high - low)]

    def terrain_config(self):
        d = self.difficulties()[0]
        return dataclasses.replace(super().terrain_config(), difficulty_range=(d, d))


def stairs_at_target(env, policy, course_cfg: StairsCourse) -> dict:
    """{stairs type: success rate} at ``course_cfg.step_height``."""
    result = course_evaluation(env, policy, course_cfg)
    return {name: round(cell["success_rate"], 3) for name, bins in result["cells"].items() for cell in bins.values()}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kB


def success_table(course: dict) -> dict:
    """{type: {difficulty: success_rate}} of a course result."""
    return {name: {d: round(cell["success_rate"], 3) for d, cell in bins.items()} for name, bins in course["cells"].items()}


def run_stage(stage: str, args, out: str, course_cfg: CourseConfig, env_overrides: dict, train_overrides: dict,
              minutes: float, task_name: str | None = None, continued: str | None = None) -> tuple[dict, str]:
    """Train a stage (``task_name``, default ``TASKS[stage]``) until ``minutes`` of training; its final
    course and its last checkpoint. ``continued``: a stage folder of this script to go on from (its
    latest checkpoint, terrain levels included, and its recorded training wall-clock)."""
    run_dir = continued or os.path.join(out, stage)
    task_name = task_name or TASKS[stage]
    env, runner = build_run(task_name, args.seed, args.eval_every, run_dir, env_overrides, train_overrides, num_envs=args.num_envs)
    stairs_cfg = StairsCourse(envs_per_cell=2 * course_cfg.envs_per_cell, duration_s=course_cfg.duration_s)
    seconds = 0.0
    if continued:
        runner.load(list_checkpoints(continued)[-1])
        seconds = recorded_course(continued)["train_wall_clock_s"]
    emit({"event": "start", "stage": stage, "task": task_name, "num_envs": env.num_envs,
          "steps_per_iteration": env.num_envs * runner.cfg.num_steps_per_env, "run_dir": run_dir})

    def course(seconds: float) -> dict:
        started, policy = time.time(), runner.get_inference_policy()
        result = course_evaluation(env, policy, course_cfg)
        result["stairs_at_target"] = stairs_at_target(env, policy, stairs_cfg)
        runner.train_mode()
        emit({"event": "course", "stage": stage, "iteration": runner.iteration, "train_wall_clock_s": round(seconds, 1),
              "course_wall_clock_s": round(time.time() - started, 1), "success_rate": round(result["success_rate"], 3),
              "fall_rate": round(result["fall_rate"], 3), "success": success_table(result),
              f"stairs_{stairs_cfg.step_height * 100:g}cm": result["stairs_at_target"]})
        return result

    every = args.course_every_minutes * 60.0
    next_course = (seconds // every + 1) * every
    while seconds < minutes * 60.0 and runner.iteration < args.max_iterations:
        started = time.time()
        stats = runner.learn(num_learning_iterations=min(args.eval_every, args.max_iterations - runner.iteration))
        seconds += time.time() - started
        record = {"event": "progress", "stage": stage, "iteration": runner.iteration, "train_wall_clock_s": round(seconds, 1),
                  "env_steps": runner.total_timesteps, "train_steps_per_s": round(runner.total_timesteps / seconds),
                  "terrain_level": round(env.terrain_levels.float().mean().item(), 3),
                  "episode_mean_reward": stats.get("episode/mean_reward"),
                  "episode_mean_length": stats.get("episode/mean_length"), "peak_rss_mb": peak_rss_mb()}
        if "distill/teacher_act_prob" in stats:  # a distillation stage
            record.update(teacher_act_prob=stats.get("distill/teacher_act_prob"), action_loss=stats.get("distill/action_loss"))
        emit(record)
        if seconds >= next_course and seconds < minutes * 60.0:
            course(seconds)
            next_course += every
    final = course(seconds)
    write_heat_map(final, os.path.join(run_dir, f"course_model_{runner.iteration}.png"))
    flat = standard_evaluation(env, runner.get_inference_policy())
    emit({"event": "done", "stage": stage, "iteration": runner.iteration, "train_wall_clock_s": round(seconds, 1),
          "peak_rss_mb": peak_rss_mb(), **{name: round(value, 4) for name, value in flat.items()}})
    runner.close()
    env.close()
    with open(os.path.join(run_dir, "course_final.json"), "w") as f:
        json.dump({**final, "train_wall_clock_s": round(seconds, 1)}, f, indent=1)
    return final, os.path.join(run_dir, f"model_{runner.iteration}.pt")  # learn() saves at the end of each call


def bins_up_to(name: str, limit: float, course_cfg: CourseConfig) -> list[str]:
    """The course bins (as the result's keys) whose parameter of ``name`` is at most ``limit``."""
    params = SubTerrainParams()
    return [f"{d:.2f}" for d in course_cfg.difficulties() if SubTerrainParams.at(getattr(params, name), d) <= limit + 1e-9]


def first_bin_from(name: str, limit: float, course_cfg: CourseConfig) -> list[str]:
    params = SubTerrainParams()
    above = [f"{d:.2f}" for d in course_cfg.difficulties() if SubTerrainParams.at(getattr(params, name), d) >= limit - 1e-9]
    return above[:1]


def cells_min(course: dict, types: tuple[str, ...], bins: list[str]) -> float | None:
    rates = [course["cells"][t][b]["success_rate"] for t in types if t in course["cells"] for b in bins]
    return round(min(rates), 3) if rates else None


def cells_mean(course: dict, types: tuple[str, ...]) -> float:
    rates = [cell["success_rate"] for t in types for cell in course["cells"][t].values()]
    return round(sum(rates) / len(rates), 3)


def summary(courses: dict, course_cfg: CourseConfig) -> dict:
    slopes, stairs = ("slope_up", "slope_down"), ("stairs_up", "stairs_down")
    slope_bins, rough_bins = bins_up_to("slope", SLOPE_MAX, course_cfg), bins_up_to("rough_height", ROUGH_MAX, course_cfg)
    stair_bins = first_bin_from("step_height", STAIR_HEIGHT, course_cfg)
    result: dict = {"event": "summary", "slope_bins": slope_bins, "rough_bins": rough_bins, "stair_bins": stair_bins}
    met = []
    for stage in ("rough", "teacher"):
        if stage in courses:
            easy = min(cells_min(courses[stage], slopes, slope_bins), cells_min(courses[stage], ("rough",), rough_bins))
            result[f"{stage}_easy_min_success"] = easy
            met.append(easy >= EASY_SUCCESS)
    if "teacher" in courses:
        # Judged at 10 cm (StairsCourse); the next course bin up (12.2 cm) is reported beside it.
        at_target = courses["teacher"].get("stairs_at_target")
        result["teacher_stairs_success_at_10cm"] = at_target
        result["teacher_stairs_min_success_next_bin"] = cells_min(courses["teacher"], stairs, stair_bins)
        met.append(at_target is not None and min(at_target.values()) >= TEACHER_STAIRS_SUCCESS)
    if "teacher" in courses and "student" in courses:
        gap = result["student_max_gap_where_teacher_succeeds"] = max_gap(courses["teacher"], courses["student"])
        met.append(gap is None or gap <= STUDENT_GAP)
    if "rough" in courses and "student" in courses:
        result["stairs_mean_success"] = {"rough": cells_mean(courses["rough"], stairs), "student": cells_mean(courses["student"], stairs)}
        met.append(result["stairs_mean_success"]["student"] > result["stairs_mean_success"]["rough"])
    result["met"] = all(met)
    if "student_ppo" in courses:  # reported, not judged: the targets are the distilled student's
        if "teacher" in courses:
            result["student_ppo_max_gap_where_teacher_succeeds"] = max_gap(courses["teacher"], courses["student_ppo"])
        result["student_ppo_stairs_mean_success"] = cells_mean(courses["student_ppo"], stairs)
    return result


def max_gap(teacher: dict, student: dict) -> float | None:
    """The largest shortfall of ``student``'s success below ``teacher``'s over the course cells where the teacher succeeds."""
    gaps = [teacher["cells"][t][b]["success_rate"] - cell["success_rate"]
            for t, bins in student["cells"].items() for b, cell in bins.items()
            if teacher["cells"][t][b]["success_rate"] >= TEACHER_SUCCEEDS]
    return round(max(gaps), 3) if gaps else None


def recorded_course(stage_dir: str) -> dict | None:
    """The final course a stage of this script recorded in ``stage_dir`` (with its training
    wall-clock, ``train_wall_clock_s``); None if it recorded none."""
    path = os.path.join(stage_dir, "course_final.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def add_continue_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--continue-run", help="a stage folder of this script to train on, up to --minutes (a student: "
                        "--student-minutes) in all, from its latest checkpoint and recorded wall-clock (one stage in --stages)")


def check_continue_run(parser: argparse.ArgumentParser, args) -> None:
    """A parser error unless ``--continue-run`` (if given) names one stage's folder that a run of this script left."""
    if args.continue_run:
        if len(args.stages) != 1:
            parser.error(f"--continue-run goes on with one stage; got --stages {' '.join(args.stages)}")
        if recorded_course(args.continue_run) is None or not list_checkpoints(args.continue_run):
            parser.error(f"--continue-run {args.continue_run!r} holds no course_final.json and checkpoint of this script's stage")


def latest_checkpoint(parser: argparse.ArgumentParser, run_dir: str, option: str) -> str:
    """The absolute path of a run folder's newest checkpoint; a parser error when it has none."""
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        parser.error(f"{option} {run_dir!r} holds no model_<iteration>.pt checkpoint")
    return os.path.abspath(checkpoints[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=45.0, help="training wall-clock of go1_rough and of the teacher")
    parser.add_argument("--student-minutes", type=float, default=15.0, help="distillation wall-clock of the student")
    parser.add_argument("--finetune-minutes", type=float, default=15.0, help="PPO wall-clock of the student_ppo stage")
    parser.add_argument("--teacher-coef", type=float, default=0.0,
                        help="student_ppo: the weight of the pull towards the teacher's actions (PPOConfig.teacher_coef; 0: off)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=DEFAULT_STAGES)
    parser.add_argument("--teacher-run", help="a go1_rough_teacher run folder (its latest checkpoint) for the student stage")
    add_continue_run(parser)
    parser.add_argument("--rough-run", help="a go1_rough stage folder of this script whose final course the summary uses")
    parser.add_argument("--student-run", help="a student stage folder of this script whose final course the summary uses "
                        "(and whose latest checkpoint the student_ppo stage starts from)")
    parser.add_argument("--max-iterations", type=int, default=100_000, help="per stage")
    parser.add_argument("--eval-every", type=int, default=10, help="iterations between progress lines")
    parser.add_argument("--course-every-minutes", type=float, default=15.0, help="training minutes between courses")
    parser.add_argument("--num-envs", type=int, help="default: the tasks' (1024)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny settings to smoke-test the script (2 iterations each)")
    parser.add_argument("--out", default=os.path.join(ROOT, "logs", "bench_rough", time.strftime("%Y-%m-%d_%H-%M-%S")))
    args = parser.parse_args()
    env_overrides, ppo_overrides, student_overrides, student_ppo_overrides = {}, {}, {}, {}
    course_cfg = CourseConfig()
    if args.quick:
        env_overrides, ppo_overrides, student_overrides, student_ppo_overrides = QUICK_ENV, QUICK_PPO, QUICK_STUDENT, QUICK_STUDENT_PPO
        args.max_iterations, args.eval_every = 2, 1
        course_cfg = CourseConfig(bins=2, envs_per_cell=4, duration_s=1.0)
    if "student" in args.stages and "teacher" not in args.stages and not args.teacher_run:
        parser.error("--stages student without teacher needs --teacher-run")
    if "student_ppo" in args.stages and "student" not in args.stages and not args.student_run:
        parser.error("--stages student_ppo without student needs --student-run")
    if args.teacher_coef < 0:
        parser.error(f"--teacher-coef {args.teacher_coef!r} must be >= 0 (0: off)")
    if args.teacher_coef > 0 and "teacher" not in args.stages and not args.teacher_run:
        parser.error("--teacher-coef without the teacher stage needs --teacher-run")

    check_continue_run(parser, args)
    courses: dict = {}
    teacher_checkpoint = student_checkpoint = None
    if args.student_run and "student" not in args.stages:
        student_checkpoint = latest_checkpoint(parser, args.student_run, "--student-run")
    if args.teacher_run:
        teacher_checkpoint = latest_checkpoint(parser, args.teacher_run, "--teacher-run")
        recorded = recorded_course(args.teacher_run)  # this script's teacher stage wrote it
        if "teacher" not in args.stages and recorded is not None:
            courses["teacher"] = recorded
    for stage, stage_dir in (("rough", args.rough_run), ("student", args.student_run)):
        if stage_dir and stage not in args.stages:
            courses[stage] = recorded_course(stage_dir)
            if courses[stage] is None:
                parser.error(f"--{stage}-run {stage_dir!r} holds no course_final.json (a {stage} stage of this script writes it)")
    for stage in [s for s in STAGES if s in args.stages]:
        if stage == "student":
            overrides, minutes = {**student_overrides, "teacher_checkpoint": teacher_checkpoint}, args.student_minutes
        elif stage == "student_ppo":
            overrides, minutes = {**student_ppo_overrides, "init_actor_checkpoint": student_checkpoint}, args.finetune_minutes
            if args.teacher_coef > 0:
                overrides.update(teacher_coef=args.teacher_coef, teacher_checkpoint=teacher_checkpoint)
        else:
            overrides, minutes = ppo_overrides, args.minutes
        # The pull needs the teacher's observation group, which go1_rough_student_ppo's env lacks.
        task_name = "go1_rough_student_ppo_teacher" if stage == "student_ppo" and args.teacher_coef > 0 else None
        courses[stage], checkpoint = run_stage(stage, args, args.out, course_cfg, env_overrides, overrides, minutes,
                                               task_name=task_name, continued=args.continue_run)
        if stage == "teacher":
            teacher_checkpoint = checkpoint
        if stage == "student":
            student_checkpoint = checkpoint
    emit(summary(courses, course_cfg))


if __name__ == "__main__":
    main()
