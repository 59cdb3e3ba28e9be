"""Registered tasks. Importing this package registers every task module below.

Tasks from elsewhere need no edit here: `get_task("my_pkg.my_tasks:my_task")` imports a module of
your own, and installed plugins declare entry points in the group `legged_train.tasks` (see
`legged_train.tasks.registry`)."""

from legged_train.tasks.registry import ENTRY_POINT_GROUP, Task, UnknownTaskError, get_task, list_tasks, load_plugins, register_task

# Task modules register themselves on import: one subpackage per robot (tasks/<robot>/), and the
# Gymnasium tasks in tasks/gym/.
from legged_train.tasks import go1  # noqa: E402,F401
from legged_train.tasks import go2  # noqa: E402,F401
from legged_train.tasks import spot  # noqa: E402,F401
from legged_train.tasks import g1  # noqa: E402,F401
from legged_train.tasks import berkeley_humanoid  # noqa: E402,F401
from legged_train.tasks import gym  # noqa: E402,F401

__all__ = ["ENTRY_POINT_GROUP", "Task", "UnknownTaskError", "get_task", "list_tasks", "load_plugins", "register_task"]
