"""The robot library's benchmark (issue 22): for each robot's flat task, the env against bare physics
and the training wall-clock to a walk.

For each task, in turn and alone:

1. ``bench/env_throughput.py --task <task>``: env steps/s against the bare backend stepping the same
   model, same run (target: ratio >= 0.85);
2. ``bench/train_go1.py --task <task>`` for ``--minutes`` (the task's own minutes by default:
   10 for the quadrupeds, 60 for the humanoids), its standard evaluation every ``--eval-every``
   iterations: the curve, and the first training wall-clock at which velocity_rmsd and fall_rate
   meet the robot's target (quadrupeds: <= 0.25 m/s and <= 0.02; humanoids: <= 0.3 and <= 0.05).

Every line of the two scripts is passed through (prefixed with the task), then one summary line per
task and one for all.

    python bench/robots.py [--tasks go2_flat spot_flat g1_flat berkeley_humanoid_flat] [--minutes M]
    python bench/robots.py --quick      # a smoke test of the script: tiny settings, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# task -> (training minutes, velocity_rmsd target m/s, fall_rate target)
TARGETS = {
    "go2_flat": (10.0, 0.25, 0.02),
    "spot_flat": (10.0, 0.25, 0.02),
    "g1_flat": (60.0, 0.3, 0.05),
    "berkeley_humanoid_flat": (60.0, 0.3, 0.05),
}
THROUGHPUT_TARGET = 0.85


def run(script: str, args: list[str], task: str) -> list[dict]:
    """Run a bench script; echo and return its JSON lines."""
    process = subprocess.run([sys.executable, os.path.join(ROOT, "bench", script), *args], capture_output=True, text=True)
    records = []
    for line in process.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records.append(record)
            print(json.dumps({"task": task, **record}), flush=True)
    if process.returncode != 0:
        raise SystemExit(f"bench/{script} for {task} failed (exit {process.returncode}):\n{process.stderr[-2000:]}")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--minutes", type=float, help="training wall-clock per task (default: the task's, see TARGETS)")
    parser.add_argument("--eval-every", type=int, default=25, help="iterations between standard evaluations")
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="tiny settings to smoke-test the script")
    args = parser.parse_args()
    throughput_args = ["--num-envs", str(args.num_envs)]
    train_args = ["--num-envs", str(args.num_envs), "--eval-every", str(args.eval_every)]
    if args.quick:
        throughput_args = ["--num-envs", "8", "--rounds", "1", "--steps", "2"]
        train_args = ["--num-envs", "8", "--eval-every", "1", "--max-iterations", "1",
                      "--set", "train.num_steps_per_env=4", "env.sim.num_threads=1"]

    summaries = []
    for task in args.tasks:
        minutes, rmsd_target, fall_target = TARGETS[task]
        minutes = args.minutes if args.minutes is not None else minutes
        (throughput,) = [r for r in run("env_throughput.py", ["--task", task, *throughput_args], task) if "ratio" in r] or [{}]
        progress = [r for r in run("train_go1.py", ["--task", task, "--minutes", str(minutes), *train_args], task)
                    if r.get("event") == "progress"]
        reached = next((r for r in progress if r["velocity_rmsd"] <= rmsd_target and r["fall_rate"] <= fall_target), None)
        last = progress[-1] if progress else {}
        summary = {
            "event": "robot_summary", "task": task, "minutes": minutes,
            "throughput_ratio": throughput.get("ratio"), "throughput_met": (throughput.get("ratio") or 0) >= THROUGHPUT_TARGET,
            "targets": {"velocity_rmsd": rmsd_target, "fall_rate": fall_target},
            "reached_at_train_s": None if reached is None else reached["train_wall_clock_s"],
            "final": {name: last.get(name) for name in ("iteration", "train_wall_clock_s", "velocity_rmsd", "fall_rate")},
            "curve": [[r["train_wall_clock_s"], r["velocity_rmsd"], r["fall_rate"]] for r in progress],
        }
        summary["met"] = summary["throughput_met"] and reached is not None
        summaries.append(summary)
        print(json.dumps(summary), flush=True)
    print(json.dumps({"event": "summary", "met": {s["task"]: s["met"] for s in summaries}}), flush=True)


if __name__ == "__main__":
    main()
