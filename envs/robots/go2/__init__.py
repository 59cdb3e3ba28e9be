"""Unitree Go2: `constants` holds what the env must know about it, `go2.xml` is its MJCF (LICENSE beside it)."""
