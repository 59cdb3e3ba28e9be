import os

# Headless offscreen rendering; must be set before mujoco is imported anywhere.
os.environ.setdefault("MUJOCO_GL", "egl")
# wandb / SwanLab never reach a server from the tests.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("SWANLAB_MODE", "offline")
