"""A Go1-class quadruped: `constants` holds what the env must know about it, `go1.xml` is its MJCF."""
