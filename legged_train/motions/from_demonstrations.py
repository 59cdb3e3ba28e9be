"""A reference clip from a trained policy's gait: trajectories recorded by DemonstrationSaver.

The trajectories must hold the ``motion`` observation group (base position, base orientation and
absolute joint angles: ``collect.py --motion`` adds it), from which the clip's root and joint
trajectories are read as they were simulated, at the policy's step.
"""

from __future__ import annotations

import numpy as np

from legged_train.demonstrations import files
from legged_train.motions.clip import MotionClip

MOTION_GROUP = "motion"
MOTION_TERMS = ["base_pos", "base_quat", "joint_pos_abs"]


def clip_from_demonstrations(directory: str, robot, trajectory: int = 0) -> MotionClip:
    """Trajectory number ``trajectory`` (in the folder's order) of a DemonstrationSaver folder as a clip."""
    metadata = files.read_metadata(directory)
    if metadata is None:
        raise FileNotFoundError(f"{directory}: no demonstrations here (no {files.METADATA_FILE})")
    layout = metadata["observation_layouts"].get(MOTION_GROUP)
    if layout is None:
        raise ValueError(f"{directory}: the trajectories have no {MOTION_GROUP!r} observation group (groups: "
                         f"{sorted(metadata['observation_layouts'])}); collect them with collect.py --motion")
    names = [name for name, _ in files.normalize_layout(layout)]
    if names != MOTION_TERMS:
        raise ValueError(f"{directory}: the {MOTION_GROUP!r} group holds {names}; expected {MOTION_TERMS}")
    folders = [path for _, path in sorted(files.list_trajectory_dirs(directory).items())]
    if not 0 <= trajectory < len(folders):
        raise ValueError(f"--trajectory {trajectory}: {directory} has {len(folders)} trajectories")
    recorded = files.read_trajectory(folders[trajectory], [MOTION_GROUP])
    if recorded is None:
        raise ValueError(f"{folders[trajectory]}: the trajectory is not finished")
    motion = recorded["obs"][MOTION_GROUP].astype(np.float64)
    return MotionClip(fps=1.0 / float(metadata["step_dt"]), joint_names=list(robot.joint_names), root_pos=motion[:, 0:3],
                      root_quat=motion[:, 3:7], joint_pos=motion[:, 7:], name=f"policy_trajectory_{trajectory}",
                      meta={"source": directory, "trajectory": trajectory, "policy": metadata.get("policy")})
