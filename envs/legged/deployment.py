"""What a robot-side runtime needs to run an exported policy: the observation layout it is fed,
the joint order, the default pose, the action scale and the PD gains (``policy.json`` beside the export)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv


def deployment_info(env: LeggedVelocityEnv) -> dict:
    """What a robot-side runtime needs to feed the exported policy and apply its actions."""
    robot = env.cfg.robot
    n = env.num_actions
    policy = env.obs_groups["policy"]
    camera = {}
    if env.depth_camera is not None:  # what the robot's camera must give a policy reading `depth_image`
        cfg = env.cfg.depth_camera
        camera = {"depth_camera": {
            "body": cfg.body or robot.base_body, "pos": list(cfg.pos), "pitch_deg": cfg.pitch_deg,
            "width": cfg.width, "height": cfg.height, "horizontal_fov_deg": cfg.horizontal_fov_deg,
            "near": cfg.near, "far": cfg.far, "update_period_s": env.depth_camera.period_steps * env.step_dt,
            "latency_s": env.depth_camera.latency_steps * env.step_dt,
            "pixels": "z-depth d (m, along the optical axis) as (d - near) / (far - near) clipped to [0, 1], row-major "
                      "from the top-left pixel; nothing within far reads 1, a lost pixel 0 (the depth_image term)",
        }}
    return {
        **camera,
        # The policy's input: observation_history_length steps of observation_layout, oldest first.
        "observation_layout": env.observation_layout()["policy"],
        "observation_history_length": policy.history_length,
        "observation_scales": policy.scales,  # per block of observation_layout
        "num_obs": env.num_obs,
        "joint_names": list(robot.joint_names),
        "default_joint_pos": [float(x) for x in robot.default_joint_pos],
        "action_scale": robot.action_scale,
        "kp": np.broadcast_to(np.asarray(robot.kp, float), (n,)).tolist(),
        "kd": np.broadcast_to(np.asarray(robot.kd, float), (n,)).tolist(),
        "effort_limits": [float(x) for x in robot.effort_limits],
        "policy_dt": env.step_dt,
        "control": "joint position target = default_joint_pos + action_scale * action, tracked by PD",
    }
