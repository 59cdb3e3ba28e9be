"""Typed configuration of the terrain: what `build_terrain` makes, and `validate()` for bad input.

Numbers follow legged_gym (`utils/terrain.py`) and Isaac Lab (`terrains/config/rough.py`): 10
difficulty levels x 20 tiles of 8 m, a 25 m border, 5 mm vertical resolution, legged_gym's mix of
sub-terrains and its parameter ranges. One deliberate difference, the cell size: 0.05 m instead of
0.1 m (see ``TerrainConfig.horizontal_scale``). Two types are our own, obstacles a robot must see to
cross well (issue 24): ``hurdles`` (thin bars to step over) and ``boxes`` (a box to climb onto and
step down from), sized for a Go1 (see ``SubTerrainParams``); they are not in the default mix.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field

import numpy as np

TERRAIN_KINDS = ("plane", "generated", "file")

# Sub-terrain types. "up" and "down" are seen from the robot, which starts on the tile's central
# platform and walks out: on slope_up / stairs_up the centre is a pit and it climbs, on slope_down /
# stairs_down the centre is a summit and it descends (legged_gym's and Isaac Lab's "inverted" pyramids
# are the "up" ones here). New types go at the end: a tile's random draws are seeded by its column, and
# the evaluation course gives type k column k, so appending keeps every existing tile bit-identical.
SUB_TERRAIN_TYPES = ("flat", "rough", "slope_up", "slope_down", "stairs_up", "stairs_down",
                     "discrete", "stepping_stones", "gaps", "hurdles", "boxes")


def default_proportions() -> dict[str, float]:
    # legged_gym's mix: smooth slope 0.1, rough slope 0.1, stairs up 0.35, stairs down 0.25, discrete
    # 0.2. Its "smooth slope" share is split between up and down as legged_gym does; its rough slope
    # (a slope plus +-5 cm noise) is our level `rough` type.
    return {"slope_up": 0.05, "slope_down": 0.05, "rough": 0.1, "stairs_up": 0.35, "stairs_down": 0.25, "discrete": 0.2}


@dataclass
class SubTerrainParams:
    """Parameters of the sub-terrain functions.

    A field typed ``Range`` is a function of the tile's difficulty d in [0, 1]: ``(a, b)`` means
    ``a + (b - a) * d`` (it may decrease: stepping stones shrink as d grows)."""

    platform_size: float = 3.0  # m, the flat square at every tile's centre where robots start (legged_gym)
    # rough: uniform noise of half-width rough_height, drawn every rough_cell metres and linear in
    # between (legged_gym draws its noise on a 0.2 m grid too: per-cell noise would be a bed of nails).
    rough_height: tuple[float, float] = (0.01, 0.05)  # m, Range; legged_gym: +-5 cm
    rough_cell: float = 0.2  # m
    slope: tuple[float, float] = (0.0, 0.4)  # rad, Range (legged_gym: 0.4 d)
    step_height: tuple[float, float] = (0.05, 0.23)  # m, Range (legged_gym: 0.05 + 0.18 d)
    step_width: float = 0.31  # m, the tread, rounded to whole cells (0.30 m at 0.05 m cells)
    obstacle_height: tuple[float, float] = (0.05, 0.25)  # m, Range (legged_gym: 0.05 + 0.2 d)
    obstacle_size: tuple[float, float] = (1.0, 2.0)  # m, NOT a Range: each side is drawn in [low, high]
    num_obstacles: int = 20
    stone_size: tuple[float, float] = (1.575, 0.075)  # m, Range (legged_gym: 1.5 (1.05 - d))
    stone_distance: tuple[float, float] = (0.05, 0.1)  # m, Range: the gap between stones
    # legged_gym's gap, kept as it is (the course's gaps column must stay comparable across runs). For
    # a Go1 its top is out of reach: a walking Go1 steps across about 0.2-0.3 m (a foot reaches ~0.25 m
    # past its hip), and Robot Parkour's Go1/A1 leap 0.6 m; the course's bins ask 0.2-0.8 m.
    gap_width: tuple[float, float] = (0.0, 1.0)  # m, Range (legged_gym: 1.0 d)
    # The gap's floor, a real one, so a height scan over a gap reads a drop (Isaac Lab #5137 reads a
    # wall). legged_gym's 1 m at every difficulty (the course's): a foot in it is a fall. A range that
    # starts shallow lets a learner that steps into an early, narrow gap stumble rather than fall
    # (go1_parkour_teacher trains so; with 1 m at every level it learned to stop short of gaps).
    gap_depth: tuple[float, float] = (1.0, 1.0)  # m, Range, both > 0
    # Floor of the pits between stepping stones: deep enough that a foot in it is a fall.
    pit_depth: float = 1.0  # m
    # Obstacles for a Go1 (go1.xml: thigh and calf 0.213 m each, hips 0.376 m apart front to back,
    # trunk at 0.29 m with a 0.057 m half-height, so its belly is ~0.23 m up). Both are square rings
    # around the platform: whichever of the 4 headings the robot walks out along, it meets them.
    # hurdles: bars of hurdle_height(d), hurdle_thickness thick (at half height; the risers add one
    # cell ramp each side), every hurdle_spacing m, the first half a spacing out from the platform.
    # 5 cm is a kerb; 25 cm is the belly's height, so the top bars need the knees folded high and the
    # body raised (Extreme Parkour's A1 jumps hurdles of 0.1 + 0.1 d .. 0.15 + 0.25 d m, up to 0.4 m).
    # 0.1 m thick = 2 cells, a bar with a flat top a foot cannot stand on well (Extreme Parkour:
    # 0.1-0.4 m); with its risers it is 0.15 m wide, so the 0.1 m height scan always has a point on
    # it reading at least half its height. 1 m apart (Extreme Parkour: 1.2-2.2 m, for jumps): 0.9 m
    # of flat ground, two trot strides at 0.8 m/s, to land and set up the next. On an 8 m tile with
    # the 3 m platform the bars stand 2.0-2.15 and 3.0-3.15 m from the centre (risers included),
    # both crossed by the 4 m where the course counts success.
    hurdle_height: tuple[float, float] = (0.05, 0.25)  # m, Range
    hurdle_thickness: float = 0.1  # m, at least 2 cells (one cell would be a ridge with no top)
    hurdle_spacing: float = 1.0  # m, bar to bar
    # boxes: a raised ring of box_height(d), from box_distance past the platform's edge, box_depth
    # deep along the walking direction. 5-25 cm as legged_gym's discrete obstacles and the top of its
    # stairs (0.23 m): what a walking Go1 climbs with a foot lifted to near its hip; Robot Parkour's
    # climbing skill reaches 0.4 m. 1 m deep, over twice the Go1's hip-to-hip 0.376 m: all four feet
    # stand on top before it steps down (a box, not a stride over a step). 0.5 m from the platform:
    # on an 8 m tile the box spans 2.0-3.05 m from the centre (risers included), so a base at 4 m (the
    # course's success) has climbed up and stepped down, its hind feet (~0.2 m behind it) back down.
    box_height: tuple[float, float] = (0.05, 0.25)  # m, Range
    box_depth: float = 1.0  # m
    box_distance: float = 0.5  # m, flat ground between the platform and the box

    @staticmethod
    def at(value: tuple[float, float], difficulty: float) -> float:
        """A Range's value at ``difficulty``."""
        return float(value[0] + (value[1] - value[0]) * difficulty)


RANGES = ("rough_height", "slope", "step_height", "obstacle_height", "stone_size", "stone_distance", "gap_width",
          "gap_depth", "hurdle_height", "box_height")


@dataclass
class HeightmapFileConfig:
    """A user's own heightmap ("bring your own terrain"), for ``kind="file"``.

    ``.npy``: a 2-D float array, row 0 at -y and column 0 at -x (MuJoCo's heightfield order), times
    ``height_scale`` metres. ``.png``: a greyscale image seen from above, top of the picture at +y;
    black is 0 and white is ``height_scale`` metres. It covers [0, size_x] x [0, size_y] in the world
    (the tiles' area), must hold num_rows x num_cols tiles, and is surrounded by the border (its edge
    values repeated)."""

    path: str = ""
    size: tuple[float, float] = (0.0, 0.0)  # m, (x, y) extent of the whole map
    height_scale: float = 1.0


@dataclass
class TerrainConfig:
    """One heightfield holding num_rows x num_cols square tiles (all envs share it: mjbatch cannot
    give each env its own). Level (difficulty) i runs along +x, tile column j along +y, tile (i, j)
    covers [i, i+1] x [j, j+1] tile sizes from the world origin; a flat border surrounds them.

    The terrain is a pure function of this config (seed included): the same config gives a
    bit-identical height array."""

    kind: str = "plane"  # "plane": today's flat floor; "generated": the tiles below; "file": `file`
    num_rows: int = 10  # difficulty levels, along x
    num_cols: int = 20  # tiles per level, along y; column j's type by `proportions`
    tile_size: float = 8.0  # m
    border: float = 25.0  # m of flat ground around the tiles (robots walking off the edge stay on ground)
    # 0.05 m cells, finer than legged_gym's 0.1 m: a heightfield's step riser is a ramp one cell wide, so
    # at 0.1 m a 0.23 m step is a 67-degree slope a foot slides down and a 0.30 m tread keeps 0.20 m of
    # flat; at 0.05 m the riser is 78 degrees and the tread keeps 0.25 m. 0.31 m itself needs 1 cm cells
    # (no coarser size divides both 0.31 m and the 8 m tile): the tread rounds to 6 cells = 0.30 m, the
    # tread legged_gym gets on its own grid (int(0.31 / 0.1) = 3 cells). Cost: 4x the cells, 2600 x 4200
    # (44 MB of float32) for the default 10 x 20 tiles and 25 m border.
    horizontal_scale: float = 0.05  # m
    vertical_scale: float = 0.005  # m, heights are multiples of it (legged_gym's int16 units)
    # Difficulty of level i: lo + (hi - lo) * i / num_rows (legged_gym's i / num_rows for (0, 1): level 0
    # is the easy end robots start from; the top level's d is 0.9, as legged_gym's).
    difficulty_range: tuple[float, float] = (0.0, 1.0)
    proportions: dict[str, float] = field(default_factory=default_proportions)
    params: SubTerrainParams = field(default_factory=SubTerrainParams)
    file: HeightmapFileConfig = field(default_factory=HeightmapFileConfig)
    spawn_patch: float = 1.0  # m, a tile's origin z is the highest point of this square at its centre
    # With the terrain_levels curriculum, envs start on levels 0..max_init_terrain_level (legged_gym's
    # 5; the top level if the terrain has fewer); without it, on every level (legged_gym too).
    max_init_terrain_level: int = 5
    seed: int = 0

    def difficulty(self, level: int) -> float:
        low, high = self.difficulty_range
        return float(low + (high - low) * level / self.num_rows)

    def column_types(self) -> list[str]:
        """The sub-terrain type of each tile column: column j takes the type whose share of the
        cumulative proportions holds (j + 0.5) / num_cols (legged_gym's rule, sampled at the column's
        middle so that a 0.05 share of 20 columns gets exactly one). Types are taken in
        SUB_TERRAIN_TYPES' order, not the mapping's: a config.yaml written with sorted keys, or
        proportions given in another order, build the same terrain."""
        names = [name for name in SUB_TERRAIN_TYPES if self.proportions.get(name, 0) > 0]
        shares = np.array([self.proportions[name] for name in names], dtype=np.float64)
        bounds = np.cumsum(shares / shares.sum())
        picks = np.searchsorted(bounds, (np.arange(self.num_cols) + 0.5) / self.num_cols, side="right")
        return [names[min(k, len(names) - 1)] for k in picks]

    def validate(self) -> None:
        """Raise ValueError naming the field, its value and what is allowed, for the first bad value."""

        def need(ok: bool, name: str, value, allowed: str) -> None:
            if not ok:
                raise ValueError(f"TerrainConfig.{name}={value!r}: {allowed}")

        def number(name: str, value, ok, allowed: str) -> None:
            need(_is_number(value) and ok(value), name, value, allowed)

        def integer(name: str, value, low: int) -> None:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
            need(ok, name, value, f"must be an int >= {low}")

        def pair(name: str, value) -> None:
            ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(x) for x in value)
            need(ok, name, value, "must be a pair of finite numbers")

        need(self.kind in TERRAIN_KINDS, "kind", self.kind, f"must be one of {', '.join(TERRAIN_KINDS)}")
        if self.kind == "plane":
            return  # nothing else is used
        integer("num_rows", self.num_rows, 1)
        integer("num_cols", self.num_cols, 1)
        number("horizontal_scale", self.horizontal_scale, lambda v: v > 0, "must be > 0 (m)")
        number("vertical_scale", self.vertical_scale, lambda v: v > 0, "must be > 0 (m)")
        cells = self.tile_size / self.horizontal_scale if _is_number(self.tile_size) else float("nan")
        need(_is_number(self.tile_size) and self.tile_size > 0 and abs(cells - round(cells)) < 1e-6 and round(cells) >= 4,
             "tile_size", self.tile_size, f"must be > 0 and a whole number (>= 4) of horizontal_scale={self.horizontal_scale} cells")
        number("border", self.border, lambda v: v >= 0, "must be >= 0 (m)")
        number("spawn_patch", self.spawn_patch, lambda v: 0 <= v <= self.tile_size, f"must be in [0, tile_size={self.tile_size}] (m)")
        integer("seed", self.seed, 0)
        integer("max_init_terrain_level", self.max_init_terrain_level, 0)
        pair("difficulty_range", self.difficulty_range)
        low, high = self.difficulty_range
        need(0 <= low <= high <= 1, "difficulty_range", self.difficulty_range, "must be (low, high) with 0 <= low <= high <= 1")
        if self.kind == "generated":
            self._validate_generated(need, number, pair)
        else:
            self._validate_file(need, number, pair)

    def _validate_generated(self, need, number, pair) -> None:
        proportions = self.proportions
        need(isinstance(proportions, dict) and len(proportions) > 0, "proportions", proportions,
             f"must map sub-terrain types ({', '.join(SUB_TERRAIN_TYPES)}) to shares")
        for name, share in proportions.items():
            need(name in SUB_TERRAIN_TYPES, "proportions", name, f"unknown sub-terrain type; known: {', '.join(SUB_TERRAIN_TYPES)}")
            number(f"proportions.{name}", share, lambda v: v >= 0, "must be a finite number >= 0")
        need(sum(proportions.values()) > 0, "proportions", proportions, "are all zero: at least one share must be > 0")
        # A type with a share but no column would silently be missing from the terrain (unitree_rl_gym #52).
        missing = sorted({name for name, share in proportions.items() if share > 0} - set(self.column_types()))
        need(not missing, "proportions", proportions,
             f"give {missing} no tile column out of num_cols={self.num_cols}: raise their shares or num_cols")
        p = self.params
        for name in RANGES + ("obstacle_size",):
            pair(f"params.{name}", getattr(p, name))
            need(min(getattr(p, name)) >= 0, f"params.{name}", getattr(p, name), "must be >= 0")
        need(p.obstacle_size[0] <= p.obstacle_size[1], "params.obstacle_size", p.obstacle_size, "must be (low, high) with low <= high")
        need(max(p.slope) < math.pi / 2, "params.slope", p.slope, "must be < pi/2 rad")
        need(min(p.gap_depth) > 0, "params.gap_depth", p.gap_depth, "must be > 0 at both ends (m): a gap has a floor below the ground")
        for name in ("rough_cell", "step_width", "pit_depth", "hurdle_thickness", "hurdle_spacing", "box_depth"):
            number(f"params.{name}", getattr(p, name), lambda v: v > 0, "must be > 0 (m)")
        number("params.box_distance", p.box_distance, lambda v: v >= 0, "must be >= 0 (m)")
        number("params.platform_size", p.platform_size, lambda v: 0 <= v <= self.tile_size, f"must be in [0, tile_size={self.tile_size}] (m)")
        need(isinstance(p.num_obstacles, numbers.Integral) and p.num_obstacles >= 0, "params.num_obstacles", p.num_obstacles, "must be an int >= 0")
        self._validate_obstacles(need)

    def _validate_obstacles(self, need) -> None:
        """Hurdles and boxes in whole cells, as generator.py lays them (distances from the centre
        rounded to cells). Whether they fit the tile is checked only for a type with a share: a
        4 m tile that never holds boxes need not fit one."""
        p, h = self.params, self.horizontal_scale

        def cells(metres: float) -> int:  # TileGrid.cells' rounding
            return int(round(metres / h))

        need(cells(p.hurdle_thickness) >= 2, "params.hurdle_thickness", p.hurdle_thickness,
             f"must be >= 2 cells of horizontal_scale={h} m: a one-cell bar is a ridge with no top")
        need(cells(p.hurdle_spacing) - cells(p.hurdle_thickness) >= 2, "params.hurdle_spacing", p.hurdle_spacing,
             f"must leave >= 2 cells of horizontal_scale={h} m of ground between bars of hurdle_thickness={p.hurdle_thickness} m")
        half, platform = int(round(self.tile_size / h)) // 2, cells(p.platform_size) // 2
        if self.proportions.get("hurdles", 0) > 0:
            end = platform + cells(p.hurdle_spacing / 2) + cells(p.hurdle_thickness)
            need(end <= half - 1, "params.hurdle_spacing", p.hurdle_spacing,
                 f"puts the first bar {end * h:.2f} m out, past the tile's edge (tile_size/2={self.tile_size / 2} m): "
                 "lower it, hurdle_thickness or platform_size")
        if self.proportions.get("boxes", 0) > 0:
            end = platform + cells(p.box_distance) + cells(p.box_depth)
            need(end <= half, "params.box_depth", p.box_depth,
                 f"puts the box's far edge {end * h:.2f} m out, past the tile's edge (tile_size/2={self.tile_size / 2} m): "
                 "lower it, box_distance or platform_size")

    def _validate_file(self, need, number, pair) -> None:
        f = self.file
        need(isinstance(f.path, str) and os.path.isfile(f.path), "file.path", f.path, "no such file: must be a .png or .npy heightmap")
        need(f.path.lower().endswith((".png", ".npy")), "file.path", f.path, "must end in .png or .npy")
        pair("file.size", f.size)
        need(min(f.size) > 0, "file.size", f.size, "must be the map's (x, y) extent in m, both > 0")
        number("file.height_scale", f.height_scale, lambda v: v > 0, "must be > 0 (m)")
        try:
            data = load_heightmap(f.path)
        except Exception as error:  # an unreadable file: say which and why, in one line
            raise ValueError(f"TerrainConfig.file.path={f.path!r}: cannot be read as a heightmap ({type(error).__name__}: {error})") from None
        need(data.ndim == 2, "file.path", f.path, f"must hold a 2-D array; it has shape {data.shape}")
        need(min(data.shape) >= 2, "file.path", f.path, f"must be at least 2 x 2 samples; it has shape {data.shape}")
        need(bool(np.isfinite(data).all()), "file.path", f.path, f"has {int((~np.isfinite(data)).sum())} non-finite values (nan/inf)")
        width, depth = self.num_rows * self.tile_size, self.num_cols * self.tile_size
        need(f.size[0] >= width - 1e-9 and f.size[1] >= depth - 1e-9, "file.size", f.size,
             f"too small for num_rows x num_cols = {self.num_rows} x {self.num_cols} tiles of {self.tile_size} m: needs at least ({width}, {depth}) m")


def load_heightmap(path: str) -> np.ndarray:
    """A heightmap file as float64, row 0 at -y (MuJoCo's order); PNGs are normalized to [0, 1]."""
    if path.lower().endswith(".npy"):
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    import imageio.v3 as iio  # a dependency already (videos); only file terrains need it

    image = np.asarray(iio.imread(path))
    if image.ndim == 3:  # a colour or grey+alpha PNG: its first channel (grey images repeat it)
        image = image[..., 0]
    top = np.iinfo(image.dtype).max if np.issubdtype(image.dtype, np.integer) else 1.0
    # A picture's first row is its top (+y); MuJoCo's row 0 is at -y.
    return image[::-1].astype(np.float64) / top


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
