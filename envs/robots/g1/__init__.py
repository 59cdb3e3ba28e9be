"""Unitree G1 humanoid: `constants` holds what the env must know about it (the 12-joint legs-only
robot and the full 29-joint one), `g1.xml` is its MJCF (decimated meshes in `assets/`, LICENSE beside it)."""
