"""Obstacle sub-terrains where vision matters (issue 24 pt 4): hurdles and boxes.

Their heights follow their Ranges, the robot starts on flat ground and meets them within the
course's 4 m whichever tile axis it walks out along, the height scan reads them, bad values fail in
one line; and adding them changed no existing terrain: the default (go1_rough's) terrain and the
evaluation course's first nine columns hash as they did before (hashes taken on commit 9b11073).
"""

from __future__ import annotations

import hashlib
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from legged_train.course import CourseConfig
from legged_train.envs.legged.config import HeightScanConfig
from legged_train.envs.legged.observations import height_scan
from legged_train.envs.terrain import SUB_TERRAIN_TYPES, SubTerrainParams, TerrainConfig, build_terrain
from legged_train.envs.terrain.lookup import TerrainHeights

OLD_TYPES = ("flat", "rough", "slope_up", "slope_down", "stairs_up", "stairs_down", "discrete", "stepping_stones", "gaps")
HEADINGS = (0.0, math.pi / 2, math.pi, -math.pi / 2)  # the course's


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def one_tile(kind: str, difficulty: float, **params) -> TerrainConfig:
    """One 8 m tile of ``kind`` at ``difficulty``, a 1 m border."""
    return TerrainConfig(kind="generated", num_rows=1, num_cols=1, border=1.0, difficulty_range=(difficulty, difficulty),
                         proportions={kind: 1.0}, params=SubTerrainParams(**params))


def quantized(metres: float) -> float:
    return round(metres / 0.005) * 0.005  # the vertical resolution


def ray(lookup: TerrainHeights, centre, heading: float, distances: torch.Tensor) -> torch.Tensor:
    """Ground heights at ``distances`` m from ``centre`` along ``heading``."""
    direction = torch.tensor([math.cos(heading), math.sin(heading)], dtype=torch.float64)
    points = torch.as_tensor(centre[:2], dtype=torch.float64) + distances[:, None].double() * direction
    return lookup(points.float())


def raised_runs(heights: torch.Tensor, distances: torch.Tensor) -> list[tuple[float, float]]:
    """(first, last) distance of each run of samples above the ground (> 1 mm)."""
    up = (heights > 1e-3).int()
    edges = torch.diff(torch.cat((torch.zeros(1, dtype=torch.int32), up, torch.zeros(1, dtype=torch.int32))))
    starts, ends = torch.nonzero(edges == 1).flatten(), torch.nonzero(edges == -1).flatten() - 1
    return [(distances[s].item(), distances[e].item()) for s, e in zip(starts, ends)]


# ------------------------------------------------------------------------------------ heights


@pytest.mark.parametrize("kind, field", [("hurdles", "hurdle_height"), ("boxes", "box_height")])
@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_obstacle_heights_at_difficulty_0_and_1_are_their_ranges(kind, field, difficulty):
    terrain = build_terrain(one_tile(kind, difficulty))
    expected = SubTerrainParams.at(getattr(SubTerrainParams(), field), difficulty)
    assert expected == pytest.approx((0.05, 0.25)[int(difficulty)])  # the Go1 ranges chosen in config.py
    assert terrain.heights.max() == pytest.approx(quantized(expected), abs=1e-6)
    assert terrain.heights.min() == 0.0  # no pits: ground and obstacle tops only
    # A Range of the user's, half-way: the height follows it, not a constant.
    custom = build_terrain(one_tile(kind, 0.5, **{field: (0.1, 0.3)}))
    assert custom.heights.max() == pytest.approx(0.2, abs=1e-6)


@pytest.mark.parametrize("kind", ["hurdles", "boxes"])
def test_a_robot_spawned_on_the_platform_stands_on_flat_ground(kind):
    terrain = build_terrain(one_tile(kind, 1.0))
    x, y, z = terrain.tile_origins[0, 0]
    assert z == 0.0  # the spawn patch is flat ground, not an obstacle top
    lookup = TerrainHeights(terrain)
    half = SubTerrainParams().platform_size / 2
    square = torch.stack(torch.meshgrid(torch.linspace(-half, half, 31), torch.linspace(-half, half, 31), indexing="ij"), -1)
    assert torch.all(lookup(square.reshape(-1, 2) + torch.tensor([x, y])) == 0.0)


# ------------------------------------------------------------------- the course's 4 headings


def test_walking_out_along_each_course_heading_meets_every_obstacle_within_4_m():
    """The course's own terrain: from each hurdles or boxes tile's centre along +x, +y, -x, -y, the
    ground 0 .. 4 m ahead (1 cm samples) holds two bars 0.1 m thick (at half height), or one box
    1 m deep; both of the difficulty's height, all behind the robot when its base reaches 4 m (its
    hind feet ~0.2 m behind the base: the last obstacle ends by 3.2 m)."""
    course = CourseConfig()
    terrain = build_terrain(course.terrain_config())
    lookup = TerrainHeights(terrain)
    params = SubTerrainParams()
    distances = torch.arange(0, 401) * 0.01
    for kind, field in (("hurdles", "hurdle_height"), ("boxes", "box_height")):
        column = terrain.tile_types.index(kind)
        for level, d in enumerate(terrain.difficulty):
            top = quantized(params.at(getattr(params, field), d))
            for heading in HEADINGS:
                ground = ray(lookup, terrain.tile_origins[level, column], heading, distances)
                runs = raised_runs(ground, distances)
                where = (kind, round(float(d), 2), heading)
                assert torch.all(ground[distances <= params.platform_size / 2] == 0), where  # the platform
                assert ground.max().item() == pytest.approx(top, abs=1e-4), where
                if kind == "hurdles":
                    assert len(runs) == 2, (where, runs)
                    for first, last in runs:  # thin: 0.15 m with its risers, 0.1 m above half height
                        assert last - first <= 0.15, (where, runs)
                        half_up = distances[(ground > top / 2) & (distances >= first) & (distances <= last)]
                        assert half_up[-1] - half_up[0] == pytest.approx(params.hurdle_thickness, abs=0.02), where
                else:
                    assert len(runs) == 1 and runs[0][1] - runs[0][0] == pytest.approx(params.box_depth, abs=0.06), (where, runs)
                    on_top = ground[(distances > runs[0][0] + 0.05) & (distances < runs[0][1] - 0.05)]
                    assert torch.allclose(on_top, torch.full_like(on_top, top), atol=1e-4), where
                assert runs[0][0] > params.platform_size / 2 and runs[-1][1] <= 3.2, (where, runs)


# ---------------------------------------------------------------------------- the height scan


def scan_ground(terrain: TerrainConfig, centre, heading: float, forward: float, base_height: float) -> torch.Tensor:
    """The env's ``height_scan`` term for a base ``forward`` m out from ``centre`` along ``heading``,
    facing it, turned back into ground heights: (11 rows across, 17 points ahead), x fastest."""
    cfg = HeightScanConfig()
    c, s = math.cos(heading), math.sin(heading)
    base = torch.tensor([[centre[0] + forward * c, centre[1] + forward * s, base_height]])
    state = SimpleNamespace(base_pos=base, base_quat=torch.tensor([[math.cos(heading / 2), 0.0, 0.0, math.sin(heading / 2)]]),
                            terrain_heights=TerrainHeights(terrain), height_scan_cfg=cfg,
                            height_scan_points=torch.tensor(cfg.points(), dtype=torch.float32))
    reading = height_scan(state)  # clip(base_z - offset - ground): unclipped here
    return (base_height - cfg.offset - reading).reshape(11, 17)


@pytest.mark.parametrize("heading", HEADINGS)
def test_the_height_scan_reads_a_bump_over_a_hurdle_and_a_step_up_onto_a_box(heading):
    # Scan points 0.8 .. 2.4 m from the centre, 0.1 m apart; a bar's top spans 2.05 .. 2.10 m and a
    # box's 2.05 .. 3.0 m (risers: one cell, 0.05 m, each side).
    hurdle = build_terrain(one_tile("hurdles", 0.8))
    ground = scan_ground(hurdle, hurdle.tile_origins[0, 0], heading, 1.6, 0.3)
    bar = quantized(SubTerrainParams.at(SubTerrainParams().hurdle_height, 0.8))
    expected = torch.zeros(17)
    expected[13] = bar  # the point 2.1 m out: ground before and after it, a bump across the whole scan
    assert torch.allclose(ground, expected.expand(11, -1), atol=1e-4), ground[5]

    box = build_terrain(one_tile("boxes", 0.8))
    ground = scan_ground(box, box.tile_origins[0, 0], heading, 1.6, 0.3)
    top = quantized(SubTerrainParams.at(SubTerrainParams().box_height, 0.8))
    expected = torch.cat((torch.zeros(13), torch.full((4,), top)))  # 2.1 .. 2.4 m out: on the box, and it stays up
    assert torch.allclose(ground, expected.expand(11, -1), atol=1e-4), ground[5]
    # Standing on the box (2.6 m out): its top, then the step down 3.1 m out.
    ground = scan_ground(box, box.tile_origins[0, 0], heading, 2.6, top + 0.3)
    expected = torch.cat((torch.zeros(3), torch.full((10,), top), torch.zeros(4)))  # 1.8 .. 3.4 m out
    assert torch.allclose(ground, expected.expand(11, -1), atol=1e-4), ground[5]


# --------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("field, value, expected", [
    ("hurdle_height", (-0.1, 0.2), "TerrainConfig.params.hurdle_height=(-0.1, 0.2): must be >= 0"),
    ("box_height", (0.1,), "TerrainConfig.params.box_height=(0.1,): must be a pair of finite numbers"),
    ("box_height", (0.1, float("nan")), "TerrainConfig.params.box_height=(0.1, nan): must be a pair of finite numbers"),
    ("hurdle_thickness", 0.05, "TerrainConfig.params.hurdle_thickness=0.05: must be >= 2 cells of horizontal_scale=0.05 m"),
    ("hurdle_thickness", 0.0, "TerrainConfig.params.hurdle_thickness=0.0: must be > 0 (m)"),
    ("hurdle_spacing", 0.15, "TerrainConfig.params.hurdle_spacing=0.15: must leave >= 2 cells of horizontal_scale=0.05 m of ground"),
    ("hurdle_spacing", 6.0, "TerrainConfig.params.hurdle_spacing=6.0: puts the first bar 4.60 m out, past the tile's edge (tile_size/2=4.0 m)"),
    ("box_depth", 0, "TerrainConfig.params.box_depth=0: must be > 0 (m)"),
    ("box_depth", 3.0, "TerrainConfig.params.box_depth=3.0: puts the box's far edge 5.00 m out, past the tile's edge (tile_size/2=4.0 m)"),
    ("box_distance", -0.5, "TerrainConfig.params.box_distance=-0.5: must be >= 0 (m)"),
    ("box_distance", "far", "TerrainConfig.params.box_distance='far': must be >= 0 (m)"),
])
def test_bad_obstacle_values_are_one_line_naming_the_field(field, value, expected):
    cfg = TerrainConfig(kind="generated", num_rows=1, num_cols=2, proportions={"hurdles": 1.0, "boxes": 1.0})
    setattr(cfg.params, field, value)
    with pytest.raises(ValueError) as error:
        build_terrain(cfg)
    message = str(error.value)
    assert "\n" not in message and message.startswith(expected), message


def test_obstacles_need_to_fit_the_tile_only_where_they_are_used():
    # A 4 m tile with the 3 m platform has no room for a box 0.5 m out and 1 m deep: fine while no
    # column holds boxes (other tests' small terrains), an error once one does.
    cfg = TerrainConfig(kind="generated", num_rows=1, num_cols=1, tile_size=4.0, border=1.0, proportions={"rough": 1.0})
    cfg.validate()
    cfg.proportions = {"rough": 1.0, "boxes": 1.0}
    cfg.num_cols = 2
    with pytest.raises(ValueError, match=r"^TerrainConfig\.params\.box_depth=1\.0: puts the box's far edge 3\.00 m out"):
        cfg.validate()


# ---------------------------------------------------------- existing terrains are unchanged


def test_terrains_of_the_default_mix_are_bit_identical_to_before_the_obstacle_types():
    """go1_rough's terrain (the default generated config) and a small one of the default mix: the
    same height arrays and spawn points as before hurdles and boxes existed (new types appended to
    SUB_TERRAIN_TYPES, not in the default proportions)."""
    assert SUB_TERRAIN_TYPES[:9] == OLD_TYPES and SUB_TERRAIN_TYPES[9:] == ("hurdles", "boxes")
    full = build_terrain(TerrainConfig(kind="generated"))
    assert full.heights.shape == (4200, 2600)
    assert sha256(full.heights) == "eca91dd8436d2f5a5858a4118a62cb37162bee7686ccb33e675b2c27fe765901"
    assert sha256(full.tile_origins) == "6d2dee6935d68578c7366eaaaacfd6427019300780d4133f020c8bb28c47986b"
    small = build_terrain(TerrainConfig(kind="generated", num_rows=3, num_cols=20, tile_size=4.0, border=1.0, seed=3))
    assert sha256(small.heights) == "59bcc67c0b98dc5b2489b82371c30a5bdaf4a974c0284f631ccea7f84eeb6335"
    assert sha256(small.tile_origins) == "b54e8431cec072833a61f7a64a2a702d1499f43d2c7165a67deba991b2fc2a14"


def test_the_courses_first_nine_columns_are_bit_identical_to_before_the_obstacle_types():
    """The course gains a hurdles and a boxes column; the nine before them are issue 21's, height
    for height (tile (i, j)'s random draws are seeded by (seed, i, j), and type j keeps column j)."""
    course = CourseConfig()
    terrain = build_terrain(course.terrain_config())
    assert terrain.tile_types == list(OLD_TYPES) + ["hurdles", "boxes"] and course.num_envs == 11 * 4 * 8
    border, n = round(course.border / 0.05), round(course.tile_size / 0.05)
    assert terrain.heights.shape == (2 * border + 11 * n, 2 * border + 4 * n)
    # Rows up to the ninth column's last (the -y border and columns 0..8, all levels, x borders too).
    assert sha256(terrain.heights[:border + 9 * n]) == "cd15bbf6da196c485431a34c844843c8c60e0f7218d18ed0c5cd8c486e593089"
    assert sha256(terrain.tile_origins[:, :9]) == "6ac078d01fe2f682c9cbe44742580d979167e421564563f7fc70f988fe24d12a"
    # The new column's edge next to the gaps column is ground, as the border there was: the surface
    # MuJoCo collides with between the two columns is unchanged too.
    assert np.all(terrain.heights[border + 9 * n] == 0)
