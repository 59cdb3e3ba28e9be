"""Boston Dynamics Spot tasks: velocity tracking on flat ground. Importing this package registers them."""

from legged_train.tasks.spot import flat  # noqa: F401
