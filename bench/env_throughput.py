"""Env throughput of a task (go1_flat by default; --task go1_rough: on its terrain) against the bare
physics backend stepping the same compiled model, in the same run.

Prints one JSON line: policy steps/s of the full env step (actions in, observations, rewards,
terminations, resets out) and of the bare backend stepping the same compiled model the same number
of substeps with the same joint targets, and their ratio. Rounds of the two alternate, and the median round of each counts, so
a noisy neighbour on a shared machine hits both alike.

    python bench/env_throughput.py [--num-envs 1024] [--rounds 7] [--steps 50]
    python bench/env_throughput.py --task go1_rough     # the heightfield terrain, height scan in the critic
    python bench/env_throughput.py --backend warp --num-envs 4096      # MuJoCo Warp on a GPU

With ``--backend warp`` the env and the bare backend both run on ``--device`` (default: cuda when
there is one), and the bare reference is MuJoCo Warp stepping the same model with recorded graphs.
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from legged_train.envs.backend_factory import make_backend, resolve_backend_name  # noqa: E402
from legged_train.tasks import get_task  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="go1_flat")
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50, help="policy steps per round")
    parser.add_argument("--backend", default="mjbatch", choices=("auto", "mjbatch", "warp"))
    parser.add_argument("--device", help="default: cuda for warp when available, else cpu")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if args.backend != "mjbatch" and torch.cuda.is_available() else "cpu"))

    task = get_task(args.task)
    task.env_cfg.num_envs = args.num_envs
    task.env_cfg.sim.backend = resolve_backend_name(args.backend, device)
    # Measure the env as its task trains it: with the task's rollout torch threads (go1_flat: 1).
    torch.set_num_threads(getattr(task.train_cfg, "rollout_torch_threads", 0) or task.train_cfg.torch_threads or torch.get_num_threads())
    env = task.make_env(task.env_cfg, device)
    # The bare backend steps the env's own compiled model (on a rough task: the same heightfield),
    # from the env's own start states: on a terrain the robots stand on their tiles, not at the origin.
    bare = make_backend(env.mj_model, args.num_envs, task.env_cfg.sim, device)
    ids = torch.arange(args.num_envs, device=device)
    bare.reset(ids, keyframe=0 if env.mj_model.nkey > 0 else None)
    bare.set_state(ids, env.sim.qpos.clone(), env.sim.qvel.clone())
    substeps = task.env_cfg.sim.substeps
    generator = torch.Generator().manual_seed(0)
    # Actions like an untrained policy's: they make robots stumble and fall, so resets are included.
    actions = [torch.randn(args.num_envs, env.num_actions, generator=generator).to(device) for _ in range(args.steps)]
    # The bare backend gets the same joint targets, so both simulate the same kind of motion (a
    # robot flailing against its joint limits costs the solver more than one standing still).
    targets = [(env.default_joint_pos + env.action_scale * a).to(bare.ctrl) for a in actions]

    def synchronize() -> None:  # GPU work is queued: time it done
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def env_round() -> float:
        start = time.perf_counter()
        for a in actions:
            env.step(a)
        synchronize()
        return args.num_envs * args.steps / (time.perf_counter() - start)

    def bare_round() -> float:
        start = time.perf_counter()
        for target in targets:
            bare.ctrl[:] = target
            bare.step(substeps)
        synchronize()
        return args.num_envs * args.steps / (time.perf_counter() - start)

    env_round(), bare_round()  # warm-up
    env_rates, bare_rates, resets = [], [], 0
    for _ in range(args.rounds):
        before = env.episode_length_buf.clone()
        env_rates.append(env_round())
        resets += int((env.episode_length_buf < before + args.steps).sum())
        bare_rates.append(bare_round())
    env_rate, bare_rate = statistics.median(env_rates), statistics.median(bare_rates)
    # The height scan's share of an env step (terrain tasks whose groups read it): the term alone on
    # the env's current state, against the step's time per policy step.
    scan_share = None
    if any("height_scan" in group.term_names for group in env.obs_groups.values()):
        from legged_train.envs.legged.observations import height_scan

        with torch.inference_mode():
            height_scan(env)
            synchronize()
            start = time.perf_counter()
            for _ in range(args.steps):
                height_scan(env)
            synchronize()
        scan_share = round((time.perf_counter() - start) / args.steps / (args.num_envs / env_rate), 3)
    print(
        json.dumps(
            {
                "bench": "env_throughput",
                "task": args.task,
                "backend": type(bare).__name__,
                "device": str(device),
                "num_envs": args.num_envs,
                "env_steps_per_s": round(env_rate),
                "backend_steps_per_s": round(bare_rate),
                "ratio": round(env_rate / bare_rate, 3),
                "target_ratio": 0.8 if device.type == "cuda" else 0.85,
                "envs_reset_during_measurement": resets,
                "height_scan_share_of_env_step": scan_share,
                "rounds": args.rounds,
                "steps_per_round": args.steps,
                "torch_threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
