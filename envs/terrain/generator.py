"""The terrain: a float32 height array built from a TerrainConfig, tile by tile.

Array layout, shared by the MuJoCo heightfield (heightfield.py) and the torch lookup (lookup.py):
``heights[iy, ix]`` is the ground height (m) at the grid vertex x = x0 + ix dx, y = y0 + iy dy.
Row 0 is at -y and column 0 at -x, MuJoCo's heightfield order, so no flip is ever needed. Level
(difficulty) i of the tiles runs along +x and tile column j along +y, as legged_gym lays them out;
tile (i, j) covers [i T, (i+1) T] x [j T, (j+1) T] (T = tile size) and the border lies around them.

Each sub-terrain is a pure numpy function ``f(difficulty, rng, grid, params) -> (n, n) heights`` of
one tile (``[y, x]`` too), vectorized over its cells; loops only run over steps, stones, obstacles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from legged_train.envs.terrain.config import SubTerrainParams, TerrainConfig, load_heightmap


@dataclass
class TileGrid:
    """One tile's vertices: n x n, spacing h (m). ``cx`` (1, n) and ``cy`` (n, 1) are integer vertex
    offsets from the tile's centre (-n/2 .. n/2 - 1); integers keep the pyramids exactly symmetric."""

    n: int
    h: float

    def __post_init__(self):
        offsets = np.arange(self.n) - self.n // 2
        self.cx = offsets[None, :]
        self.cy = offsets[:, None]
        # Chebyshev distance from the centre, and from the tile's edge (0 on the outermost ring), in cells.
        self.ring = np.maximum(np.abs(self.cx), np.abs(self.cy))
        self.from_edge = self.n // 2 - self.ring

    def cells(self, metres: float) -> int:
        return int(round(metres / self.h))

    def platform(self, params: SubTerrainParams) -> np.ndarray:
        """(n, n) bool, the flat square of side platform_size at the centre."""
        return self.ring <= self.cells(params.platform_size) // 2


# ------------------------------------------------------------------------------- sub-terrains


def flat(difficulty: float, rng: np.random.Generator, grid: TileGrid, params: SubTerrainParams) -> np.ndarray:
    return np.zeros((grid.n, grid.n))


def rough(difficulty, rng, grid, params):
    """Uniform noise of half-width rough_height(d), drawn on a rough_cell grid and linear in between."""
    amplitude = params.at(params.rough_height, difficulty)
    ratio = grid.h / params.rough_cell  # coarse samples per fine cell
    samples = int(math.ceil((grid.n - 1) * ratio)) + 2
    coarse = rng.uniform(-amplitude, amplitude, size=(samples, samples))
    # Separable linear interpolation: coarse index and weight of every fine vertex.
    u = np.arange(grid.n) * ratio
    i0 = np.floor(u).astype(np.int64)
    w = u - i0
    rows = coarse[i0] * (1 - w)[:, None] + coarse[i0 + 1] * w[:, None]  # (n, samples): along y
    return rows[:, i0] * (1 - w)[None, :] + rows[:, i0 + 1] * w[None, :]


def _pyramid_slope(difficulty, grid, params, sign):
    gradient = math.tan(params.at(params.slope, difficulty)) * grid.h  # m per cell
    top = grid.n // 2 - grid.cells(params.platform_size) // 2  # cells from the edge to the platform
    return sign * gradient * np.minimum(grid.from_edge, top)


def slope_up(difficulty, rng, grid, params):
    """Pyramid pit: the platform at the bottom, the robot climbs as it walks out."""
    return _pyramid_slope(difficulty, grid, params, -1.0)


def slope_down(difficulty, rng, grid, params):
    """Pyramid: the platform on top, the robot descends as it walks out."""
    return _pyramid_slope(difficulty, grid, params, 1.0)


def _pyramid_stairs(difficulty, grid, params, sign):
    step = params.at(params.step_height, difficulty)
    tread = max(1, grid.cells(params.step_width))
    top = grid.n // 2 - grid.cells(params.platform_size) // 2
    # Step k covers `tread` rings of cells counted from the edge; the platform is the last step.
    return sign * step * (np.minimum(grid.from_edge, top) // tread)


def stairs_up(difficulty, rng, grid, params):
    """Pyramid stairs down into a pit: the robot climbs them walking out."""
    return _pyramid_stairs(difficulty, grid, params, -1.0)


def stairs_down(difficulty, rng, grid, params):
    """Pyramid stairs up to the platform: the robot descends them walking out."""
    return _pyramid_stairs(difficulty, grid, params, 1.0)


def discrete(difficulty, rng, grid, params):
    """num_obstacles random rectangles, each obstacle_height(d) up or down; the platform kept flat."""
    height = params.at(params.obstacle_height, difficulty)
    out = np.zeros((grid.n, grid.n))
    low, high = (max(1, grid.cells(s)) for s in params.obstacle_size)
    for _ in range(params.num_obstacles):
        width, length = rng.integers(low, high + 1, size=2)
        x, y = rng.integers(0, max(1, grid.n - width)), rng.integers(0, max(1, grid.n - length))
        out[y:y + length, x:x + width] = rng.choice((-height, height))
    out[grid.platform(params)] = 0.0
    return out


def stepping_stones(difficulty, rng, grid, params):
    """Square stones of stone_size(d) at ground level, stone_distance(d) apart, over a pit."""
    size = max(1, grid.cells(params.at(params.stone_size, difficulty)))
    pitch = size + grid.cells(params.at(params.stone_distance, difficulty))
    out = np.full((grid.n, grid.n), -params.pit_depth)
    columns = np.arange(grid.n)
    for y in range(0, grid.n, pitch):  # one band of stones, shifted by a random offset
        shift = rng.integers(0, pitch)
        on_stone = (columns - shift) % pitch < size
        out[y:y + size, on_stone] = 0.0
    out[grid.platform(params)] = 0.0
    return out


def gaps(difficulty, rng, grid, params):
    """A square ring gap of gap_width(d) around the platform, gap_depth(d) deep (a floor, not a void)."""
    inner = grid.cells(params.platform_size) // 2
    width = grid.cells(params.at(params.gap_width, difficulty))
    out = np.zeros((grid.n, grid.n))
    out[(grid.ring > inner) & (grid.ring <= inner + width)] = -params.at(params.gap_depth, difficulty)
    return out


def hurdles(difficulty, rng, grid, params):
    """Square rings of bars hurdle_height(d) tall and hurdle_thickness thick, hurdle_spacing apart,
    the first half a spacing out from the platform; flat ground between them. Only whole bars: one
    that would reach the tile's outermost ring is left out (that ring exists on the -x and -y sides
    only, so a bar there would be thinner on two sides than on the others)."""
    height = params.at(params.hurdle_height, difficulty)
    pitch, thickness = grid.cells(params.hurdle_spacing), grid.cells(params.hurdle_thickness)
    first = grid.cells(params.platform_size) // 2 + grid.cells(params.hurdle_spacing / 2)
    # Rings first+1 .. first+thickness are bar 0 (gaps' convention: ring `first` is still ground).
    along = grid.ring - first - 1  # cells past the first bar's inner edge
    into_bar = along % pitch
    whole = along - into_bar + first + thickness <= grid.n // 2 - 1  # the bar's last ring, inside
    out = np.zeros((grid.n, grid.n))
    out[(along >= 0) & (into_bar < thickness) & whole] = height
    return out


def boxes(difficulty, rng, grid, params):
    """A square ring box_height(d) high and box_depth deep, box_distance out from the platform: the
    robot climbs onto it and steps down from it again."""
    start = grid.cells(params.platform_size) // 2 + grid.cells(params.box_distance)
    out = np.zeros((grid.n, grid.n))
    out[(grid.ring > start) & (grid.ring <= start + grid.cells(params.box_depth))] = params.at(params.box_height, difficulty)
    return out


# In SUB_TERRAIN_TYPES' order.
SUB_TERRAINS = {f.__name__: f for f in (flat, rough, slope_up, slope_down, stairs_up, stairs_down,
                                         discrete, stepping_stones, gaps, hurdles, boxes)}


# ---------------------------------------------------------------------------------- terrain


@dataclass
class Terrain:
    """A built terrain. ``heights[iy, ix]`` (m, float32) at x = origin[0] + ix spacing[0],
    y = origin[1] + iy spacing[1]; ``tile_origins[i, j]`` = (x, y, z) of tile (level i, column j)'s
    centre, z the highest ground within spawn_patch of it (a robot placed there is never inside an
    obstacle); ``tile_types[j]`` the type of column j; ``difficulty[i]`` that of level i."""

    heights: np.ndarray
    spacing: tuple[float, float]
    origin: tuple[float, float]
    tile_origins: np.ndarray
    tile_types: list[str]
    difficulty: np.ndarray
    tile_size: float

    @property
    def num_rows(self) -> int:
        return self.tile_origins.shape[0]

    @property
    def num_cols(self) -> int:
        return self.tile_origins.shape[1]


def build_terrain(cfg: TerrainConfig) -> Terrain | None:
    """The terrain of ``cfg``, a pure function of it (seed included); None for kind "plane"."""
    cfg.validate()
    if cfg.kind == "plane":
        return None
    difficulty = np.array([cfg.difficulty(i) for i in range(cfg.num_rows)])
    if cfg.kind == "generated":
        heights, spacing, origin = _generated_heights(cfg, difficulty)
        types = cfg.column_types()
    else:
        heights, spacing, origin = _file_heights(cfg)
        types = ["file"] * cfg.num_cols
    tile_origins = np.zeros((cfg.num_rows, cfg.num_cols, 3), dtype=np.float32)
    for i in range(cfg.num_rows):
        for j in range(cfg.num_cols):
            x, y = (i + 0.5) * cfg.tile_size, (j + 0.5) * cfg.tile_size
            tile_origins[i, j] = x, y, _highest(heights, spacing, origin, x, y, cfg.spawn_patch / 2)
    return Terrain(heights, spacing, origin, tile_origins, types, difficulty, float(cfg.tile_size))


def _generated_heights(cfg: TerrainConfig, difficulty: np.ndarray):
    h = float(cfg.horizontal_scale)
    n = int(round(cfg.tile_size / h))
    border = int(round(cfg.border / h))
    grid = TileGrid(n, h)
    heights = np.zeros((2 * border + cfg.num_cols * n, 2 * border + cfg.num_rows * n))
    for j, name in enumerate(cfg.column_types()):
        for i in range(cfg.num_rows):
            # One generator per tile, seeded by (seed, level, column): a tile's randomness depends on
            # nothing else, so changing one type's share leaves the other tiles as they were.
            rng = np.random.default_rng([cfg.seed, i, j])
            tile = SUB_TERRAINS[name](float(difficulty[i]), rng, grid, cfg.params)
            heights[border + j * n:border + (j + 1) * n, border + i * n:border + (i + 1) * n] = tile
    # Heights are whole multiples of the vertical resolution (legged_gym stores int16 units).
    heights = (np.round(heights / cfg.vertical_scale) * cfg.vertical_scale).astype(np.float32)
    return heights, (h, h), (-border * h, -border * h)


def _file_heights(cfg: TerrainConfig):
    data = load_heightmap(cfg.file.path) * cfg.file.height_scale
    rows, cols = data.shape
    spacing = (cfg.file.size[0] / (cols - 1), cfg.file.size[1] / (rows - 1))
    # The border repeats the map's edge heights: no cliff where the user's map ends.
    bx, by = (int(round(cfg.border / s)) for s in spacing)
    heights = np.pad(data, ((by, by), (bx, bx)), mode="edge").astype(np.float32)
    return heights, spacing, (-bx * spacing[0], -by * spacing[1])


def _highest(heights, spacing, origin, x, y, half) -> float:
    """The highest vertex of every cell touched by the square of half-side ``half`` around (x, y): the
    ground surface (linear between vertices) is nowhere above it within the square."""
    ix0, ix1 = (int(np.clip(f((x + s * half - origin[0]) / spacing[0]), 0, heights.shape[1] - 1))
                for s, f in ((-1, math.floor), (1, math.ceil)))
    iy0, iy1 = (int(np.clip(f((y + s * half - origin[1]) / spacing[1]), 0, heights.shape[0] - 1))
                for s, f in ((-1, math.floor), (1, math.ceil)))
    return float(heights[iy0:iy1 + 1, ix0:ix1 + 1].max())
