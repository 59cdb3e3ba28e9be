"""Go1-class quadruped: the facts about the robot that its MJCF (``go1.xml`` beside this file)
does not name for the env. Values in joint order: FR, FL, RR, RL legs, each hip, thigh, calf.

`legged_train.envs.robot.RobotConfig`'s defaults are these; the loader also falls back on the
standing pose and torque limits for a 12-joint file that gives none."""

import os

MJCF_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go1.xml")

LEGS = ("FR", "FL", "RR", "RL")
JOINT_NAMES = [f"{leg}_{part}_joint" for leg in LEGS for part in ("hip", "thigh", "calf")]
FOOT_NAMES = [f"{leg}_foot" for leg in LEGS]  # sites (and geoms) at the centre of each foot sphere
FOOT_RADIUS = 0.023  # m
BASE_BODY = "trunk"
IMU_SITE = "imu"
# Touch sites: thighs and calves (undesired contacts with full-body contacts), and the trunk (a fall).
UNDESIRED_CONTACT_SITES = [f"{leg}_{part}_touch" for leg in LEGS for part in ("thigh", "calf")]
BASE_CONTACT_SITE = "trunk_touch"

# rad, the "stand" keyframe of go1.xml: hips slightly out, thighs 0.9, calves -1.8.
STANDING_POSE = [-0.1, 0.9, -1.8, 0.1, 0.9, -1.8] * 2
NOMINAL_HEIGHT = 0.29  # m, the base's height in that pose with the feet on the floor (the keyframe's)
# N m per joint: hip and thigh 23.7 (gear 6), calf 35.55 (gear 9).
EFFORT_LIMITS = [23.7, 23.7, 35.55] * 4
# The position servos of go1.xml: N m/rad and N m s/rad, the same on every joint.
KP, KD = 35.0, 0.5
