"""Registered tasks. Importing this package registers every task module below."""

from tasks.registry import Task, UnknownTaskError, get_task, list_tasks, register_task

# Task modules register themselves on import.
from tasks import go1_flat  # noqa: E402,F401
from tasks import gym_tasks  # noqa: E402,F401

__all__ = ["Task", "UnknownTaskError", "get_task", "list_tasks", "register_task"]
