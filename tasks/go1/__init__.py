"""Go1 tasks: velocity tracking (flat, rough terrain), motion priors (amp), teacher-student distillation and DAgger.
Importing this package registers them."""

from legged_train.tasks.go1 import amp, dagger, distillation, flat, parkour, rough  # noqa: F401
