"""Registered tasks. Importing this package registers every task module below.

Tasks from elsewhere need no edit here: `get_task("my_pkg.my_tasks:my_task")` imports a module of
your own, and installed plugins declare entry points in the group `legged_train.tasks` (see
`legged_train.tasks.registry`)."""

from legged_train.tasks.registry import ENTRY_POINT_GROUP, Task, UnknownTaskError, get_task, list_tasks, load_plugins, register_task

# Task modules register themselves on import.
from legged_train.tasks import go1_flat  # noqa: E402,F401
from legged_train.tasks import go1_distillation  # noqa: E402,F401
from legged_train.tasks import gym_tasks  # noqa: E402,F401
from legged_train.tasks import go1_dagger  # noqa: E402,F401
from legged_train.tasks import go1_amp  # noqa: E402,F401

__all__ = ["ENTRY_POINT_GROUP", "Task", "UnknownTaskError", "get_task", "list_tasks", "load_plugins", "register_task"]
