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


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (all devices) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


# ------------------------------------------------------------------------- run directories
# Runs live in <log_root>/<experiment>/<YYYY-mm-dd_HH-MM-SS>[_<run name>]/ with model_<iteration>.pt files.


def list_runs(experiment_dir: str | os.PathLike) -> list[str]:
    """Run directories of an experiment, oldest first (their names start with a sortable timestamp)."""
    experiment_dir = os.fspath(experiment_dir)
    if not os.path.isdir(experiment_dir):
        return []
    runs = [os.path.join(experiment_dir, d) for d in os.listdir(experiment_dir)]
    return sorted(d for d in runs if os.path.isdir(d))


def list_checkpoints(run_dir: str | os.PathLike) -> list[str]:
    """``model_<n>.pt`` files of a run, ordered by n."""
    run_dir = os.fspath(run_dir)
    found = []
    for name in os.listdir(run_dir) if os.path.isdir(run_dir) else []:
        stem, ext = os.path.splitext(name)
        if ext == ".pt" and stem.startswith("model_") and stem[6:].isdigit():
            found.append((int(stem[6:]), os.path.join(run_dir, name)))
    return [path for _, path in sorted(found)]


def find_checkpoint(
    experiment_dir: str | os.PathLike,
    load_run: str | None = None,
    checkpoint: str | int | None = None,
) -> str:
    """Resolve ``--load-run`` / ``--checkpoint`` to a checkpoint file; defaults are the latest of each.

    ``load_run`` is a run directory name inside ``experiment_dir`` or a path; ``checkpoint`` an
    iteration number or a file path. Errors list what exists.
    """
    if isinstance(checkpoint, int):
        checkpoint = str(checkpoint)
    if checkpoint is not None and os.path.isfile(os.fspath(checkpoint)):
        return os.fspath(checkpoint)
    experiment_dir = os.fspath(experiment_dir)
    runs = [r for r in list_runs(experiment_dir) if list_checkpoints(r)]
    if load_run is None:
        if not runs:
            raise CheckpointError(f"no run with a model_<iteration>.pt checkpoint under {experiment_dir!r}; train first")
        run_dir = runs[-1]
    elif os.path.isdir(os.fspath(load_run)):
        run_dir = os.fspath(load_run)
    else:
        run_dir = os.path.join(experiment_dir, os.fspath(load_run))
        if not os.path.isdir(run_dir):
            names = [os.path.basename(r) for r in runs]
            raise CheckpointError(f"run {load_run!r} not found under {experiment_dir!r}; runs with checkpoints: {names}")
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise CheckpointError(f"run {run_dir!r} holds no model_<iteration>.pt checkpoint")
    if checkpoint is None:
        return checkpoints[-1]
    wanted = os.path.join(run_dir, f"model_{int(checkpoint)}.pt") if str(checkpoint).isdigit() else None
    if wanted is None or not os.path.isfile(wanted):
        names = [os.path.basename(c) for c in checkpoints]
        raise CheckpointError(f"checkpoint {checkpoint!r} not found in {run_dir!r}; available: {names}")
    return wanted
