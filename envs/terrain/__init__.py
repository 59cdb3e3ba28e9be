"""Terrain, one concept per module:

- config.py: TerrainConfig (plane | generated | file), its sub-terrain parameters, validate();
- generator.py: the sub-terrain functions and build_terrain(cfg) -> Terrain (the height array);
- heightfield.py: add_heightfield(spec, terrain), the terrain as a MuJoCo heightfield;
- lookup.py: TerrainHeights(terrain, device)(points_xy), heights in torch;
- origins.py: env_origins(num_envs, max_init_level, terrain, generator).

Only the numpy half is imported here, so the config stays importable without torch or MuJoCo.
"""

from legged_train.envs.terrain.config import (
    SUB_TERRAIN_TYPES,
    TERRAIN_KINDS,
    HeightmapFileConfig,
    SubTerrainParams,
    TerrainConfig,
)
from legged_train.envs.terrain.generator import SUB_TERRAINS, Terrain, TileGrid, build_terrain

__all__ = [
    "SUB_TERRAIN_TYPES", "SUB_TERRAINS", "TERRAIN_KINDS", "HeightmapFileConfig", "SubTerrainParams", "Terrain",
    "TerrainConfig", "TileGrid", "build_terrain",
]
