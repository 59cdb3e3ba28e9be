# The env moved to legged_train.envs.legged.env; this path is the one the README and plugins use.
from legged_train.envs.legged.env import LeggedVelocityEnv, is_legged_env, make_legged_env  # noqa: F401
