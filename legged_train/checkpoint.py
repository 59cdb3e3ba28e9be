"""Checkpoint files: atomic, safe to load, and loads that explain what is wrong.

A checkpoint is a dict saved with ``torch.save``. Runners put their own state in it; this module
adds ``schema_version`` and guarantees that

- a crash mid-write never leaves a half-written file under the final name (temp file in the same
  directory, fsync, ``os.replace``, fsync of the directory), and a temp file left by a killed
  writer is removed by the next writer to that directory;
- a checkpoint holds only tensors and plain Python types (dicts, lists, tuples, numbers, strings),
  so it is read with ``torch.load(weights_only=True)``: loading a file never runs code from it. A
  file that needs anything else is refused;
- no tensor in a checkpoint is NaN or Inf: a diverged run never overwrites a good checkpoint.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from typing import Any, Iterator

import numpy as np
import torch

# Bump when the layout of checkpoint dicts changes incompatibly.
# 2: plain-type RNG states (loadable with weights_only=True), env state, task and robot identity.
SCHEMA_VERSION = 2
TEMP_PREFIX = ".tmp_"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, corrupt, unsafe, wrong schema or wrong shapes."""


class NonFiniteCheckpointError(CheckpointError, FloatingPointError):
    """Refused to save a checkpoint holding NaN or Inf."""


def first_line(err: Exception) -> str:
    """An error's message in one line, for a CheckpointError that says why a state does not load."""
    # torch's load_state_dict errors list every key on many lines; the first names the problem.
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return "; ".join(lines[:3]) if lines else type(err).__name__


def iter_tensors(tree: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """(dotted path, tensor) for every tensor in nested dicts / lists / tuples."""
    if isinstance(tree, torch.Tensor):
        yield prefix, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from iter_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from iter_tensors(value, f"{prefix}[{i}]")


def non_finite_entries(tree: Any) -> list[str]:
    """Paths of the floating-point tensors in ``tree`` that hold NaN or Inf."""
    return [path for path, t in iter_tensors(tree) if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically, with the permissions of any other file the process writes."""
    bad = non_finite_entries(obj)
    if bad:
        raise NonFiniteCheckpointError(
            f"refusing to write {os.fspath(path)!r}: non-finite values (NaN/Inf) in {', '.join(bad[:5])}"
        )
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temp_files(directory)
    fd, tmp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".pt", dir=directory)
    try:
        # mkstemp makes the file 0600; a checkpoint is as readable as the run's other files (umask).
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)
        _fsync_directory(directory)  # the rename itself survives a power cut
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def remove_stale_temp_files(directory: str) -> None:
    """Remove temp files a killed writer left behind (one writer per run directory at a time)."""
    for name in os.listdir(directory):
        if name.startswith(TEMP_PREFIX) and name.endswith(".pt"):
            try:
                os.remove(os.path.join(directory, name))
            except FileNotFoundError:
                pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file that is damaged (truncated, overwritten, not a torch file): not a safety refusal."""


def read_checkpoint_dict(path: str | os.PathLike, map_location: Any = None) -> dict:
    """``torch.load(weights_only=True)`` of a checkpoint file, with errors that say what is wrong.

    Two failures look alike to torch and must not to the user: a file that would run code (refused
    for safety) and a file that is simply damaged (random bytes, cut short). Only the first names a
    forbidden object (a pickle GLOBAL); the second is "corrupt", with the run's intact checkpoints."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        refused = [line for line in str(err).splitlines() if "GLOBAL" in line]
        if not refused or not _looks_like_torch_file(path):  # random bytes fail the unpickler too
            raise _corrupt(path, "not a torch checkpoint") from None
        # weights_only refuses any global it does not know: a class, a function, os.system...
        raise CheckpointError(
            f"checkpoint {path!r} holds objects other than tensors and plain types, refused: loading it "
            f"could run code from the file ({refused[0].strip()})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise _corrupt(path, str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    except Exception:
        # Anything but a zip archive (torch.save's format) reaches torch's old-format unpickler, which
        # fails on random bytes in whatever way they lead it to (IndexError, KeyError...): damage.
        if not zipfile.is_zipfile(path):
            raise _corrupt(path, "not a torch checkpoint") from None
        raise
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint {path!r} holds a {type(checkpoint).__name__}, expected a dict")
    return checkpoint


def _corrupt(path: str, reason: str) -> CorruptCheckpointError:
    """The error for a damaged file, naming the run's checkpoints that are still whole."""
    reason = reason.split(". ")[0].rstrip(".")  # torch's messages go on with advice about weights_only
    message = f"checkpoint {path!r} is corrupt (truncated or damaged: {reason})"
    intact = [other for other in list_checkpoints(os.path.dirname(os.path.abspath(path)))
              if os.path.abspath(other) != os.path.abspath(path) and is_intact(other)]
    if intact:
        names = ", ".join(os.path.basename(other) for other in intact)
        message += (f"; intact checkpoints of the run: {names}: load one instead "
                    f"(--checkpoint {checkpoint_iteration(intact[-1])} on the command line)")
    else:
        message += "; the run holds no other intact checkpoint"
    return CorruptCheckpointError(message)


def _looks_like_torch_file(path: str) -> bool:
    """A zip archive (torch.save's format) or a pickle stream (its legacy one, PROTO opcode first)."""
    with open(path, "rb") as file:
        return zipfile.is_zipfile(file) or file.seek(0) == 0 and file.read(1) == b"\x80"


def is_intact(path: str) -> bool:
    """A whole torch zip archive (every member's CRC checked); cheap next to loading the tensors."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def checkpoint_iteration(path: str) -> int:
    """``.../model_12.pt`` -> 12."""
    return int(os.path.splitext(os.path.basename(path))[0][len("model_"):])


def check_schema(checkpoint: dict, path: str) -> None:
    version = checkpoint.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CheckpointError(
            f"checkpoint {path!r} has schema_version={version!r}; this version of legged_train reads "
            f"schema_version={SCHEMA_VERSION}: on the command line, retrain (or resume from a checkpoint this "
            f"version wrote); from Python, runner.load_checkpoint(path, ckpt_manipulator=fn) converts it, fn "
            f"rewriting the old dict into schema {SCHEMA_VERSION}, and runner.save(path) keeps the result"
        )


def load_checkpoint_file(path: str | os.PathLike, map_location: Any = None) -> dict:
    """Load a checkpoint dict written by ``atomic_torch_save``; raise CheckpointError if unusable."""
    checkpoint = read_checkpoint_dict(path, map_location)
    check_schema(checkpoint, os.fspath(path))
    return checkpoint


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (all devices) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng_state() -> dict:
    """The global RNG states as tensors and plain types (safe for ``weights_only`` loading)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        numpy_state = state["numpy"]
        keys = numpy_state["keys"].numpy().astype(np.uint32)
        np.random.set_state(
            (numpy_state["kind"], keys, numpy_state["pos"], numpy_state["has_gauss"], numpy_state["cached_gaussian"])
        )
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["torch_cuda"]])


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
