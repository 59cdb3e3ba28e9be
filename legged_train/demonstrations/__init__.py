"""Demonstrations: collect trajectories from a policy (``DemonstrationSaver``, ``collect.py``) and
serve them as batched transitions for training (``RolloutDataset``); DAgger's collector rolls out a
student and labels with a teacher (``DaggerSaver``, ``dagger_collect.py``). Files are numpy ``.npz``
and JSON, loaded without pickle (see ``files.py`` for the format)."""

from legged_train.demonstrations.dagger import DaggerSaver
from legged_train.demonstrations.dataset import RolloutDataset, Transition
from legged_train.demonstrations.files import ENCODINGS, read_metadata, read_slice, read_trajectory
from legged_train.demonstrations.policy import ActorPolicy
from legged_train.demonstrations.saver import DemonstrationSaver

__all__ = [
    "ENCODINGS",
    "ActorPolicy",
    "DaggerSaver",
    "DemonstrationSaver",
    "RolloutDataset",
    "Transition",
    "read_metadata",
    "read_slice",
    "read_trajectory",
]
