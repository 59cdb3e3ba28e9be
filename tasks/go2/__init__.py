"""Unitree Go2 tasks: velocity tracking on flat ground. Importing this package registers them."""

from legged_train.tasks.go2 import flat  # noqa: F401
