"""go2_flat: a Unitree Go2 (envs/robots/go2/) tracks velocity commands on flat ground.

go1_flat's env and PPO settings with the Go2's robot; Go2 is Go1's size (standing height 0.29 m,
15.2 kg against 12.7 kg), so only the torque penalty changes, by the mass ratio squared.
"""

from __future__ import annotations

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.envs.robot import RobotConfig
from legged_train.envs.robots.go2 import constants as go2
from legged_train.tasks.go1.flat import go1_flat_train
from legged_train.tasks.registry import register_task


def go2_robot() -> RobotConfig:
    return RobotConfig(
        mjcf_path=go2.MJCF_PATH,
        base_body=go2.BASE_BODY,
        imu_site=go2.IMU_SITE,
        foot_names=list(go2.FOOT_NAMES),
        foot_radius=go2.FOOT_RADIUS,
        joint_names=list(go2.JOINT_NAMES),
        default_joint_pos=list(go2.STANDING_POSE),
        kp=go2.KP,
        kd=go2.KD,
        effort_limits=list(go2.EFFORT_LIMITS),
        base_init_height=go2.NOMINAL_HEIGHT,
        undesired_contact_sites=list(go2.UNDESIRED_CONTACT_SITES),
        base_contact_site=go2.BASE_CONTACT_SITE,
    )


def go2_flat_env() -> LeggedEnvConfig:
    cfg = LeggedEnvConfig(num_envs=1024, robot=go2_robot())
    # Torques^2 grow with the weight squared: Go1's -2e-4 x (12.7 / 15.2)^2, the same share of the reward.
    cfg.rewards.weights["torques"] = -1.4e-4
    # base_too_low keeps Go1's 0.12 m: about 40% of the standing height on both robots.
    return cfg


register_task("go2_flat", go2_flat_env, go1_flat_train, make_legged_env)
