"""Robots, one folder each: ``<robot>/constants.py`` (names, standing pose, gains, limits, the asset
path) beside the robot's MJCF file. Adding a robot is adding a folder; `legged_train.envs.robot`
turns any of them into a model (see `RobotConfig`)."""
