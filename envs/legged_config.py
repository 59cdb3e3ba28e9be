# The config moved to legged_train.envs.legged.config; this path is the one the README and plugins use.
from legged_train.envs.legged.config import *  # noqa: F401,F403
