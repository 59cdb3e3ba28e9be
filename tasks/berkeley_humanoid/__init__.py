"""Berkeley Humanoid tasks: velocity tracking on flat ground. Importing this package registers them."""

from legged_train.tasks.berkeley_humanoid import flat  # noqa: F401
