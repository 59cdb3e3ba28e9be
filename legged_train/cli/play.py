"""Replay a trained policy: ``python play.py --task go1_flat [--load-run R] [--checkpoint N] [--video]``.

By default it loads the latest checkpoint of the latest run of the task, builds the runner the
way train.py does (any task: PPO, DQN or SAC), then

1. on legged envs, drives a fixed command sequence (``--commands "vx,vy,yaw@seconds" ...``) and
   prints how well each segment was tracked; ``--video`` writes it as an MP4 (offscreen, works
   headless with MUJOCO_GL=egl); the interactive MuJoCo viewer opens when a display exists;
2. prints the standard evaluation (legged_train.evaluation) as JSON on legged envs, the runner's
   evaluation (eval/mean_reward, eval/std_reward, ...) on other envs; ``--course`` adds the terrain
   evaluation course (legged_train.course) as JSON, with its success heat map
   ``<run>/course_<checkpoint>.png`` and the figures in ``course_<checkpoint>.json`` beside it;
3. exports the deterministic policy (PPO: the actor mean, observation normalization included;
   DQN: the argmax of the Q-network; SAC: the tanh of the actor mean scaled to the action bounds)
   as TorchScript (policy.pt) and ONNX (policy.onnx) with policy.json beside them: on legged envs
   also observation layout, joint order, default pose, action scale and PD gains
   (``env.deployment_info()``). A recurrent policy is exported as ``obs, h_in[, c_in] -> actions,
   h_out[, c_out]`` (the hidden state an explicit input and output; policy.json says how to reset it).

The policy is fed the observation group it was trained on (``runner.policy_obs_group``: "policy",
a privileged teacher's "teacher"), in the replay, the evaluation and the export, whose JSON names
it (``observation_group``) with its layout. A distilled student (go1_student) replays without its teacher.
"""

from __future__ import annotations

import argparse
import json
import os

from legged_train.cli.common import (
    HAS_DISPLAY,
    UserError,
    add_argument,
    check_above,
    check_at_least,
    check_video_rendering,
    check_writable_file,
    check_writable_folder,
    fail,
    make_parser,
    user_errors,
)
from legged_train.cli.runs import DEFAULT_LOG_ROOT, load_run
from legged_train.runners.registry import make_runner

DEFAULT_COMMANDS = ["0.5,0,0@3", "1.0,0,0@3", "0,0.4,0@2", "0,0,1.0@2", "-0.5,0,0@2", "0,0,0@2"]


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = make_parser(__doc__, prog)
    add_argument(parser, "--task", required=True, help="registered task name")
    add_argument(parser, "--load-run", help="run folder (name or path); default: the latest run of the task")
    add_argument(parser, "--checkpoint", help="iteration number or .pt file; default: the latest of the run")
    add_argument(parser, "--experiment-name", help="folder under the log root; default: the task's")
    add_argument(parser, "--log-root", default=DEFAULT_LOG_ROOT)
    add_argument(parser, "--device", default="cpu")
    add_argument(parser, "--backend", choices=("auto", "mjbatch", "warp"),
                 help="physics backend to replay and evaluate on (sim-to-sim check); default: the run's")
    add_argument(parser, "--num-envs", type=int, default=1, help="envs driven by the command sequence (env 0 is filmed)")
    add_argument(parser, "--seed", type=int, default=0)
    add_argument(
        parser,
        "--commands",
        nargs="+",
        default=DEFAULT_COMMANDS,
        metavar="VX,VY,YAW@SECONDS",
        help=f"command sequence, forward/lateral m/s and yaw rad/s held for a duration (default: {' '.join(DEFAULT_COMMANDS)})",
    )
    add_argument(parser, "--video", action="store_true", help="write an MP4 of the command sequence")
    add_argument(parser, "--video-path", help="default: <run>/videos/play_<checkpoint>.mp4")
    add_argument(parser, "--video-fps", type=float, default=25.0, help="frames per second of the MP4 (<= 1/policy dt)")
    add_argument(parser, "--width", type=int, default=640)
    add_argument(parser, "--height", type=int, default=480)
    add_argument(parser, "--headless", action="store_true", help="never open the interactive viewer")
    add_argument(parser, "--no-eval", action="store_true", help="skip the evaluation")
    add_argument(parser, 
        "--eval-envs", type=int, help="envs of the evaluation (default: the standard 256 on legged envs, else one per episode)"
    )
    add_argument(parser, "--eval-episodes", type=int, help="episodes of the evaluation on non-legged envs (default: the run's)")
    add_argument(parser, "--no-export", action="store_true", help="skip the TorchScript/ONNX export")
    add_argument(parser, "--course", action="store_true",
                 help="run the terrain evaluation course (legged_train.course): JSON, and a success heat map "
                      "<run>/course_<checkpoint>.png")
    add_argument(parser, "--export-dir", help="default: <run>/exported")
    return parser


def parse_commands(items: list[str]) -> list[tuple[list[float], float]]:
    """``["0.5,0,0@3"]`` -> ``[([0.5, 0.0, 0.0], 3.0)]``; errors say what the format is."""
    segments = []
    for item in items:
        try:
            values, seconds = item.split("@")
            command = [float(v) for v in values.split(",")]
            duration = float(seconds)
        except ValueError:
            raise ValueError(f"--commands item {item!r} must look like VX,VY,YAW@SECONDS (e.g. 0.5,0,0@3)") from None
        if len(command) != 3 or duration <= 0:
            raise ValueError(f"--commands item {item!r} needs 3 values and a positive duration")
        segments.append((command, duration))
    return segments


def play_commands(env, policy, segments, video_path, width, height, open_viewer, video_fps=25.0, obs_group=None) -> list[dict]:
    """Drive the command sequence on a legged env; returns per-segment tracking figures of the filmed env 0.

    ``obs_group``: the observation group fed to ``policy`` (default: its own ``obs_group``, else "policy")."""
    import torch

    from legged_train.evaluation import policy_obs_group
    from legged_train.observation_groups import observation_group

    obs_group = policy_obs_group(policy, obs_group)

    renderer = frames = viewer = None
    if video_path is not None:
        from legged_train.envs.render import OffscreenRenderer, env_frame

        renderer, frames = OffscreenRenderer(env.mj_model, width=width, height=height, track_body=env.cfg.robot.base_body), []
        # Render every k-th policy step: software GL takes a good part of a second per frame.
        frame_every = max(1, round(1.0 / (env.step_dt * video_fps)))
    step_count = 0
    if open_viewer:
        viewer, viewer_data = _open_viewer(env)
    results = []
    reset_policy = getattr(policy, "reset", None)  # runner.get_inference_policy(): a recurrent policy's memory
    with torch.inference_mode():
        obs, extras = env.reset()
        if reset_policy is not None:
            reset_policy()
        for command, seconds in segments:
            env.set_commands(torch.tensor([command], device=env.device).repeat(env.num_envs, 1), hold=True)
            steps = max(1, round(seconds / env.step_dt))
            speed_error = torch.zeros((), device=env.device)
            falls = 0
            for _ in range(steps):
                obs, _, dones, extras = env.step(policy(observation_group(obs, extras, obs_group)))
                if reset_policy is not None:
                    reset_policy(dones)  # an env that fell starts again with a fresh memory
                falls += int(extras["terminated"][0])
                measured = torch.cat([env.base_lin_vel_heading[0], env.yaw_rate[:1]])
                speed_error += (measured - torch.tensor(command, device=env.device)).square().sum()
                if renderer is not None and step_count % frame_every == 0:
                    frames.append(env_frame(renderer, env))
                step_count += 1
                if viewer is not None:
                    _sync_viewer(env, viewer, viewer_data)
            rms_error = round(float((speed_error / steps).sqrt()), 4)
            results.append({"command": command, "seconds": seconds, "falls": falls, "rms_error": rms_error})
    if renderer is not None:
        from legged_train.envs.render import write_mp4

        os.makedirs(os.path.dirname(os.path.abspath(video_path)), exist_ok=True)
        write_mp4(frames, video_path, fps=1.0 / (env.step_dt * frame_every))
        renderer.close()
    if viewer is not None:
        viewer.close()
    return results


def _open_viewer(env):
    import mujoco
    import mujoco.viewer

    data = mujoco.MjData(env.mj_model)
    return mujoco.viewer.launch_passive(env.mj_model, data), data


def _sync_viewer(env, viewer, data) -> None:
    import time

    import mujoco

    data.qpos[:] = env.qpos_numpy(0)
    mujoco.mj_forward(env.mj_model, data)
    viewer.sync()
    time.sleep(env.step_dt)  # about real time


def check_arguments(args: argparse.Namespace) -> None:
    """Values argparse lets through but that can never work (e.g. a 0-pixel video)."""
    check_at_least(args, dict.fromkeys(("width", "height", "num_envs", "eval_envs", "eval_episodes"), 1))
    check_above(args, ("video_fps",))
    if args.video and args.video_path is not None and not args.video_path.lower().endswith(".mp4"):
        raise UserError(f"--video-path={args.video_path!r}: must end in .mp4")
    if args.video and args.video_path is not None:
        check_writable_file(args.video_path, "--video-path")
    if not args.no_export and args.export_dir is not None:
        check_writable_folder(args.export_dir, "--export-dir")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)

    from legged_train.checkpoint import set_seed
    from legged_train.config import resolve_device
    from legged_train.evaluation import is_legged_env, standard_evaluation
    from legged_train.export import export_policy, policy_input
    from legged_train.tasks import get_task

    # Anything wrong with what the user gave: one line, exit 2.
    envs = []
    try:
        check_arguments(args)
        segments = parse_commands(args.commands)
        task = get_task(args.task)
        checkpoint_path, _, env_cfg, train_cfg = load_run(task, args.log_root, args.experiment_name, args.load_run,
                                                          args.checkpoint)
        run_dir = os.path.dirname(checkpoint_path)
        if args.video:
            check_video_rendering()
            if args.video_path is None:
                check_writable_folder(os.path.join(run_dir, "videos"), "--video (into the run folder)")
        if hasattr(train_cfg, "teacher_checkpoint"):
            train_cfg.teacher_checkpoint = ""  # a distilled student replays without its teacher
        device = resolve_device(args.device)
        train_cfg.device = str(device)
        env_cfg.num_envs = args.num_envs
        if hasattr(env_cfg, "curriculum"):  # a replay measures: no level curriculum (legged_gym's play), any --num-envs
            env_cfg.curriculum.terms["terrain_levels"] = None
        if hasattr(env_cfg, "seed"):
            env_cfg.seed = args.seed
        if args.backend is not None:
            if not hasattr(getattr(env_cfg, "sim", None), "backend"):
                raise UserError(f"--backend: task {task.name!r} has no MuJoCo physics backend to choose")
            env_cfg.sim.backend = args.backend
        set_seed(args.seed)

        train_env = task.make_env(env_cfg, device)
        envs.append(train_env)
        legged = is_legged_env(train_env)
        if args.video and not legged:
            raise UserError(f"--video films legged envs; task {task.name!r} has a {type(train_env).__name__}")
        if args.course and not legged:
            raise UserError(f"--course is for legged envs; task {task.name!r} has a {type(train_env).__name__}")
        if args.course:
            check_writable_folder(run_dir, "--course (into the run folder)")
        # Replay on nominal physics (no randomization or pushes) when the env offers it.
        env = train_env.make_eval_env(num_envs=args.num_envs, seed=args.seed) if hasattr(train_env, "make_eval_env") else train_env
        envs.append(env)
        num_episodes = args.eval_episodes or max(1, train_cfg.eval_episodes)
        eval_env = None
        if not legged and not args.no_eval and hasattr(train_env, "make_eval_env"):
            eval_env = train_env.make_eval_env(num_envs=args.eval_envs or num_episodes, seed=args.seed)
            envs.append(eval_env)
        runner = make_runner(env, train_cfg, None, device, runner_cls=task.runner_cls, eval_env=eval_env)
        runner.run_config["task"] = task.name
        runner.load_checkpoint(checkpoint_path, load_optimizer=False, map_location=device)
    except user_errors() as err:
        for made in envs:
            made.close()
        fail(parser, err)
    policy = runner.get_inference_policy()
    name = os.path.splitext(os.path.basename(checkpoint_path))[0]
    print(f"loaded {checkpoint_path} (iteration {runner.iteration})")

    if legged:
        video_path = None
        if args.video:
            video_path = args.video_path or os.path.join(run_dir, "videos", f"play_{name}.mp4")
        open_viewer = HAS_DISPLAY and not args.headless and not args.video
        tracking = play_commands(env, policy, segments, video_path, args.width, args.height, open_viewer, args.video_fps)
        for segment in tracking:
            print(json.dumps({"segment": segment}))
        if video_path is not None:
            print(f"video: {video_path}")

    if not args.no_eval:
        if legged:
            kwargs = {} if args.eval_envs is None else {"num_envs": args.eval_envs}
            figures = standard_evaluation(train_env, policy, device=device, **kwargs)
            print(json.dumps({"standard_evaluation": figures, "physics": type(train_env.sim).__name__}))
        else:
            print(json.dumps({"evaluation": runner.eval(num_episodes)}))

    if args.course:
        from legged_train.course import course_evaluation, write_heat_map

        course = course_evaluation(train_env, policy, device=device)
        print(json.dumps({"course": course}))
        course_path = os.path.join(run_dir, f"course_{name}")
        with open(course_path + ".json", "w") as f:
            json.dump(course, f, indent=1)
        print(f"course: {write_heat_map(course, course_path + '.png')}, {course_path}.json")

    if not args.no_export:
        info = train_env.deployment_info() if hasattr(train_env, "deployment_info") else {}
        if hasattr(train_env, "action_space"):
            info["action_space"] = repr(train_env.action_space)
        # The exported input is the group the policy reads (a teacher's "teacher"), not always "policy".
        num_obs, input_fields = policy_input(env, runner.policy_obs_group)
        info.update(input_fields)
        info.update({"task": task.name, "checkpoint": checkpoint_path, "iteration": runner.iteration})
        export_dir = args.export_dir or os.path.join(run_dir, "exported")
        paths = export_policy(runner.policy_module(), num_obs, export_dir, info)
        print(f"exported: {paths['torchscript']}, {paths['onnx']}, {paths['info']}")
    for made in {id(e): e for e in envs}.values():
        made.close()
    return 0
