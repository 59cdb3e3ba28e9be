"""Typed run configuration shared by every runner, and the helpers the CLI uses on it.

``RunnerConfig`` is the base of ``PPOConfig``, ``DQNConfig`` and ``SACConfig``: the fields that
the runner (not the algorithm) needs. ``config_to_dict`` turns any config dataclass into plain
YAML/JSON-safe data; ``apply_overrides`` sets nested fields from ``{"a.b": value}`` with type checks,
so ``--set train.learning_rate=3e-4`` cannot silently store a string.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import yaml

LOGGER_BACKENDS = ("tensorboard", "wandb", "swanlab")


@dataclass
class RunnerConfig:
    """What every runner needs, whatever the algorithm."""

    seed: int = 0
    # "cpu", "cuda", "cuda:1", or "auto" (cuda when available).
    device: str = "cpu"
    experiment_name: str = "default"
    run_name: str = ""
    # One of LOGGER_BACKENDS or a list of them.
    logger_backend: str | list[str] = "tensorboard"
    # Either kwargs for every backend ({"project": "x"}) or per backend ({"wandb": {...}, "swanlab": {...}}).
    logger_kwargs: dict = field(default_factory=dict)
    # Top-level keys of the env's extras to log under extra/<key>/... (scalars found recursively).
    extra_log_keys: list[str] = field(default_factory=list)
    log_interval: int = 1
    save_interval: int = 50
    # Evaluate on the separate eval env every N iterations during learn; 0 = never.
    eval_interval: int = 0
    eval_episodes: int = 10
    # torch intra-op threads while learning; 0 keeps torch's default. On a small CPU 1 is often
    # fastest: small networks gain little from a second thread, and spinning OpenMP workers fight
    # the simulator's (or another process's) threads for the cores.
    torch_threads: int = 0

    def __post_init__(self) -> None:
        validate_runner_config(self)


def validate_runner_config(cfg: RunnerConfig) -> None:
    """Fail early on values the runner cannot use, naming the field."""
    backends = [cfg.logger_backend] if isinstance(cfg.logger_backend, str) else list(cfg.logger_backend)
    for backend in backends:
        if backend not in LOGGER_BACKENDS:
            raise ValueError(f"logger_backend={backend!r} is not supported; allowed: {list(LOGGER_BACKENDS)}")
    check_fields(cfg, ("log_interval", "save_interval"), lambda v: v >= 1, ">= 1")
    check_fields(cfg, ("eval_interval", "eval_episodes"), lambda v: v >= 0, ">= 0")
    check_fields(cfg, ("torch_threads",), lambda v: v >= 0, ">= 0 (0 = torch's default)")
    resolve_device(cfg.device)


def check_fields(cfg: Any, names: Iterable[str], ok: Callable[[Any], bool], allowed: str) -> None:
    """Raise ``ValueError("<name>=<value> must be <allowed>")`` for the first field in ``names`` that fails ``ok``."""
    for name in names:
        value = getattr(cfg, name)
        if not ok(value):
            raise ValueError(f"{name}={value!r} must be {allowed}")


def resolve_device(device: Any) -> "torch.device":  # noqa: F821 (torch imported lazily)
    """``"auto"`` -> cuda when available, else cpu; anything else must be a valid torch device."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a valid torch device (e.g. 'cpu', 'cuda', 'cuda:0', 'auto')") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r}: CUDA is not available on this machine; use 'cpu' (or 'auto')")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return resolved


def config_to_dict(cfg: Any) -> Any:
    """Plain dicts/lists/scalars from a (nested) config, safe for YAML, JSON and wandb."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {str(k): config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, enum.Enum):
        return cfg.value
    if cfg is None or isinstance(cfg, (bool, int, float, str)):
        return cfg
    if isinstance(cfg, type) or callable(cfg):
        return f"{getattr(cfg, '__module__', '?')}.{getattr(cfg, '__qualname__', repr(cfg))}"
    return str(cfg)  # torch.device, Path, ...


def apply_overrides(cfg: Any, overrides: dict[str, Any]) -> Any:
    """Set ``cfg.<dotted.path> = value`` for each item, in place; returns ``cfg``.

    Values may be typed already or strings from the command line (parsed as YAML: ``3e-4``,
    ``[128, 64]``, ``true``). Each value is checked against the field's annotation; a wrong
    path or type raises ``ValueError`` naming the path, the value and what is allowed.
    Paths may go through nested dataclasses and dicts (``actor_cfg.hidden_dims``).
    """
    # A config that renamed fields maps the old spellings itself (LeggedEnvConfig.upgrade_overrides).
    if hasattr(cfg, "upgrade_overrides"):
        overrides = cfg.upgrade_overrides(overrides)
    touched: list[Any] = []
    for path, raw_value in overrides.items():
        parts = path.split(".")
        target = cfg
        for depth, name in enumerate(parts[:-1]):
            target = _child(target, name, ".".join(parts[: depth + 1]))
        _set_field(target, parts[-1], raw_value, path)
        if dataclasses.is_dataclass(target) and not any(target is t for t in touched):
            touched.append(target)
    # Validate once all values are in, so related fields (min/max) can change together.
    for target in touched:
        if hasattr(target, "__post_init__"):
            target.__post_init__()
    return cfg


def parse_override_strings(items: list[str]) -> dict[str, str]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": "1", "c": "x"}`` for apply_overrides."""
    parsed = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like path.to.field=value")
        key, value = item.split("=", 1)
        parsed[key.strip()] = value
    return parsed


def split_env_train_overrides(items: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """``--set`` items -> (env overrides, train overrides): keys start with ``env.`` or ``train.``."""
    sections: dict[str, dict[str, str]] = {"env": {}, "train": {}}
    for key, value in parse_override_strings(items).items():
        section, _, path = key.partition(".")
        if section not in sections or not path:
            raise ValueError(f"--set {key}=...: keys start with 'env.' or 'train.' (e.g. env.num_envs=512)")
        sections[section][path] = value
    return sections["env"], sections["train"]


def _child(obj: Any, name: str, path: str) -> Any:
    if dataclasses.is_dataclass(obj):
        names = [f.name for f in dataclasses.fields(obj)]
        if name not in names:
            raise ValueError(f"unknown config field {path!r}; allowed at this level: {names}")
        return getattr(obj, name)
    if isinstance(obj, dict):
        if name not in obj:
            raise ValueError(f"unknown key {path!r}; allowed at this level: {sorted(obj)}")
        return obj[name]
    raise ValueError(f"cannot descend into {path!r}: it holds a {type(obj).__name__}, not a config")


def _set_field(obj: Any, name: str, raw_value: Any, path: str) -> None:
    if isinstance(obj, dict):
        value = _parse(raw_value)
        if name in obj and obj[name] is not None and value is not None:
            expected = type(obj[name])
            value = _coerce(value, expected, path)
        obj[name] = value
        return
    if not dataclasses.is_dataclass(obj):
        raise ValueError(f"cannot set {path!r}: its parent is a {type(obj).__name__}, not a config")
    names = [f.name for f in dataclasses.fields(obj)]
    if name not in names:
        raise ValueError(f"unknown config field {path!r}; allowed at this level: {names}")
    hints = typing.get_type_hints(type(obj))
    setattr(obj, name, _coerce(_parse(raw_value), hints.get(name, Any), path))


def _parse(raw_value: Any) -> Any:
    if not isinstance(raw_value, str) or not raw_value.strip():
        return raw_value
    try:
        value = yaml.safe_load(raw_value)
    except yaml.YAMLError:
        return raw_value
    if isinstance(value, str):
        # YAML 1.1 reads "3e-4" (no dot) as a string; numbers written that way are still numbers.
        for number_type in (int, float):
            try:
                return number_type(value)
            except ValueError:
                pass
    return value


def _coerce(value: Any, annotation: Any, path: str) -> Any:
    """Return ``value`` as ``annotation`` or raise a ValueError that says what was expected."""
    if annotation is Any:
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        errors = []
        # Try the non-str members first so "3" becomes 3 for ``int | str``.
        for member in sorted(args, key=lambda a: a is str):
            if member is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, member, path)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(f"{path}={value!r} does not match {_type_name(annotation)}")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{path}={value!r} is not allowed; allowed: {list(args)}")
        return value
    if origin in (list, tuple):
        if isinstance(value, (list, tuple)):
            item_type = args[0] if args and (origin is list or (len(args) == 2 and args[1] is Ellipsis)) else Any
            items = [_coerce(v, item_type, f"{path}[{i}]") for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
        raise ValueError(f"{path}={value!r} must be a list ({_type_name(annotation)})")
    if origin is dict or annotation is dict:
        if isinstance(value, dict):
            return value
        raise ValueError(f"{path}={value!r} must be a mapping such as {{key: value}}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{path}={value!r} must be a bool (true/false)")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{path}={value!r} must be an int")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{path}={value!r} must be a number")
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"{path}={value!r} must be a string")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            raise ValueError(f"{path}={value!r} is not allowed; allowed: {[m.value for m in annotation]}") from None
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if isinstance(value, dict):
            instance = annotation()
            apply_overrides(instance, {k: v for k, v in value.items()})
            return instance
        raise ValueError(f"{path}={value!r} must be a mapping of {annotation.__name__} fields")
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise ValueError(f"{path}={value!r} must be a {annotation.__name__}")
    return value


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is not None:
        return str(annotation).replace("typing.", "")
    return getattr(annotation, "__name__", str(annotation))
