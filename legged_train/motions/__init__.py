"""Reference motions for AMP: clips (``clip``), the gait generator (``generate``) and the motion
library that serves AMP observations (``library``). Command line: ``python -m legged_train.motions``."""

from legged_train.motions.clip import MotionClip, load_amp_hardware_json

__all__ = ["MotionClip", "load_amp_hardware_json"]
