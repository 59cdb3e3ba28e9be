"""Gymnasium tasks (classic control) for the off-policy algorithms. Importing this package registers them."""

from legged_train.tasks.gym import classic_control  # noqa: F401
