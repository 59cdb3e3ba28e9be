"""Task registry: a name maps to an env config, a training config and how to build the env.

A task is data: a small module calls `register_task` with factories returning fresh dataclass
instances, so every `get_task` hands out configs the caller may edit freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from envs.vec_env import VecEnv


class UnknownTaskError(KeyError):
    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclass
class Task:
    name: str
    env_cfg: Any
    train_cfg: Any
    make_env: Callable[[Any, Any], VecEnv]


_REGISTRY: dict[str, tuple[Callable[[], Any], Callable[[], Any], Callable[[Any, Any], VecEnv]]] = {}


def register_task(
    name: str,
    env_cfg: Callable[[], Any],
    train_cfg: Callable[[], Any],
    make_env: Callable[[Any, Any], VecEnv],
) -> None:
    if name in _REGISTRY:
        raise ValueError(f"task {name!r} is already registered")
    _REGISTRY[name] = (env_cfg, train_cfg, make_env)


def list_tasks() -> list[str]:
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    if name not in _REGISTRY:
        raise UnknownTaskError(f"unknown task {name!r}; registered tasks: {', '.join(list_tasks())}")
    env_cfg, train_cfg, make_env = _REGISTRY[name]
    return Task(name=name, env_cfg=env_cfg(), train_cfg=train_cfg(), make_env=make_env)
