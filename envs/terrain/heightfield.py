"""The terrain as a MuJoCo heightfield in an MjSpec, in place of the plane floor.

MuJoCo's heightfield: an asset of nrow x ncol elevation samples in [0, 1] (row 0 at -y, column 0 at
-x: our array's order, so the data is the array flattened as is) and ``size = (radius_x, radius_y,
elevation_z, base_z)``. A geom using it, at position p, puts vertex (r, c) at
x = p_x - radius_x + c 2 radius_x / (ncol - 1), y likewise with r, z = p_z + data elevation_z, and a
solid base down to p_z - base_z. Between vertices the surface is two triangles per cell, split along
the diagonal from vertex (r, c) to (r+1, c+1) (lookup.py interpolates on the same triangles).
"""

from __future__ import annotations

import mujoco
import numpy as np

from legged_train.envs.terrain.generator import Terrain

TERRAIN_RGBA = (0.62, 0.56, 0.46, 1.0)  # sand, for a robot file without a floor material
BASE_DEPTH = 1.0  # m of solid heightfield base below the lowest point (MuJoCo needs base_z > 0)


def add_heightfield(spec: mujoco.MjSpec, terrain: Terrain, name: str = "terrain") -> mujoco.MjsGeom:
    """Add ``terrain`` to ``spec`` as a heightfield geom and remove its plane floor(s). The geom takes
    the removed floor's contype, conaffinity, friction and material (MuJoCo textures heightfields
    too); with no floor in the spec, those of ``envs/robot.py``'s floor (contype 1, conaffinity 3,
    MuJoCo's default friction) and a sand colour. Returns the geom.

    Wiring note: ``build_model`` adds a plane floor whenever the spec has none, so it must call this
    after that step and before compiling (or skip its floor when given a terrain), never before."""
    contype, conaffinity, friction, material = 1, 3, None, ""
    for geom in list(spec.geoms):
        if geom.type == mujoco.mjtGeom.mjGEOM_PLANE:
            contype, conaffinity, friction = geom.contype, geom.conaffinity, np.array(geom.friction)
            material = geom.material
            spec.delete(geom)

    heights = terrain.heights
    rows, cols = heights.shape
    low, high = float(heights.min()), float(heights.max())
    relief = high - low if high > low else 1.0  # a flat terrain: all data 0, any elevation_z > 0
    radius_x = (cols - 1) * terrain.spacing[0] / 2
    radius_y = (rows - 1) * terrain.spacing[1] / 2
    hfield = spec.add_hfield(name=name, nrow=rows, ncol=cols, size=[radius_x, radius_y, relief, BASE_DEPTH])
    # Normalized here, not left to MuJoCo (it rescales user data to [0, 1] itself): then pos_z = low
    # and elevation_z = relief map data back to metres whatever MuJoCo does.
    hfield.userdata = ((heights.astype(np.float64) - low) / relief).astype(np.float32).ravel()
    geom = spec.worldbody.add_geom(
        name=name, type=mujoco.mjtGeom.mjGEOM_HFIELD, hfieldname=name,
        pos=[terrain.origin[0] + radius_x, terrain.origin[1] + radius_y, low],
        contype=contype, conaffinity=conaffinity,
    )
    if friction is not None:
        geom.friction = friction
    # The floor's look: its material (go1.xml's checker grid) marks out distances and, shaded by the
    # light, the terrain's relief; without a material, a sand colour that the robot stands out against.
    if material:
        geom.material = material
    else:
        geom.rgba = TERRAIN_RGBA
    return geom
