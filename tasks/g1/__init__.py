"""Unitree G1 tasks: velocity tracking on flat ground. Importing this package registers them."""

from legged_train.tasks.g1 import flat  # noqa: F401
