"""AMP on Go1: go1_amp (trot reference) and go1_amp_pace (pace reference), from scratch.

For each task, every ``--eval-every`` iterations, one JSON line: training wall-clock (evaluations
excluded), the standard evaluation (velocity_rmsd, yaw_rate_rmsd, cost_of_transport, fall_rate), the
discriminator's figures of the last update, and the gait measure: on nominal physics, 64 robots
commanded straight ahead at 0.3..1.0 m/s for 6 s (the first second not counted), the share of
steps in which each diagonal pair (FR+RL, FL+RR) is in the same contact state, and the same for the
lateral pairs (FR+RR, FL+RL). A trot scores diagonal ~1 and lateral ~0; a pace the reverse;
standing on four feet scores 1 on both. Stops before a chunk would end past ``--minutes`` of training.

    python bench/amp_go1.py [--tasks go1_amp go1_amp_pace] [--minutes 25] [--eval-every 100]

Targets (issue 10, 2-core CPU, within 25 minutes each): velocity_rmsd <= 0.15, fall_rate <= 0.02;
diagonal agreement >= 0.8 for the trot reference, lateral agreement >= 0.8 for the pace reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from legged_train.envs.legged.observations import quat_rotate_inverse  # noqa: E402
from bench_runs import build_run  # noqa: E402
from legged_train.config import split_env_train_overrides  # noqa: E402
from legged_train.evaluation import standard_evaluation  # noqa: E402
from legged_train.motions.generate import foot_pairs, gait_agreement  # noqa: E402
from legged_train.runners.amp_policy_runner import AmpPolicyRunner  # noqa: E402

GAIT_ENVS, GAIT_SECONDS, GAIT_WARMUP_S = 64, 6.0, 1.0


@torch.inference_mode()
def gait_measure(env, policy) -> dict[str, float]:
    """Diagonal and lateral contact agreement while walking straight ahead (see the module doc)."""
    eval_env = env.make_eval_env(num_envs=GAIT_ENVS, seed=1)
    try:
        speeds = torch.linspace(0.3, 1.0, GAIT_ENVS)
        commands = torch.stack((speeds, torch.zeros_like(speeds), torch.zeros_like(speeds)), dim=1)
        eval_env.set_commands(commands.to(eval_env.device), hold=True)
        obs, extras = eval_env.reset()
        if hasattr(policy, "reset"):
            policy.reset()
        offset = eval_env.foot_pos - eval_env.base_pos[:, None, :]
        neutral = quat_rotate_inverse(eval_env.base_quat[:, None, :], offset)[0].cpu()
        pairs = foot_pairs((neutral[:, 0] > 0).numpy(), (neutral[:, 1] > 0).numpy())
        contacts = []
        steps = round(GAIT_SECONDS / eval_env.step_dt)
        for step in range(steps):
            obs, _, dones, extras = eval_env.step(policy(extras["observations"][policy.obs_group]))
            if step * eval_env.step_dt >= GAIT_WARMUP_S:
                contacts.append(eval_env.foot_contact.cpu())
        contact = torch.cat(contacts).numpy()  # (steps x envs, feet)
        return {"diagonal_agreement": round(gait_agreement(contact, pairs["diagonal"]), 3),
                "lateral_agreement": round(gait_agreement(contact, pairs["lateral"]), 3)}
    finally:
        eval_env.close()


def run_task(name: str, args) -> None:
    env_set, train_set = split_env_train_overrides(args.set)
    run_dir = os.path.join(args.log_root, "bench_amp", time.strftime("%Y-%m-%d_%H-%M-%S"), name)
    env, runner = build_run(name, args.seed, args.eval_every, run_dir, env_set, train_set)
    if not isinstance(runner, AmpPolicyRunner):
        raise SystemExit(f"task {name!r} does not train with AMP (its runner is {type(runner).__name__})")
    budget_s, train_seconds, started, chunk_s = args.minutes * 60.0, 0.0, time.time(), 0.0
    while train_seconds + chunk_s <= budget_s:  # the next chunk, as long as the last, still fits
        chunk_started = time.time()
        stats = runner.learn(num_learning_iterations=args.eval_every)
        chunk_s = time.time() - chunk_started
        train_seconds += chunk_s
        policy = runner.get_inference_policy()
        evaluation = standard_evaluation(env, policy)
        runner.train_mode()
        print(json.dumps({
            "task": name,
            "iteration": runner.iteration,
            "train_wall_clock_s": round(train_seconds, 1),
            "total_wall_clock_s": round(time.time() - started, 1),
            **{key: round(value, 4) for key, value in evaluation.items()},
            **gait_measure(env, policy),
            **{key: round(value, 4) for key, value in stats.items() if key.startswith("amp/")},
            "episode_mean_length": stats.get("episode/mean_length"),
            "checkpoint": os.path.join(run_dir, f"model_{runner.iteration}.pt"),
        }), flush=True)
    runner.close()
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["go1_amp", "go1_amp_pace"])
    parser.add_argument("--minutes", type=float, default=25.0, help="training wall-clock per task")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-root", default=os.path.join(ROOT, "logs"))
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    for name in args.tasks:
        run_task(name, args)


if __name__ == "__main__":
    main()
