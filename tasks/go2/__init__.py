"""Unitree Go2 tasks: velocity tracking on flat ground and on rough terrain. Importing this package registers them."""

from legged_train.tasks.go2 import flat, rough  # noqa: F401
