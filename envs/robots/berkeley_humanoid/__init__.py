"""Berkeley Humanoid: `constants` holds what the env must know about it, `berkeley_humanoid.xml` is
its MJCF (decimated meshes in `assets/`, LICENSE beside it)."""
