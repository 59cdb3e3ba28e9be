"""Run folders for the command lines: where a run goes, what a recorded run was configured with,
and cleaning up after a run that failed before its first checkpoint.

Runs live in ``<log root>/<experiment>/<YYYY-mm-dd_HH-MM-SS>[_<run name>]/`` with config.yaml (the
resolved env and training config) and ``model_<iteration>.pt`` checkpoints.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time

from legged_train.cli.common import UserError
from legged_train.config import apply_overrides

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# In a checkout (editable install) runs go to the repository's logs/, as they always have; an
# installed package has no repository, so runs go to ./logs of the folder the command runs in.
IN_CHECKOUT = os.path.isfile(os.path.join(PACKAGE_PARENT, "pyproject.toml"))
DEFAULT_LOG_ROOT = os.path.join(PACKAGE_PARENT, "logs") if IN_CHECKOUT else os.path.abspath("logs")


def experiment_name_of(task_name: str, explicit: str | None = None) -> str:
    """The folder under the log root: ``--experiment-name`` (or ``--set train.experiment_name=``) when
    given, else the task's name: a task that reuses another task's training config must not log
    into that task's folder. A ``module:attribute`` task name becomes ``module.attribute``."""
    return explicit or task_name.replace(":", ".")


def read_run_yaml(run_dir: str) -> dict:
    """A run's config.yaml as a dict ({} when it has none); a damaged file is one line naming its line."""
    import yaml

    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as file:
            data = yaml.safe_load(file)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context, start = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and start is not None and (mark is None or start.line != mark.line):
            problem += f", {context} at line {start.line + 1}"  # an unclosed bracket: where it opened
        raise UserError(
            f"{path} is not valid YAML{where} ({problem}): fix that line (the file holds the run's env config, "
            "which replay and resume need)"
        ) from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not a text file ({err.reason} at byte {err.start}): restore the run's config.yaml") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path} holds a {type(data).__name__}, not the run's config mapping: restore the file")
    return data


def run_task_name(run_dir: str, checkpoint: dict) -> str:
    """The task a run trained: its config.yaml's, else its checkpoint's identity."""
    task = read_run_yaml(run_dir).get("task") or (checkpoint.get("identity") or {}).get("task")
    if not task:
        raise UserError(f"{run_dir}: neither its config.yaml nor its checkpoint names the task it trained")
    return str(task)


def load_run_configs(task, checkpoint: dict, run_dir: str):
    """The task's configs with a run's recorded settings applied (checkpoint: train; config.yaml: env)."""
    env_cfg, train_cfg = task.env_cfg, task.train_cfg
    train_fields = set(vars(train_cfg))
    saved_train = {k: v for k, v in checkpoint.get("config", {}).items() if k in train_fields and k != "device"}
    apply_overrides(train_cfg, saved_train)
    saved_env = read_run_yaml(run_dir).get("env")
    if isinstance(saved_env, dict):
        apply_overrides(env_cfg, _flatten(saved_env, env_cfg))
        if hasattr(env_cfg, "validate"):
            env_cfg.validate()  # also turns the mappings set whole (observation groups) back into configs
    return env_cfg, train_cfg


def load_run(task, log_root: str, experiment_name: str | None, load_run: str | None, checkpoint: str | None):
    """A recorded run to replay or continue: ``(checkpoint path, checkpoint dict, env_cfg, train_cfg)``.

    The checkpoint is read with weights_only and must belong to ``task``; the configs are the run's."""
    from legged_train.checkpoint import find_checkpoint, read_checkpoint_dict
    from legged_train.runners.base import check_identity

    experiment = experiment_name_of(task.name, experiment_name)
    path = os.path.abspath(find_checkpoint(os.path.join(log_root, experiment), load_run, checkpoint))
    state = read_checkpoint_dict(path, map_location="cpu")
    check_identity(state, {"task": task.name}, path)
    env_cfg, train_cfg = load_run_configs(task, state, os.path.dirname(path))
    return path, state, env_cfg, train_cfg


def _flatten(tree: dict, cfg, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` through nested config dataclasses; a dict-valued field
    (reward weights, observation groups) is set whole, so a run's own keys that the task's defaults
    lack (a group added with --set) come back too."""
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        child = getattr(cfg, key, None)
        if isinstance(value, dict) and value and dataclasses.is_dataclass(child):
            flat.update(_flatten(value, child, path + "."))
        else:
            flat[path] = value
    return flat


def new_run_dir(log_root: str, experiment_name: str, run_name: str) -> str:
    """A fresh run folder path (made when training starts, so a failed start leaves nothing behind)."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    name = f"{stamp}_{run_name}" if run_name else stamp
    run_dir = os.path.join(log_root, experiment_name, name)
    suffix = 1
    while os.path.exists(run_dir):  # two runs started within the same second
        run_dir = os.path.join(log_root, experiment_name, f"{name}_{suffix}")
        suffix += 1
    return run_dir


def remove_unfinished_run(run_dir: str | None, is_new_run: bool) -> None:
    """A new run that failed before its first checkpoint leaves no folder behind (nor an empty
    experiment folder it made)."""
    from legged_train.checkpoint import list_checkpoints

    if run_dir is None or not is_new_run or not os.path.isdir(run_dir) or list_checkpoints(run_dir):
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(run_dir))  # only if empty: other runs of the experiment stay
    except OSError:
        pass
