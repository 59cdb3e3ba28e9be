"""Off-policy benchmark: DQN on CartPole-v1 and SAC on Pendulum-v1 with the registered task configs.

Trains the ``cartpole_dqn`` / ``pendulum_sac`` tasks as registered (their configs hold the tuned
hyperparameters), evaluates the deterministic policy on a separate env every ``--eval-every`` env
steps, and prints one JSON line per algorithm:

- target: mean return over 20 deterministic evaluation episodes >= 475 (CartPole) within 100k env
  steps, >= -200 (Pendulum) within 20k env steps;
- steps_to_target: env steps at the first evaluation that met it (null if none did);
- wall_seconds (training and evaluation), train_seconds and steps_per_s (training only).

By default a run stops at the first evaluation that meets the target; ``--full`` trains the whole
budget. Usage: ``python bench/offpolicy.py [--algo dqn|sac|all] [--seed 0] [--full]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from legged_train.runners.off_policy_runner import OffPolicyRunner  # noqa: E402
from legged_train.tasks import get_task  # noqa: E402

BENCHMARKS = {
    # name: (task, target mean eval return, env-step budget, eval every N env steps)
    "dqn": ("cartpole_dqn", 475.0, 100_000, 2_500),
    "sac": ("pendulum_sac", -200.0, 20_000, 1_000),
}
EVAL_EPISODES = 20


def run(algo: str, seed: int, full: bool, eval_every: int | None) -> dict:
    task_name, target, budget, default_eval_every = BENCHMARKS[algo]
    eval_every = eval_every or default_eval_every
    task = get_task(task_name)
    task.env_cfg.seed = seed
    task.train_cfg.seed = seed
    task.train_cfg.total_timesteps = budget
    env = task.make_env(task.env_cfg, "cpu")
    # One eval env per episode: all 20 episodes run side by side; seeded apart from training.
    eval_env = env.make_eval_env(num_envs=EVAL_EPISODES, seed=10_000 + seed)
    runner = OffPolicyRunner(env=env, cfg=task.train_cfg, eval_env=eval_env, device="cpu", verbose=False)

    evals: list[tuple[int, float]] = []
    steps_to_target = None
    train_seconds = 0.0
    started = time.perf_counter()
    while runner.total_timesteps < budget:
        chunk = min(eval_every, budget - runner.total_timesteps)
        chunk_started = time.perf_counter()
        runner.learn(total_timesteps=chunk)
        train_seconds += time.perf_counter() - chunk_started
        mean_return = runner.eval(num_episodes=EVAL_EPISODES)["eval/mean_reward"]
        evals.append((runner.total_timesteps, round(mean_return, 2)))
        if steps_to_target is None and mean_return >= target:
            steps_to_target = runner.total_timesteps
            if not full:
                break
    wall_seconds = time.perf_counter() - started
    env.close()
    eval_env.close()
    return {
        "benchmark": f"{algo}_{task.env_cfg.env_id}",
        "task": task_name,
        "target_mean_eval_return": target,
        "budget_steps": budget,
        "reached": steps_to_target is not None,
        "steps_to_target": steps_to_target,
        "eval_mean_return_at_target": dict(evals).get(steps_to_target),
        "final_eval_mean_return": evals[-1][1] if evals else None,
        "best_eval_mean_return": max(r for _, r in evals) if evals else None,
        "eval_episodes": EVAL_EPISODES,
        "steps_trained": runner.total_timesteps,
        "wall_seconds": round(wall_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "steps_per_s": round(runner.total_timesteps / max(train_seconds, 1e-9), 1),
        "seed": seed,
        "torch_threads": torch.get_num_threads(),
        "evals": evals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", choices=["dqn", "sac", "all"], default="all")
    parser.add_argument("--seed", type=int, nargs="+", default=[0])
    parser.add_argument("--full", action="store_true", help="train the whole budget instead of stopping at the target")
    parser.add_argument("--eval-every", type=int, help="env steps between evaluations (default: 2500 DQN, 1000 SAC)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the CI machine has 2 shared cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for algo in (["dqn", "sac"] if args.algo == "all" else [args.algo]):
        for seed in args.seed:
            print(json.dumps(run(algo, seed, args.full, args.eval_every)), flush=True)


if __name__ == "__main__":
    main()
