"""``python -m legged_train.motions``: make reference-motion clips.

    python -m legged_train.motions generate --robot go1 --gait trot --speed 0.5 --out data/motions/go1_trot.npz
    python -m legged_train.motions generate --robot go1_flat --gait pace --speed 0.4 --yaw-rate 0.5 --out ...
    python -m legged_train.motions from-demonstrations data/go1_gait --out data/motions/go1_policy.npz

``--robot`` is ``go1`` (the bundled robot) or a task whose env config names the robot.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def robot_config(name: str):
    from legged_train.envs.robot import RobotConfig

    if name == "go1":
        return RobotConfig()
    from legged_train.tasks import get_task

    robot = getattr(getattr(get_task(name), "env_cfg", None), "robot", None)
    if robot is None:
        raise ValueError(f"--robot {name!r}: the task has no env_cfg.robot; give 'go1' or a legged task")
    return robot


def main(argv: list[str] | None = None) -> int:
    from legged_train.motions.generate import GAITS, GaitSpec

    parser = argparse.ArgumentParser(prog="python -m legged_train.motions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="a gait clip from a velocity command, by inverse kinematics")
    generate.add_argument("--robot", default="go1")
    generate.add_argument("--gait", default="trot", help=f"one of {', '.join(GAITS)}")
    defaults = GaitSpec()
    generate.add_argument("--speed", type=float, default=defaults.speed, help="m/s forward")
    generate.add_argument("--lateral-speed", type=float, default=defaults.lateral_speed, help="m/s to the left")
    generate.add_argument("--yaw-rate", type=float, default=defaults.yaw_rate, help="rad/s")
    for name in ("period", "duty", "swing_height", "duration", "fps"):
        generate.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    generate.add_argument("--base-height", type=float, help="m (default: the robot's standing height)")
    generate.add_argument("--lateral-sway", type=float, help="m, side-to-side sway (default: the gait's own)")
    generate.add_argument("--stance-half-width", type=float,
                          help="m, each foot's distance from the centre line (default: the standing stance's)")
    generate.add_argument("--out", required=True, help="the .npz clip to write")

    convert = commands.add_parser("from-demonstrations", help="a clip from trajectories collect.py --motion wrote")
    convert.add_argument("directory", help="a DemonstrationSaver folder")
    convert.add_argument("--trajectory", type=int, default=0, help="which trajectory (in file order)")
    convert.add_argument("--robot", default="go1", help="whose joint names the clip gets")
    convert.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from legged_train.cli.common import UserError, check_writable_file

    try:
        check_writable_file(args.out, "--out")  # before the clip is computed, not after
        if args.command == "generate":
            from legged_train.motions.generate import generate_gait_clip

            fields = {f.name for f in dataclasses.fields(GaitSpec)}
            spec = GaitSpec(**{k: v for k, v in vars(args).items() if k in fields})
            spec.validate()  # before the robot is built: a typo fails at once
            clip = generate_gait_clip(robot_config(args.robot), spec)
        else:
            from legged_train.motions.from_demonstrations import clip_from_demonstrations

            clip = clip_from_demonstrations(args.directory, robot_config(args.robot), args.trajectory)
    except (UserError, ValueError, KeyError, FileNotFoundError) as err:
        print(f"{parser.prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    clip.save(args.out)
    print(f"wrote {args.out}: {clip.num_frames} frames at {clip.fps:g} fps ({clip.duration:.2f} s)")
    return 0


if __name__ == "__main__":
    from legged_train.cli.common import one_line_warnings

    one_line_warnings()
    sys.exit(main())
