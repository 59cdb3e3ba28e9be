"""Scalar logging to TensorBoard (default), wandb and SwanLab, behind one small class.

Runners hand ``Logger.log_scalars`` a flat ``{name: value}`` dict and a step; every backend gets
the same names. wandb and SwanLab are optional extras, imported only when asked for, and run
offline (files under the run directory, nothing sent anywhere) unless ``WANDB_MODE`` /
``SWANLAB_MODE`` say otherwise.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
from typing import Any, Iterable

import torch

from legged_train.config import LOGGER_BACKENDS

SKIPPED_EXTRAS = ("final_observation", "final_critic_observation", "observations")


class Logger:
    def __init__(
        self,
        log_dir: str,
        backend: str | Iterable[str] = "tensorboard",
        backend_kwargs: dict | None = None,
        config: dict | None = None,
        purge_step: int | None = None,
    ):
        """``purge_step``: a resumed run's first step; TensorBoard then hides what an earlier
        process of the same run logged from that step on (it was lost with that process)."""
        self.log_dir = str(log_dir)
        self.backends = [backend] if isinstance(backend, str) else list(backend)
        for name in self.backends:
            if name not in LOGGER_BACKENDS:
                raise ValueError(f"logger backend {name!r} is not supported; allowed: {list(LOGGER_BACKENDS)}")
        os.makedirs(self.log_dir, exist_ok=True)
        backend_kwargs = backend_kwargs or {}
        self._writers: dict[str, Any] = {}
        for name in self.backends:
            kwargs = _kwargs_for(name, backend_kwargs)
            if name == "tensorboard":
                self._writers[name] = _open_tensorboard(self.log_dir, kwargs, purge_step)
            elif name == "wandb":
                self._writers[name] = _open_wandb(self.log_dir, kwargs, config)
            elif name == "swanlab":
                self._writers[name] = _open_swanlab(self.log_dir, kwargs, config)

    def log_scalars(self, scalars: dict[str, float | torch.Tensor], step: int) -> None:
        values = {key: _to_float(value) for key, value in scalars.items()}
        for name, writer in self._writers.items():
            if name == "tensorboard":
                for key, value in values.items():
                    writer.add_scalar(key, value, global_step=step)
            else:  # wandb and swanlab runs share the log(dict, step=) call
                writer.log(values, step=step)

    def flush(self) -> None:
        if "tensorboard" in self._writers:
            self._writers["tensorboard"].flush()

    def close(self) -> None:
        for name, writer in self._writers.items():
            if name == "tensorboard":
                writer.close()
            else:
                writer.finish()
        self._writers = {}


def flatten_extras(extras: dict, keys: Iterable[str]) -> dict[str, float]:
    """Scalars found under ``extras[key]`` (recursively) as ``extra/<key>/<sub>/...``.

    Tensors with one element become floats; tensors with more are averaged (bool masks such
    as ``time_outs`` become the fraction of envs). Observation payloads and non-numeric
    values are skipped.
    """
    flat: dict[str, float] = {}
    for key in keys:
        if key in SKIPPED_EXTRAS or key not in extras:
            continue
        _flatten_into(flat, f"extra/{key}", extras[key])
    return flat


def _flatten_into(flat: dict[str, float], prefix: str, value: Any) -> None:
    if isinstance(value, dict):
        for sub_key, sub_value in value.items():
            if sub_key in SKIPPED_EXTRAS:
                continue
            _flatten_into(flat, f"{prefix}/{str(sub_key).strip('/')}", sub_value)
        return
    if isinstance(value, torch.Tensor):
        if value.numel() == 0 or not (value.dtype.is_floating_point or value.dtype in _COUNTABLE_DTYPES):
            return
        flat[prefix] = value.float().mean().item()
    elif isinstance(value, (bool, int, float)):
        flat[prefix] = float(value)


_COUNTABLE_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _to_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return value.detach().float().mean().item()
    return float(value)


def _kwargs_for(name: str, backend_kwargs: dict) -> dict:
    """Per-backend kwargs when the dict is keyed by backend name, else the same kwargs for all."""
    if any(key in LOGGER_BACKENDS for key in backend_kwargs):
        return dict(backend_kwargs.get(name, {}))
    return dict(backend_kwargs)


def _open_tensorboard(log_dir: str, kwargs: dict, purge_step: int | None = None):
    from torch.utils.tensorboard import SummaryWriter

    kwargs.pop("project", None)  # a project name means nothing to TensorBoard
    kwargs.pop("tags", None)
    kwargs = {k: v for k, v in kwargs.items() if k in ("flush_secs", "max_queue")}
    return SummaryWriter(log_dir=log_dir, purge_step=purge_step, **kwargs)


def check_backends(backend: str | Iterable[str], backend_kwargs: dict) -> None:
    """What would make a backend fail when the run starts, found before the run folder is made:
    an extra that is not installed (ImportError), wandb online without a login (ValueError)."""
    backends = [backend] if isinstance(backend, str) else list(backend)
    for name in backends:
        if name in ("wandb", "swanlab"):
            importlib.util.find_spec(name) or _import_backend(name)  # the ImportError that names the extra
        if name == "wandb":
            _check_wandb_login(_kwargs_for(name, backend_kwargs))


def _check_wandb_login(kwargs: dict) -> None:
    """wandb online needs an API key: WANDB_API_KEY, an identity token file, the netrc entry
    ``wandb login`` writes, or the key in wandb's settings file. Looked up as wandb does, without it."""
    import netrc
    from urllib.parse import urlparse

    mode = kwargs.get("mode") or os.environ.get("WANDB_MODE", "offline")
    if mode in ("offline", "disabled", "dryrun") or os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    for path in (os.environ.get("NETRC"), os.path.expanduser("~/.netrc"), os.path.expanduser("~/_netrc")):
        if path and os.path.isfile(path):
            try:
                if netrc.netrc(path).authenticators(host):
                    return
            except (netrc.NetrcParseError, OSError):
                pass  # wandb would not read it either
    config_dir = os.environ.get("WANDB_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".config", "wandb")
    settings = os.path.join(config_dir, "settings")
    if os.path.isfile(settings):
        import configparser

        parser = configparser.ConfigParser()
        try:
            parser.read(settings)
            if parser.get("default", "api_key", fallback=""):
                return
        except configparser.Error:
            pass
    raise ValueError(
        f"logger wandb in mode {mode!r} needs a login and none was found (no WANDB_API_KEY, no {host} entry in "
        f"~/.netrc): run `wandb login`, or set WANDB_API_KEY, or log offline with WANDB_MODE=offline"
    )


def _open_wandb(log_dir: str, kwargs: dict, config: dict | None):
    wandb = _import_backend("wandb")
    _offline_defaults(kwargs, "WANDB_MODE")
    kwargs.setdefault("name", os.path.basename(os.path.normpath(log_dir)))
    return wandb.init(dir=log_dir, config=config, **kwargs)


def _open_swanlab(log_dir: str, kwargs: dict, config: dict | None):
    swanlab = _import_backend("swanlab")
    # "offline" keeps the run under log_dir for a later `swanlab sync`; "local" needs swanboard.
    _offline_defaults(kwargs, "SWANLAB_MODE")
    name = os.path.basename(os.path.normpath(log_dir))
    parameters = inspect.signature(swanlab.init).parameters
    # SwanLab renamed logdir -> log_dir and experiment_name -> name across releases.
    dir_key = "log_dir" if "log_dir" in parameters else "logdir"
    name_key = "name" if "name" in parameters else "experiment_name"
    kwargs.setdefault(name_key, name)
    kwargs.setdefault(dir_key, os.path.join(log_dir, "swanlog"))
    if "reinit" in parameters:
        kwargs.setdefault("reinit", True)
    return swanlab.init(config=config, **kwargs)


def _import_backend(name: str):
    """The optional backend's module, or an ImportError that says which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(f"logger_backend {name!r} needs the {name} extra: pip install 'legged-train[{name}]'") from err


def _offline_defaults(kwargs: dict, mode_variable: str) -> None:
    """Offline unless the environment variable says otherwise; runs grouped under one project."""
    kwargs.setdefault("mode", os.environ.get(mode_variable, "offline"))
    kwargs.setdefault("project", "legged-train")
