"""Checkpoint files: atomic writes, loads that explain what is wrong, and RNG state capture.

A checkpoint is a dict saved with ``torch.save``. Runners put their own state in it; this module
only adds ``schema_version`` and guarantees that a crash mid-write never leaves a half-written
file under the final name (temp file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from typing import Any

import numpy as np
import torch

# Bump when the layout of checkpoint dicts changes incompatibly.
SCHEMA_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, corrupt, wrong schema or wrong shapes."""


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp_", suffix=".pt", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def load_checkpoint_file(path: str | os.PathLike, map_location: Any = None) -> dict:
    """Load a checkpoint dict written by ``atomic_torch_save``; raise CheckpointError if unusable."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        # weights_only=False: checkpoints hold RNG states (numpy arrays) and plain config dicts.
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"checkpoint {path!r} is corrupt or not a torch checkpoint: {err}") from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint {path!r} holds a {type(checkpoint).__name__}, expected a dict")
    version = checkpoint.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CheckpointError(
            f"checkpoint {path!r} has schema_version={version!r}; this version of legged_train reads "
            f"schema_version={SCHEMA_VERSION} (pass ckpt_manipulator= to convert older files)"
        )
    return checkpoint


def capture_rng_state() -> dict:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    if "python" in state:
        random.setstate(_as_python_state(state["python"]))
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["torch_cuda"]])


def _as_python_state(state: Any) -> tuple:
    # torch.save keeps tuples, but a checkpoint round-tripped through other tools may hold lists.
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
