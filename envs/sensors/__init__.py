"""Sensors beyond the robot's own MuJoCo sensors, one concept per module:

- config.py: DepthCameraConfig, DepthNoiseConfig, validate() (no torch: the env config imports it);
- depth_camera.py: DepthCamera, a batched ray-cast depth camera on every env's robot.

(The height scan reads the terrain's height array directly: ``envs/terrain/lookup.py``.)
"""

from legged_train.envs.sensors.config import ROBOT_GEOM_GROUP, WORLD_GEOM_GROUP, DepthCameraConfig, DepthNoiseConfig

__all__ = ["ROBOT_GEOM_GROUP", "WORLD_GEOM_GROUP", "DepthCameraConfig", "DepthNoiseConfig"]
