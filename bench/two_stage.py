"""Demonstrations + two-stage training vs PPO from scratch, on go1_flat.

From a walking go1_flat run (``--teacher-run``), collect ``--demo-steps`` of demonstrations with
collect.py, then train ``go1_flat_pretrained`` (behaviour cloning of them, then PPO) and plain
``go1_flat`` from scratch with the same seed and envs, one after the other (each alone on the
machine). Every ``--eval-every`` iterations each run prints a JSON line with its training
wall-clock (evaluation excluded; pretraining included) and the standard evaluation; a run stops at
velocity_rmsd <= ``--target`` or after ``--minutes``. The last line compares the two.

    python bench/two_stage.py --teacher-run logs/go1_flat/<run> [--demo-steps 200000] [--minutes 12]

Target (issue 8, 2-core CPU): the pretrained run reaches velocity_rmsd <= 0.25 in at most half the
wall-clock of the scratch run.

``--fine-tune VARIANT ...`` measures instead whether PPO keeps what pretraining gave (issue 23): for
each variant of the fine-tuning options (``VARIANTS``), go1_flat_pretrained is evaluated at the end
of pretraining and every ``--eval-every`` iterations of the next ``--ppo-iterations`` of PPO. Target: the
velocity_rmsd never gets worse than its value at the end of pretraining plus 0.02, and ends below it.

    python bench/two_stage.py --teacher-run logs/go1_flat/<run> --fine-tune task plain warmup anchor warmup_anchor

(``task``: go1_flat_pretrained's own settings, a 10-iteration critic warm-up and an anchor of 10
decaying over 300 iterations: within the margin on seeds 0 and 1, below the start at the end on seed
0 only; the others start from plain PPO.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench_runs import build_run, emit  # noqa: E402
from legged_train.evaluation import standard_evaluation  # noqa: E402


def collect(teacher_run: str, save_dir: str, steps: int) -> float:
    """collect.py from the teacher's latest checkpoint; returns its wall-clock."""
    started = time.time()
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "collect.py"), "--task", "go1_flat", "--load-run", teacher_run,
         "--save-dir", save_dir, "--min-timesteps", str(steps), "--quiet"],
        check=True, cwd=ROOT,
    )
    return time.time() - started


# Fine-tuning options of PPOConfig tried by --fine-tune (issue 23).
MARGIN = 0.02  # velocity_rmsd PPO may lose, at worst, against the end of pretraining
# Each variant is applied over plain PPO (PLAIN), not over go1_flat_pretrained's own fine-tuning
# settings ("task": those, as a user gets them).
PLAIN = {"critic_warmup_iterations": 0, "anchor_coef": 0.0, "anchor_iterations": 100}
VARIANTS = {
    "task": None,
    "plain": {},
    "warmup": {"critic_warmup_iterations": 10},
    "anchor": {"anchor_coef": 1.0, "anchor_iterations": 100},
    "warmup_anchor": {"critic_warmup_iterations": 10, "anchor_coef": 1.0, "anchor_iterations": 100},
    # At 1.0 the anchor's pull (squared action distances of ~1e-2) is small beside PPO's surrogate.
    "warmup_anchor10": {"critic_warmup_iterations": 10, "anchor_coef": 10.0, "anchor_iterations": 100},
    # The anchor still pulling at the end of the 100 iterations (weight 10 -> 6.7).
    "warmup_anchor10_long": {"critic_warmup_iterations": 10, "anchor_coef": 10.0, "anchor_iterations": 300},
    # Smaller steps: PPO's adaptive learning rate aims at a KL of 0.003 a minibatch, not 0.01.
    "warmup20_small_kl": {"critic_warmup_iterations": 20, "desired_kl": 0.003},
    "warmup20_small_kl_anchor10": {"critic_warmup_iterations": 20, "desired_kl": 0.003, "anchor_coef": 10.0,
                                   "anchor_iterations": 200},
    # Less exploration noise: the rollouts PPO learns from are closer to the deterministic policy evaluated.
    "warmup_std02_anchor10": {"critic_warmup_iterations": 10, "init_noise_std": 0.2, "anchor_coef": 10.0,
                              "anchor_iterations": 200},
    "frozen_normalization": {"freeze_obs_normalization": True},
    "warmup_frozen": {"critic_warmup_iterations": 10, "freeze_obs_normalization": True},
}


def learn_and_evaluate(env, runner, iterations: int, train_seconds: float, **fields) -> tuple[dict, float]:
    """``iterations`` of training, then the standard evaluation, emitted; the evaluation and the training wall-clock."""
    started = time.time()
    runner.learn(num_learning_iterations=iterations)
    train_seconds += time.time() - started
    evaluation = {name: round(value, 4) for name, value in standard_evaluation(env, runner.get_inference_policy()).items()}
    runner.train_mode()
    pretraining = runner.iteration <= getattr(runner.cfg, "pretrain_iterations", 0)
    emit({"event": "progress", **fields, "iteration": runner.iteration, "pretraining": pretraining,
          "train_wall_clock_s": round(train_seconds, 1), "env_steps": runner.total_timesteps, **evaluation})
    return evaluation, train_seconds


def fine_tune(variant: str, args, demos: str) -> dict:
    """go1_flat_pretrained with a VARIANTS entry: velocity_rmsd at the end of pretraining, its worst
    and its last over the next ``--ppo-iterations`` of PPO."""
    options = {} if VARIANTS[variant] is None else {**PLAIN, **VARIANTS[variant]}
    env, runner = build_run("go1_flat_pretrained", args.seed, args.eval_every, os.path.join(args.out, variant),
                            train_overrides={"pretrain_dataset.data_dir": demos, **options})
    pretrained, seconds = learn_and_evaluate(env, runner, runner.cfg.pretrain_iterations, 0.0, variant=variant)
    curve = []
    for _ in range(0, args.ppo_iterations, args.eval_every):
        evaluation, seconds = learn_and_evaluate(env, runner, args.eval_every, seconds, variant=variant)
        curve.append(evaluation["velocity_rmsd"])
    runner.close()
    env.close()
    start = pretrained["velocity_rmsd"]
    as_run = {name: getattr(runner.cfg, name) for name in {**PLAIN, **options}}
    return {"event": "fine_tune", "variant": variant, "options": as_run, "end_of_pretraining": start,
            "worst": max(curve), "last": curve[-1], "curve": curve,
            "met": max(curve) <= start + MARGIN and curve[-1] < start}


def train_until(task_name: str, args, run_dir: str, train_overrides: dict) -> dict:
    """Train ``task_name`` from scratch until the standard evaluation reaches the target; returns the summary."""
    env, runner = build_run(task_name, args.seed, args.eval_every, run_dir, train_overrides=train_overrides)
    train_seconds, reached = 0.0, None
    while train_seconds < args.minutes * 60.0:
        evaluation, train_seconds = learn_and_evaluate(env, runner, args.eval_every, train_seconds, task=task_name)
        if evaluation["velocity_rmsd"] <= args.target:
            reached = {"iteration": runner.iteration, "train_wall_clock_s": round(train_seconds, 1),
                       "env_steps": runner.total_timesteps, **evaluation}
            break
    runner.close()
    env.close()
    return {"task": task_name, "reached_target": reached, "train_wall_clock_s": round(train_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher-run", help="a walking go1_flat run folder (or its name under logs/go1_flat)")
    parser.add_argument("--demo-steps", type=int, default=200_000)
    parser.add_argument("--minutes", type=float, default=12.0, help="training wall-clock budget per run")
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.25, help="velocity_rmsd to reach (m/s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fine-tune", nargs="+", choices=list(VARIANTS), help="measure these fine-tuning variants instead")
    parser.add_argument("--ppo-iterations", type=int, default=100, help="--fine-tune: PPO iterations after pretraining")
    parser.add_argument("--demos", help="a demonstrations folder to use instead of collecting one")
    parser.add_argument("--out", default=os.path.join(ROOT, "logs", "bench_two_stage", time.strftime("%Y-%m-%d_%H-%M-%S")))
    args = parser.parse_args()
    if not args.demos and not args.teacher_run:
        parser.error("--teacher-run (to collect demonstrations from) or --demos is required")

    demos, collection_s = args.demos, 0.0
    if demos is None:
        demos = os.path.join(args.out, "demos")
        collection_s = collect(args.teacher_run, demos, args.demo_steps)
        emit({"event": "demonstrations", "dir": demos, "steps": args.demo_steps, "collection_wall_clock_s": round(collection_s, 1)})
    if args.fine_tune:
        for variant in args.fine_tune:
            emit(fine_tune(variant, args, demos))
        return

    pretrained = train_until("go1_flat_pretrained", args, os.path.join(args.out, "pretrained"),
                             {"pretrain_dataset.data_dir": demos})
    emit({"event": "run", **pretrained})
    scratch = train_until("go1_flat", args, os.path.join(args.out, "scratch"), {})
    emit({"event": "run", **scratch})

    summary = {"event": "summary", "target_velocity_rmsd": args.target, "collection_wall_clock_s": round(collection_s, 1)}
    if pretrained["reached_target"] and scratch["reached_target"]:
        p, s = pretrained["reached_target"]["train_wall_clock_s"], scratch["reached_target"]["train_wall_clock_s"]
        summary.update({
            "pretrained_s": p, "scratch_s": s, "ratio": round(p / s, 3),
            "ratio_with_collection": round((p + collection_s) / s, 3),
            "pretrained_iterations": pretrained["reached_target"]["iteration"],
            "scratch_iterations": scratch["reached_target"]["iteration"],
        })
    emit(summary)


if __name__ == "__main__":
    main()
