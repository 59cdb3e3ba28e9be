"""Train go1_flat from scratch and report progress as JSON lines.

Every ``--eval-every`` iterations it prints one line with the training wall-clock (evaluation time
excluded), env steps, end-to-end training steps/s, the latest episode statistics and the standard
evaluation (velocity_rmsd, yaw_rate_rmsd, cost_of_transport, fall_rate). The first line holds the
env-only throughput at the same number of envs (random actions, resets included), so the training
throughput can be read as a fraction of it, and how many cores the env keeps busy; every progress line
has the wall-clock of the rollouts and the updates so far and the cores each kept busy (CPU time over
wall-clock, every thread), to see what overlapping them could gain. Stops after ``--minutes`` of training wall-clock or
``--max-iterations``, whichever comes first, and saves the final checkpoint in the run directory.
``--continue-run`` trains a run of this script on from its last progress line (the checkpoint of
that iteration and the training wall-clock so far, kept in ``bench_progress.json``) up to
``--minutes`` in all, so a long run can be split over sittings.

    python bench/train_go1.py [--minutes 15] [--num-envs 1024] [--eval-every 50] \
        [--set train.learning_rate=5e-4 env.rewards.weights.feet_air_time=0.5]
    python bench/train_go1.py --device cuda --num-envs 4096 --minutes 5 --eval-every 25
    python bench/train_go1.py --task g1_flat --minutes 90 --continue-run logs/g1_flat_bench/<run>

Targets (issue 3, 2-core CPU): velocity_rmsd <= 0.25 m/s and fall_rate <= 0.02 within 15 minutes;
training steps/s >= 0.6 x env-only steps/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from legged_train.envs.threads import torch_threads  # noqa: E402
from legged_train.checkpoint import set_seed  # noqa: E402
from legged_train.demonstrations.files import write_json_atomic  # noqa: E402
from legged_train.config import apply_overrides, resolve_device, split_env_train_overrides  # noqa: E402
from legged_train.evaluation import standard_evaluation  # noqa: E402
from legged_train.runners.on_policy_runner import OnPolicyRunner  # noqa: E402
from legged_train.tasks import get_task  # noqa: E402


def env_only_throughput(env, threads: int, steps: int = 50, rounds: int = 5) -> float:
    """Policy steps/s of the env alone, as bench/env_throughput.py measures it: actions like an
    untrained policy's (falls and resets included), torch on the rollout's threads, median round."""
    generator = torch.Generator().manual_seed(0)
    actions = [torch.randn(env.num_envs, env.num_actions, generator=generator) for _ in range(steps)]
    rates = []
    with torch.inference_mode(), torch_threads(threads):
        for a in actions[:5]:  # warm-up
            env.step(a)
        for _ in range(rounds):
            start = time.perf_counter()
            for a in actions:
                env.step(a)
            rates.append(env.num_envs * steps / (time.perf_counter() - start))
        env.reset()
    return statistics.median(rates)


class PhaseClock:
    """Wall-clock and process CPU time (every thread's) spent in the rollouts and in the updates,
    from the runner's callbacks. Cores busy = CPU time / wall-clock: on N cores, (N - cores busy) x
    wall-clock is what an idle core could have taken on (work overlapped with that phase)."""

    PHASES = ("rollout", "update")

    def __init__(self, runner) -> None:
        self.wall = dict.fromkeys(self.PHASES, 0.0)
        self.cpu = dict.fromkeys(self.PHASES, 0.0)
        self._started = (0.0, 0.0)
        for phase in self.PHASES:
            runner.add_callback(f"pre_{phase}", lambda *_: self._start())
            runner.add_callback(f"post_{phase}", lambda *_, phase=phase: self._stop(phase))

    def _start(self) -> None:
        self._started = (time.perf_counter(), time.process_time())

    def _stop(self, phase: str) -> None:
        self.wall[phase] += time.perf_counter() - self._started[0]
        self.cpu[phase] += time.process_time() - self._started[1]

    def figures(self) -> dict:
        return {f"{phase}_{what}": round(value, 2) for phase in self.PHASES
                for what, value in (("wall_s", self.wall[phase]), ("cores_busy", self.cpu[phase] / max(self.wall[phase], 1e-9)))}


PROGRESS_FILE = "bench_progress.json"  # the last progress line, beside the checkpoint of its iteration


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def continued_progress(parser: argparse.ArgumentParser, run_dir: str) -> tuple[dict, str]:
    """The last progress line a run of this script recorded and the checkpoint of its iteration;
    a parser error when the folder lacks either."""
    try:
        with open(os.path.join(run_dir, PROGRESS_FILE)) as f:
            progress = json.load(f)
    except (OSError, ValueError) as err:
        parser.error(f"--continue-run {run_dir!r}: no readable {PROGRESS_FILE} of this script ({err})")
    checkpoint = os.path.join(run_dir, f"model_{progress['iteration']}.pt")
    if not os.path.isfile(checkpoint):
        parser.error(f"--continue-run {run_dir!r}: its progress is at iteration {progress['iteration']} but "
                     f"{os.path.basename(checkpoint)} is missing")
    return progress, checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="go1_flat")
    parser.add_argument("--num-envs", type=int, help="default: the task's")
    parser.add_argument("--minutes", type=float, default=15.0, help="training wall-clock budget")
    parser.add_argument("--max-iterations", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=50, help="iterations between standard evaluations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (on CUDA the physics runs on MuJoCo Warp)")
    parser.add_argument("--torch-threads", type=int, help="torch threads for acting/learning (train.torch_threads)")
    parser.add_argument("--log-root", default=os.path.join(ROOT, "logs"))
    parser.add_argument("--continue-run", help="a run folder of this script to train on, up to --minutes in all")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="env.<field>=... or train.<field>=... as in train.py")
    args = parser.parse_args()
    progress, checkpoint = continued_progress(parser, args.continue_run) if args.continue_run else ({}, None)

    task = get_task(args.task)
    env_cfg, train_cfg = task.env_cfg, task.train_cfg
    # eval_interval 0: the runner's own periodic evaluation (go1_flat's every 50 iterations, on a second
    # env) would run inside learn() and count as training wall-clock; this script evaluates outside it.
    env_overrides = {"seed": args.seed}
    train_overrides = {"seed": args.seed, "log_interval": args.eval_every, "eval_interval": 0}
    if args.num_envs is not None:
        env_overrides["num_envs"] = args.num_envs
    if args.torch_threads is not None:
        train_overrides["torch_threads"] = args.torch_threads
    try:
        env_set, train_set = split_env_train_overrides(args.set)
    except ValueError as err:
        parser.error(str(err))
    env_overrides.update(env_set)
    train_overrides.update(train_set)
    apply_overrides(env_cfg, env_overrides)
    apply_overrides(train_cfg, train_overrides)

    set_seed(args.seed)
    device = resolve_device(args.device)
    env = task.make_env(env_cfg, device)
    run_dir = args.continue_run or os.path.join(args.log_root, f"{task.name}_bench", time.strftime("%Y-%m-%d_%H-%M-%S"))
    runner = OnPolicyRunner(env, cfg=train_cfg, log_dir=run_dir, device=device)
    runner.run_config.update({"task": task.name, "command": " ".join(sys.argv)})

    wall, cpu = time.perf_counter(), time.process_time()
    env_rate = env_only_throughput(env, train_cfg.rollout_torch_threads)
    env_only_cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    if checkpoint:  # after the env-only measurement, which steps and resets the env
        runner.load(checkpoint)
    clock = PhaseClock(runner)
    emit({
        "event": "start",
        "task": task.name,
        "num_envs": env.num_envs,
        "device": str(device),
        "physics": type(env.sim).__name__,
        "steps_per_iteration": env.num_envs * train_cfg.num_steps_per_env,
        "env_only_steps_per_s": round(env_rate),
        "env_only_cores_busy": round(env_only_cores, 2),
        "torch_threads": torch.get_num_threads() if train_cfg.torch_threads == 0 else train_cfg.torch_threads,
        "rollout_torch_threads": train_cfg.rollout_torch_threads,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "run_dir": run_dir,
        "continued_from_iteration": progress.get("iteration"),
    })

    budget_s = args.minutes * 60.0
    train_seconds = progress.get("train_wall_clock_s", 0.0)
    bench_started = time.time()
    last_stats: dict[str, float] = {}
    while runner.iteration < args.max_iterations and train_seconds < budget_s:
        chunk = min(args.eval_every, args.max_iterations - runner.iteration)
        started = time.time()
        last_stats = runner.learn(num_learning_iterations=chunk)
        train_seconds += time.time() - started
        evaluation = standard_evaluation(env, runner.get_inference_policy())
        runner.train_mode()
        progress = {
            "event": "progress",
            "iteration": runner.iteration,
            "train_wall_clock_s": round(train_seconds, 1),
            "total_wall_clock_s": round(time.time() - bench_started, 1),
            "env_steps": runner.total_timesteps,
            "train_steps_per_s": round(runner.total_timesteps / train_seconds),
            "train_vs_env_only": round(runner.total_timesteps / train_seconds / env_rate, 3),
            "episode_mean_reward": last_stats.get("episode/mean_reward"),
            "episode_mean_length": last_stats.get("episode/mean_length"),
            "learning_rate": last_stats.get("train/learning_rate"),
            "action_std": last_stats.get("train/action_std"),
            **{name: round(value, 4) for name, value in evaluation.items()},
            **clock.figures(),
        }
        emit(progress)
        write_json_atomic(os.path.join(run_dir, PROGRESS_FILE), progress)
    final = os.path.join(run_dir, f"model_{runner.iteration}.pt")  # learn() saves at the end of each call
    runner.close()
    emit({"event": "done", "iteration": runner.iteration, "train_wall_clock_s": round(train_seconds, 1), "checkpoint": final})


if __name__ == "__main__":
    main()
