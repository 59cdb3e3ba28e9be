"""Demonstrations: collect trajectories from a policy (``DemonstrationSaver``, ``collect.py``) and
serve them as batched transitions for training (``RolloutDataset``). Files are numpy ``.npz`` and
JSON, loaded without pickle (see ``files.py`` for the format)."""

from legged_train.demonstrations.dataset import RolloutDataset, Transition
from legged_train.demonstrations.files import ENCODINGS, read_metadata, read_slice, read_trajectory
from legged_train.demonstrations.policy import ActorPolicy
from legged_train.demonstrations.saver import DemonstrationSaver

__all__ = [
    "ENCODINGS",
    "ActorPolicy",
    "DemonstrationSaver",
    "RolloutDataset",
    "Transition",
    "read_metadata",
    "read_slice",
    "read_trajectory",
]
