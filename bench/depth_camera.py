"""The depth camera's cost (issue 24): rays/s of its batched ray cast and env steps/s of
go1_parkour_depth against the same env without the camera (go1_parkour_blind's), in the same run.

For each number of envs (64, 256) and camera resolution (64 x 48, 32 x 24 by default), rounds of
the two envs alternate (the median round of each counts, so a noisy neighbour hits both alike), each
stepping with random actions (robots stumble and reset, as an untrained policy's do) at the task's
camera rate (10 Hz: one image every 5 policy steps). One JSON line per setting:

- ``env_steps_per_s`` with and without the camera, and ``camera_cost_ratio``: the camera's time per
  env step over the env step without it (the target: at most 2 at 256 envs);
- ``rays_per_s``: the ray cast alone (``DepthCamera.render``), and the camera's ``camera_share`` of
  the step with it.

The last line says which resolutions meet the target at the largest number of envs.

    python bench/depth_camera.py [--num-envs 64 256] [--resolutions 64x48 32x24] [--rounds 5] [--steps 25]
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

from legged_train.tasks import get_task  # noqa: E402

TARGET_RATIO = 2.0


def make_env(task_name: str, num_envs: int, width: int, height: int):
    task = get_task(task_name)
    cfg = task.env_cfg
    cfg.num_envs = num_envs
    cfg.depth_camera.width, cfg.depth_camera.height = width, height
    return task.make_env(cfg, "cpu")


def steps_per_s(env, steps: int, generator: torch.Generator) -> float:
    actions = [torch.randn(env.num_envs, env.num_actions, generator=generator) for _ in range(steps)]
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--resolutions", nargs="+", default=["64x48", "32x24"], help="WIDTHxHEIGHT")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=25, help="policy steps per round (a multiple of the camera period)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the students' rollout threads: the cores are the physics pool's
    generator = torch.Generator().manual_seed(0)
    results = []
    for num_envs in args.num_envs:
        for resolution in args.resolutions:
            width, height = (int(v) for v in resolution.lower().split("x"))
            with_camera = make_env("go1_parkour_depth", num_envs, width, height)
            without = make_env("go1_parkour_blind", num_envs, width, height)
            for env in (with_camera, without):  # warm-up: first-call allocations
                steps_per_s(env, 5, generator)
            rounds = {"with": [], "without": [], "render": []}
            camera = with_camera.depth_camera
            for _ in range(args.rounds):
                rounds["with"].append(steps_per_s(with_camera, args.steps, generator))
                rounds["without"].append(steps_per_s(without, args.steps, generator))
                start = time.perf_counter()
                camera.render()
                rounds["render"].append(time.perf_counter() - start)
            with_sps, without_sps = statistics.median(rounds["with"]), statistics.median(rounds["without"])
            render_s = statistics.median(rounds["render"])
            camera_per_step = 1.0 / with_sps - 1.0 / without_sps
            result = {
                "event": "camera", "num_envs": num_envs, "width": width, "height": height,
                "update_period_steps": camera.period_steps,
                "env_steps_per_s": {"with_camera": round(with_sps * num_envs), "without": round(without_sps * num_envs)},
                "camera_cost_ratio": round(camera_per_step * without_sps, 3),
                "camera_share": round(camera_per_step * with_sps, 3),
                "rays_per_s": round(num_envs * width * height / render_s),
                "render_s": round(render_s, 4),
                "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
            }
            print(json.dumps(result), flush=True)
            results.append(result)
    largest = max(args.num_envs)
    meets = [f"{r['width']}x{r['height']}" for r in results if r["num_envs"] == largest and r["camera_cost_ratio"] <= TARGET_RATIO]
    print(json.dumps({"event": "summary", "num_envs": largest, "target_ratio": TARGET_RATIO, "resolutions_meeting_target": meets}))


if __name__ == "__main__":
    main()
