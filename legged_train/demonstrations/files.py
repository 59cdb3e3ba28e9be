"""The on-disk format of a demonstrations folder: numpy ``.npz`` slices and a JSON metadata file.

::

    save_dir/metadata.json                      counts, collection config, observation layouts, policy
    save_dir/trajectory_<k>/traj_<start>_<end>.npz   steps [start, end) of trajectory k

Datasets are shared between people, so nothing here is pickled: every array is a plain numeric
(or unicode) array, read with ``np.load(..., allow_pickle=False)``, and each file carries its own
JSON ``header`` (a 0-d unicode array) that says how to decode it. Arrays of a slice of T steps:

- ``obs.<group>``: float32 (T, D') - the group's columns that are stored at full precision
  (all D of them when the group has no compressed segment: then it is the group as the env gave it);
- ``obs.<group>.<segment>``: a compressed segment (see ``ENCODINGS``; its columns, in the header,
  are the segment's in every step of the group's history), with ``obs.<group>.<segment>.min`` /
  ``.scale`` (float64 per column) for the quantized ones;
- ``actions`` float32 (T, A): what the policy sent to the env; ``action_mean`` float32 (T, A) when
  actions were sampled and the policy exposes its mean;
- ``rewards`` float32 (T,), ``dones`` / ``time_outs`` / ``terminated`` bool (T,);
- ``hidden_states.<i>`` float32 (T, ...) for recurrent policies that expose them;
- in the slice that ends a trajectory (``header["finished"]``): ``final_obs.<group>`` float32
  (1, D), the observation the trajectory ended with (before the env's reset), always full precision.

Writes are atomic: a slice is written to a hidden temp file and renamed; a trajectory's first
slice is written inside a hidden temp folder that is renamed to ``trajectory_<k>`` (so a visible
trajectory folder is never empty), and a folder is removed by renaming it to a hidden name first.
Readers ignore names that start with ``.``; the next writer removes such leftovers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from typing import Any

import numpy as np

FORMAT_NAME = "legged_train.demonstrations"
FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
TEMP_PREFIX = ".tmp_"
TRAJ_DIR = re.compile(r"trajectory_(\d+)")
SLICE_FILE = re.compile(r"traj_(\d+)_(\d+)\.npz")

# Encodings of an observation segment and the largest error |x - decoded| each allows:
#   float32  exact;
#   float16  max(2**-11 * |x|, 2**-25) (round to nearest half precision); |x| above 65504 is refused;
#   uint16   (max - min) / (2 * 65535) of the column within the file, plus float32 rounding of the result;
#   uint8    (max - min) / (2 * 255) of the column within the file, plus float32 rounding of the result.
#   normalized_image         uint8 codes of pixels in [0, 1] on a fixed scale (no per-file min and
#                            scale): 1 / (2 * 255) (a depth_image term: 3.7 mm of a 1.9 m range);
#   normalized_image_uint16  the same on 65535 levels: 1 / (2 * 65535) (0.015 mm).
# Quantized columns store their min and scale per file, so a constant column decodes exactly; the
# normalized_image ones refuse values outside [0, 1] (the seed's {"forward_rgb": "normalized_image"}).
ENCODINGS = ("float32", "float16", "uint16", "uint8", "normalized_image", "normalized_image_uint16")
_LEVELS = {"uint8": 255, "uint16": 65535}
_IMAGE_LEVELS = {"normalized_image": 255, "normalized_image_uint16": 65535}
FLOAT16_MAX = 65504.0


def trajectory_dir_name(index: int) -> str:
    return f"trajectory_{index}"


def slice_file_name(start: int, end: int) -> str:
    return f"traj_{start}_{end}.npz"


# ------------------------------------------------------------------------------- layouts


def normalize_layout(entries: Any) -> list[list]:
    """``[("joint_pos", 12), ...]`` (or ``{"joint_pos": 12, ...}``) -> ``[["joint_pos", 12], ...]`` (JSON-able)."""
    if isinstance(entries, dict):
        entries = list(entries.items())
    return [[str(name), int(width)] for name, width in entries]


def normalize_layouts(layouts: dict) -> dict[str, list[list]]:
    return {str(group): normalize_layout(entries) for group, entries in layouts.items()}


def layout_mismatch(stored: list, expected: list) -> str | None:
    """None when two layouts of a group are equal, else what differs first (for error messages)."""
    stored, expected = normalize_layout(stored), normalize_layout(expected)
    for i, (a, b) in enumerate(zip(stored, expected)):
        if a != b:
            return f"term {i} is {tuple(a)} in the data, {tuple(b)} in the env"
    if len(stored) != len(expected):
        stored_width, expected_width = sum(w for _, w in stored), sum(w for _, w in expected)
        extra = [tuple(t) for t in stored[len(expected):]] or [tuple(t) for t in expected[len(stored):]]
        where = "data" if len(stored) > len(expected) else "env"
        return (
            f"the data has {len(stored)} terms ({stored_width} columns), the env {len(expected)} ({expected_width} columns); "
            f"only the {where} has {extra}"
        )
    return None


def resolve_compression(
    mapping: dict | None, layouts: dict[str, list[list]], history: dict[str, int] | None = None
) -> dict[str, list[tuple[str, list[list[int]], str]]]:
    """``obs_disassemble_mapping`` -> ``{group: [(segment, column ranges, encoding), ...]}``.

    ``mapping`` is ``{group: {segment: encoding}}`` (segments named by the observation layout) or
    ``{group: encoding}`` for every segment of the group. A group that stacks H steps of history
    (``history[group]``) holds each segment H times: all of them are compressed alike. float32
    segments are left out (stored as is).
    """
    resolved: dict[str, list[tuple[str, list[list[int]], str]]] = {}
    for group, spec in (mapping or {}).items():
        if group not in layouts:
            raise ValueError(f"obs_disassemble_mapping names group {group!r}; the env's observation groups are {sorted(layouts)}")
        step_width = sum(w for _, w in layouts[group])
        steps = int((history or {}).get(group, 1))
        columns, col = {}, 0
        for name, width in layouts[group]:
            if name in columns:
                raise ValueError(f"observation group {group!r} names segment {name!r} twice; it cannot be compressed by name")
            columns[name] = [[k * step_width + col, k * step_width + col + width] for k in range(steps)]
            col += width
        if isinstance(spec, str):
            spec = {name: spec for name in columns}
        if not isinstance(spec, dict):
            raise ValueError(
                f"obs_disassemble_mapping[{group!r}]={spec!r}: must be an encoding or a dict {{segment: encoding}}; "
                f"encodings: {list(ENCODINGS)}"
            )
        segments = []
        for name, encoding in spec.items():
            if name not in columns:
                raise ValueError(f"obs_disassemble_mapping[{group!r}] names segment {name!r}; group {group!r} has {list(columns)}")
            if encoding not in ENCODINGS:
                raise ValueError(f"obs_disassemble_mapping[{group!r}][{name!r}]={encoding!r}: allowed: {list(ENCODINGS)}")
            if encoding != "float32":
                segments.append((name, columns[name], encoding))
        if segments:
            resolved[group] = sorted(segments, key=lambda s: s[1][0][0])
    return resolved


def _columns(ranges: list[list[int]]) -> np.ndarray:
    return np.concatenate([np.arange(first, end) for first, end in ranges])


# ------------------------------------------------------------------------------ encoding


def encode_segment(x: np.ndarray, encoding: str, what: str) -> dict[str, np.ndarray]:
    """Arrays (by key suffix) that store ``x`` (T, W) float32 in ``encoding``."""
    if encoding == "float32":
        return {"": np.ascontiguousarray(x, dtype=np.float32)}
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN/Inf: it cannot be stored as {encoding}; store it as float32")
    if encoding == "float16":
        peak = float(np.abs(x).max(initial=0.0))
        if peak > FLOAT16_MAX:
            raise ValueError(f"{what} reaches |x|={peak:g}, beyond float16's {FLOAT16_MAX:g}; store it as uint16, uint8 or float32")
        return {"": x.astype(np.float16)}
    if encoding in _IMAGE_LEVELS:
        low, high = float(x.min(initial=0.0)), float(x.max(initial=0.0))
        if low < 0.0 or high > 1.0:
            raise ValueError(f"{what} holds values in [{low:g}, {high:g}]; {encoding} stores pixels in [0, 1]: "
                             "store it as uint8 or uint16 (per-column range) or float32")
        levels = _IMAGE_LEVELS[encoding]
        return {"": np.rint(x.astype(np.float64) * levels).astype(np.uint8 if levels == 255 else np.uint16)}
    levels = _LEVELS[encoding]
    x64 = x.astype(np.float64)
    low = x64.min(axis=0) if len(x64) else np.zeros(x.shape[1])
    high = x64.max(axis=0) if len(x64) else np.zeros(x.shape[1])
    scale = (high - low) / levels
    safe = np.where(scale > 0.0, scale, 1.0)  # a constant column: every value is its min
    codes = np.clip(np.rint((x64 - low) / safe), 0, levels)
    return {"": codes.astype(np.uint8 if levels == 255 else np.uint16), ".min": low, ".scale": scale}


def decode_segment(arrays: dict[str, np.ndarray], encoding: str) -> np.ndarray:
    if encoding in ("float32", "float16"):
        return arrays[""].astype(np.float32)
    if encoding in _IMAGE_LEVELS:
        return (arrays[""].astype(np.float64) / _IMAGE_LEVELS[encoding]).astype(np.float32)
    return (arrays[".min"] + arrays[""].astype(np.float64) * arrays[".scale"]).astype(np.float32)


def encode_group(group: str, x: np.ndarray, segments: list | None) -> tuple[dict, list]:
    """Arrays of one observation group (T, D) and the header entry listing its compressed segments."""
    arrays: dict[str, np.ndarray] = {}
    keep = np.ones(x.shape[1], dtype=bool)
    for name, ranges, encoding in segments or []:
        columns = _columns(ranges)
        keep[columns] = False
        for suffix, value in encode_segment(x[:, columns], encoding, f"observation segment {group}.{name}").items():
            arrays[f"obs.{group}.{name}{suffix}"] = value
    arrays[f"obs.{group}"] = np.ascontiguousarray(x[:, keep], dtype=np.float32)
    return arrays, [[name, ranges, encoding] for name, ranges, encoding in segments or []]


def decode_group(data, group: str, dim: int, segments: list) -> np.ndarray:
    plain = data[f"obs.{group}"]
    out = np.empty((plain.shape[0], dim), dtype=np.float32)
    keep = np.ones(dim, dtype=bool)
    for name, ranges, encoding in segments:
        columns = _columns(ranges)
        keep[columns] = False
        key = f"obs.{group}.{name}"
        parts = {suffix: data[key + suffix] for suffix in ("", ".min", ".scale") if key + suffix in data}
        out[:, columns] = decode_segment(parts, encoding)
    out[:, keep] = plain
    return out


# -------------------------------------------------------------------------------- files


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_npz_atomic(path: str, arrays: dict[str, np.ndarray], header: dict) -> None:
    """Write ``arrays`` and the JSON ``header`` to ``path`` as an .npz, via a hidden temp file and a rename."""
    directory = os.path.dirname(path)
    fd, tmp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as readable as any other file the process writes
        with os.fdopen(fd, "wb") as file:
            np.savez(file, header=np.array(json.dumps(header)), **arrays)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def write_new_dir_atomic(parent: str, name: str, file_name: str, arrays: dict, header: dict) -> None:
    """Create ``parent/name/file_name`` so that ``parent/name`` never exists without the file."""
    tmp_dir = tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent)
    try:
        os.chmod(tmp_dir, 0o777 & ~_umask())
        write_npz_atomic(os.path.join(tmp_dir, file_name), arrays, header)
        os.rename(tmp_dir, os.path.join(parent, name))  # fails if a folder of that name holds files
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise


def remove_dir_atomic(path: str) -> None:
    """Hide the folder by a rename, then delete it: a reader (or a kill) never sees it half removed."""
    hidden = os.path.join(os.path.dirname(path), f"{TEMP_PREFIX}removed_{uuid.uuid4().hex}")
    try:
        os.rename(path, hidden)
    except FileNotFoundError:
        return
    shutil.rmtree(hidden, ignore_errors=True)


def remove_temp_entries(directory: str) -> None:
    """Remove what a killed writer left: hidden temp files and folders, here and one level down."""
    for entry in list(os.scandir(directory)):
        if entry.name.startswith(TEMP_PREFIX):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.remove(entry.path)
        elif entry.is_dir(follow_symlinks=False) and TRAJ_DIR.fullmatch(entry.name):
            for inner in list(os.scandir(entry.path)):
                if inner.name.startswith(TEMP_PREFIX):
                    os.remove(inner.path)


def write_json_atomic(path: str, obj: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(obj, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def read_metadata(directory: str) -> dict | None:
    """``directory/metadata.json`` or None when there is none; a file of another format is an error."""
    path = os.path.join(directory, METADATA_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            metadata = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not a legged_train demonstrations metadata file (format {FORMAT_NAME!r})")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version={metadata.get('format_version')!r}; this version of legged_train reads {FORMAT_VERSION}"
        )
    return metadata


# ------------------------------------------------------------------------------ listing


def list_trajectory_dirs(directory: str) -> dict[int, str]:
    """``{k: path}`` of the visible ``trajectory_<k>`` folders."""
    found = {}
    for entry in os.scandir(directory):
        match = TRAJ_DIR.fullmatch(entry.name)
        if match and entry.is_dir():
            found[int(match.group(1))] = entry.path
    return found


def list_slices(folder: str) -> list[tuple[int, int, str]]:
    """``(start, end, path)`` of a trajectory folder's slice files, in step order."""
    slices = []
    for name in os.listdir(folder):
        match = SLICE_FILE.fullmatch(name)
        if match:
            slices.append((int(match.group(1)), int(match.group(2)), os.path.join(folder, name)))
    return sorted(slices)


class DamagedFileError(ValueError):
    """A slice file that is not a whole .npz (truncated, overwritten): never written so by this
    module (its writes are atomic), so it was damaged afterwards (a full disk, a copy cut short)."""


def check_slice(path: str) -> None:
    """Raise DamagedFileError unless ``path`` is a whole .npz with a header. Cheap: it reads the
    zip's directory (a truncated file has none) and the header, not the arrays."""
    try:
        with zipfile.ZipFile(path) as archive:
            if "header.npy" not in archive.namelist():
                raise DamagedFileError(f"{path} is damaged: it has no header")
    except (zipfile.BadZipFile, EOFError) as err:
        raise DamagedFileError(f"{path} is damaged (not a whole .npz file: {err})") from None


def read_header(path: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["header"]))
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError) as err:
        raise DamagedFileError(f"{path} is damaged (not a whole .npz file: {type(err).__name__}: {err})") from None


def read_slice(path: str, groups: list[str] | None = None) -> dict:
    """One slice file decoded: ``{"header", "obs": {group: (T, D)}, "final_obs": {group: (D,)}, "actions", ...}``.

    ``groups`` limits the observation groups decoded (default: all)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            out: dict[str, Any] = {"header": header, "obs": {}, "final_obs": {}}
            for group, entry in header["groups"].items():
                if groups is None or group in groups:
                    out["obs"][group] = decode_group(data, group, entry["dim"], entry["segments"])
                    if f"final_obs.{group}" in data:
                        out["final_obs"][group] = data[f"final_obs.{group}"][0].astype(np.float32)
            for key in ("actions", "action_mean", "rewards", "dones", "time_outs", "terminated"):
                if key in data:
                    out[key] = data[key]
            out["hidden_states"] = [data[f"hidden_states.{i}"] for i in range(header.get("num_hidden_states", 0))]
    except (OSError, ValueError, KeyError, json.JSONDecodeError, zipfile.BadZipFile, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise DamagedFileError(f"{path} is damaged: not a readable trajectory slice ({type(err).__name__}: {err})") from None
    return out


def read_trajectory(folder: str, groups: list[str] | None = None) -> dict | None:
    """A whole trajectory (its slices concatenated), or None while it is not finished.

    Same keys as ``read_slice`` (without ``header``), plus ``length``, ``trajectory`` and ``env`` (the slot that made it)."""
    slices = list_slices(folder)
    if not slices:
        return None
    parts = [read_slice(path, groups) for _, _, path in slices]
    if not parts[-1]["header"]["finished"]:
        return None
    expected = 0
    for (start, end, path), part in zip(slices, parts):
        if start != expected or len(part["rewards"]) != end - start:
            raise ValueError(f"{path}: steps [{start}, {end}) do not continue the slices before it (next step {expected})")
        expected = end
    first = parts[0]["header"]
    out: dict[str, Any] = {"trajectory": first["trajectory"], "env": first.get("env"), "length": expected}
    out["final_obs"] = parts[-1]["final_obs"]
    out["obs"] = {g: np.concatenate([p["obs"][g] for p in parts]) for g in parts[0]["obs"]}
    for key in ("actions", "action_mean", "rewards", "dones", "time_outs", "terminated"):
        if all(key in p for p in parts):
            out[key] = np.concatenate([p[key] for p in parts])
    out["hidden_states"] = [np.concatenate(states) for states in zip(*(p["hidden_states"] for p in parts))]
    return out
