"""Task registry: a name maps to an env config, a training config, how to build the env and which
runner trains it.

A task is data: a small module calls `register_task` with factories returning fresh dataclass
instances, so every `get_task` hands out configs the caller may edit freely. `runner_cls` names the
runner class (`make_runner(..., runner_cls=task.runner_cls)`); left out (None), it is the runner
registered for the training config's type (`legged_train.runners.registry`: PPOConfig ->
OnPolicyRunner, AMPConfig -> AmpPolicyRunner, ...), so tasks and plugins that do not name one keep working.

Tasks from outside this package, without editing it:

- `get_task("my_pkg.my_tasks:my_task")` imports `my_pkg.my_tasks` (it must be importable: installed,
  or on sys.path / PYTHONPATH) and uses its attribute `my_task`, which is one of
    * a zero-argument function returning a `Task` (called at every `get_task`: fresh configs),
    * a tuple `(env_cfg, train_cfg, make_env)` of the factories `register_task` takes,
    * a `Task` (its configs are deep-copied at every `get_task`),
    * a str: the name of a task the module registered on import.
  The returned Task's name is the reference string, so `play.py --task my_pkg.my_tasks:my_task`
  finds it again.
- Plugins: an installed distribution declares entry points in the group `legged_train.tasks`
  (`[project.entry-points."legged_train.tasks"]` in its pyproject.toml). The first time a name is
  not found, or `list_tasks()` is called, every such entry point's module is imported, which
  registers its tasks. An entry point that names an attribute (`my_dog = "my_pkg.tasks:make_task"`)
  also registers a task under the entry point's name from that attribute, read as above.
"""

from __future__ import annotations

import copy
import importlib
import importlib.metadata
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from legged_train.envs.vec_env import VecEnv

ENTRY_POINT_GROUP = "legged_train.tasks"

WHAT_AN_ATTRIBUTE_MAY_BE = (
    "a zero-argument function returning a Task, an (env_cfg, train_cfg, make_env) tuple, a Task, "
    "or the name of a task the module registers"
)


class UnknownTaskError(KeyError):
    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclass
class Task:
    name: str
    env_cfg: Any
    train_cfg: Any
    make_env: Callable[[Any, Any], VecEnv]
    # The runner that trains the task; None: the one registered for train_cfg's type.
    runner_cls: type | None = None


# name -> a function building a fresh Task
_REGISTRY: dict[str, Callable[[], Task]] = {}
_plugins_loaded = False


def register_task(
    name: str,
    env_cfg: Callable[[], Any],
    train_cfg: Callable[[], Any],
    make_env: Callable[[Any, Any], VecEnv],
    runner_cls: type | None = None,
) -> None:
    if name in _REGISTRY:
        raise ValueError(f"task {name!r} is already registered")
    _REGISTRY[name] = lambda: Task(name=name, env_cfg=env_cfg(), train_cfg=train_cfg(), make_env=make_env, runner_cls=runner_cls)


def list_tasks() -> list[str]:
    load_plugins()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    if name not in _REGISTRY and ":" in name:
        return _task_from_reference(name)
    if name not in _REGISTRY:
        load_plugins()
    if name not in _REGISTRY:
        raise UnknownTaskError(
            f"unknown task {name!r}; registered tasks: {', '.join(sorted(_REGISTRY))} (or give 'module:attribute')"
        )
    return _REGISTRY[name]()


def load_plugins() -> None:
    """Import the modules of the `legged_train.tasks` entry points, once. A plugin that fails to load
    is skipped with a warning, so that one broken install does not hide every other task."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {entry_point.name!r} = {entry_point.value!r} (group {ENTRY_POINT_GROUP!r})"
        try:
            module = importlib.import_module(entry_point.module)
            if entry_point.attr and entry_point.name not in _REGISTRY:
                reference = entry_point.value.replace(" ", "")
                _REGISTRY[entry_point.name] = _task_factory(getattr(module, entry_point.attr), entry_point.name, reference)
        except Exception as err:  # noqa: BLE001 (any error in someone else's package)
            warnings.warn(f"skipping the task plugin {where}: {type(err).__name__}: {err}", stacklevel=2)


def _task_from_reference(reference: str) -> Task:
    """get_task("package.module:attribute"): see the module docstring for what the attribute may be."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise UnknownTaskError(f"task reference {reference!r} must look like 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        # Only the module itself (or a package above it) missing is an unknown task; a module that
        # exists but fails on one of its own imports is a bug to show with its traceback.
        if err.name is None or not (module_name == err.name or module_name.startswith(err.name + ".")):
            raise
        raise UnknownTaskError(
            f"task {reference!r}: no module named {module_name!r} (it must be installed or on sys.path / PYTHONPATH)"
        ) from None
    if not hasattr(module, attribute):
        raise UnknownTaskError(f"task {reference!r}: module {module_name!r} has no attribute {attribute!r}; expected {WHAT_AN_ATTRIBUTE_MAY_BE}")
    return _task_factory(getattr(module, attribute), reference, reference)()


def _task_factory(obj: Any, name: str, reference: str) -> Callable[[], Task]:
    """A function building a fresh Task named `name` from what `reference` points at."""
    if isinstance(obj, str):
        if obj not in _REGISTRY:
            raise UnknownTaskError(f"task {reference!r} names the task {obj!r}, which is not registered; registered tasks: {', '.join(sorted(_REGISTRY))}")
        return lambda: _renamed(_REGISTRY[obj](), name)
    if isinstance(obj, Task):
        return lambda: Task(name=name, env_cfg=copy.deepcopy(obj.env_cfg), train_cfg=copy.deepcopy(obj.train_cfg),
                            make_env=obj.make_env, runner_cls=obj.runner_cls)
    if isinstance(obj, tuple):
        if len(obj) != 3 or not all(callable(f) for f in obj):
            raise UnknownTaskError(f"task {reference!r} is a tuple of {len(obj)} items; expected (env_cfg, train_cfg, make_env), three callables")
        env_cfg, train_cfg, make_env = obj
        return lambda: Task(name=name, env_cfg=env_cfg(), train_cfg=train_cfg(), make_env=make_env)
    if callable(obj):
        def build() -> Task:
            task = obj()
            if not isinstance(task, Task):
                raise UnknownTaskError(f"task {reference!r} returned a {type(task).__name__}; expected a Task")
            return _renamed(task, name)

        return build
    raise UnknownTaskError(f"task {reference!r} is a {type(obj).__name__}; expected {WHAT_AN_ATTRIBUTE_MAY_BE}")


def _renamed(task: Task, name: str) -> Task:
    task.name = name
    return task
