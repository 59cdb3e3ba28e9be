"""Boston Dynamics Spot: `constants` holds what the env must know about it, `spot.xml` is its MJCF
(collision meshes in `assets/`, LICENSE beside it)."""
