"""Which runner trains what: a registry of runner classes, and ``make_runner``.

Each runner module registers its runner for the config classes it trains (``PPOConfig`` ->
``OnPolicyRunner``) and, where ``Algorithm.learn()`` delegates to it, for the algorithm class
(``PPO`` -> ``OnPolicyRunner``). Lookups walk the key's class hierarchy, so a config subclass without
a runner of its own gets its parent's. A task may name another runner (``register_task(...,
runner_cls=...)``), which ``make_runner`` then uses.

This module imports no runner and no algorithm: the algorithms look their runner up here, and the
runners, which import the algorithms, fill it in. The built-in runner modules are imported by name on
the first lookup, so a lookup finds them whatever was imported before.
"""

from __future__ import annotations

import importlib

# Importing one of these registers its runners (register_runner calls at the end of the module).
BUILTIN_RUNNER_MODULES = (
    "legged_train.runners.on_policy_runner",
    "legged_train.runners.two_stage_runner",
    "legged_train.runners.amp_policy_runner",
    "legged_train.runners.distillation_runner",
    "legged_train.runners.off_policy_runner",
)

# config class or algorithm class -> runner class
_RUNNERS: dict[type, type] = {}
_builtins_loaded = False


def register_runner(key: type, runner_cls: type) -> None:
    """Make ``runner_cls`` the runner of ``key`` (a config class or an algorithm class) and its subclasses."""
    _RUNNERS[key] = runner_cls


def runner_class(key: type) -> type:
    """The runner registered for ``key`` or its nearest base class; TypeError naming what is registered."""
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN_RUNNER_MODULES:
            importlib.import_module(module)
    for cls in key.__mro__:
        if cls in _RUNNERS:
            return _RUNNERS[cls]
    raise TypeError(
        f"no runner for {key.__name__}; runners are registered for: {', '.join(sorted(k.__name__ for k in _RUNNERS))} "
        "(register_runner(YourConfig, YourRunner), or pass runner_cls=)"
    )


def make_runner(env, train_cfg, log_dir: str | None, device, runner_cls: type | None = None, **runner_kwargs):
    """Build ``runner_cls`` (default: the runner registered for the config's type) for ``env``.

    ``runner_kwargs`` (``eval_env=``...) go to the runner; ``log_dir=None`` writes nothing (play.py
    replays a run that way).
    """
    if runner_cls is None:
        runner_cls = runner_class(type(train_cfg))
    return runner_cls(env, cfg=train_cfg, log_dir=log_dir, device=device, **runner_kwargs)
