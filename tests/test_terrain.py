"""The terrain (envs/terrain/): generator, MuJoCo heightfield, torch height lookup, env origins, bad input.

Small terrains (4 m tiles, a few levels) keep every test well under a second or two.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
import torch

from legged_train.envs.terrain import SUB_TERRAIN_TYPES, SubTerrainParams, Terrain, TerrainConfig, build_terrain
from legged_train.envs.terrain.heightfield import add_heightfield
from legged_train.envs.terrain.lookup import TerrainHeights
from legged_train.envs.terrain.origins import env_origins


def small_config(**changes) -> TerrainConfig:
    """Every sub-terrain type once, 3 levels of 4 m tiles, a 1 m border."""
    cfg = TerrainConfig(kind="generated", num_rows=3, num_cols=len(SUB_TERRAIN_TYPES), tile_size=4.0, border=1.0,
                        proportions={name: 1.0 for name in SUB_TERRAIN_TYPES},
                        params=SubTerrainParams(platform_size=1.0, num_obstacles=6), seed=3)
    for name, value in changes.items():
        setattr(cfg, name, value)
    return cfg


def hand_made(heights: np.ndarray, spacing: float = 0.1) -> Terrain:
    """A Terrain straight from an array, origin at (0, 0) (one dummy tile)."""
    return Terrain(heights.astype(np.float32), (spacing, spacing), (0.0, 0.0), np.zeros((1, 1, 3), np.float32),
                   ["file"], np.zeros(1), 1.0)


def compile_with(terrain: Terrain, bodies=()) -> tuple[mujoco.MjModel, mujoco.MjData]:
    spec = mujoco.MjSpec()
    spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], contype=1, conaffinity=3)
    add_heightfield(spec, terrain)
    for add in bodies:
        add(spec)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def ray_down(model, data, x: float, y: float, top: float = 10.0) -> float:
    """The height of the first surface straight below (x, y, top), by mj_ray."""
    geom = np.zeros(1, np.int32)
    distance = mujoco.mj_ray(model, data, np.array([x, y, top]), np.array([0.0, 0.0, -1.0]), None, 1, -1, geom)
    assert distance >= 0, f"the ray at ({x}, {y}) missed the terrain"
    return top - distance


# ------------------------------------------------------------------------------- generator


def test_same_config_and_seed_give_a_bit_identical_terrain():
    a, b = build_terrain(small_config()), build_terrain(small_config())
    assert a.heights.dtype == np.float32 and a.heights.tobytes() == b.heights.tobytes()
    assert np.array_equal(a.tile_origins, b.tile_origins) and a.tile_types == b.tile_types
    other = build_terrain(small_config(seed=4))
    assert not np.array_equal(a.heights, other.heights)  # rough, discrete and stones draw random numbers


def test_layout_types_difficulty_and_no_type_silently_flat():
    cfg = small_config()
    terrain = build_terrain(cfg)
    n, border = int(cfg.tile_size / cfg.horizontal_scale), int(cfg.border / cfg.horizontal_scale)
    assert terrain.heights.shape == (2 * border + cfg.num_cols * n, 2 * border + cfg.num_rows * n)
    assert terrain.tile_types == list(SUB_TERRAIN_TYPES)
    assert np.allclose(terrain.difficulty, [0, 1 / 3, 2 / 3])  # level i: i / num_rows
    # Heights are whole multiples of the vertical resolution.
    units = terrain.heights / cfg.vertical_scale
    assert np.allclose(units, np.round(units), atol=1e-3)
    relief = {}
    for j, name in enumerate(terrain.tile_types):
        tile = terrain.heights[border + j * n:border + (j + 1) * n, border:border + cfg.num_rows * n]
        relief[name] = [np.ptp(tile[:, i * n:(i + 1) * n]) for i in range(cfg.num_rows)]
    # Every type but flat has relief at the upper levels (a terrain option that silently stays flat:
    # unitree_rl_gym #52, #66), and slopes and stairs grow with the level.
    assert max(relief["flat"]) == 0
    for name in SUB_TERRAIN_TYPES[1:]:
        assert relief[name][-1] > 0.05, (name, relief[name])
    for name in ("slope_up", "slope_down", "stairs_up", "stairs_down"):
        assert relief[name][0] <= relief[name][1] < relief[name][2], (name, relief[name])
    # Up: the centre is the pit; down: the summit.
    centre = terrain.tile_origins[2, :, 2]
    types = terrain.tile_types
    assert centre[types.index("slope_up")] < 0 < centre[types.index("slope_down")]
    assert centre[types.index("stairs_up")] < 0 < centre[types.index("stairs_down")]


def test_stair_treads_are_whole_cells_and_heights_follow_difficulty():
    cfg = small_config(num_cols=1, proportions={"stairs_down": 1.0})
    terrain = build_terrain(cfg)
    border, n = 20, 80
    level = 2
    d = terrain.difficulty[level]
    # Along the tile's middle row, from its -x edge to the platform: steps of 6 cells (0.30 m for 0.31).
    row = terrain.heights[border + n // 2, border + level * n:border + level * n + n // 2]
    rises = np.flatnonzero(np.diff(row))
    assert np.all(np.diff(rises) == 6)
    step = 0.05 + 0.18 * d
    assert np.allclose(np.diff(row)[rises], round(step / 0.005) * 0.005, atol=1e-6)


def test_tile_origins_are_on_top_of_the_ground_around_them():
    cfg = small_config()
    terrain = build_terrain(cfg)
    lookup = TerrainHeights(terrain)
    offsets = torch.stack(torch.meshgrid(torch.linspace(-0.5, 0.5, 21), torch.linspace(-0.5, 0.5, 21), indexing="ij"), -1).reshape(-1, 2)
    origins = torch.as_tensor(terrain.tile_origins).reshape(-1, 3)
    ground = lookup(origins[:, None, :2] + offsets)  # (tiles, 441)
    assert torch.all(ground <= origins[:, 2:] + 1e-6)  # never spawned inside an obstacle
    assert torch.allclose(origins[:, 2], ground.max(1).values, atol=0.26)  # and not far above it


# ------------------------------------------------------------------------ MuJoCo heightfield


def test_add_heightfield_replaces_the_plane_floor_with_the_floors_contacts():
    terrain = build_terrain(small_config(num_rows=1, num_cols=1, proportions={"slope_up": 1.0}))
    spec = mujoco.MjSpec()
    floor = spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], contype=1, conaffinity=3)
    floor.friction = [0.7, 0.01, 0.001]
    add_heightfield(spec, terrain)
    model = spec.compile()
    assert model.ngeom == 1 and model.geom_type[0] == mujoco.mjtGeom.mjGEOM_HFIELD
    assert (model.geom_contype[0], model.geom_conaffinity[0]) == (1, 3)
    assert np.allclose(model.geom_friction[0], [0.7, 0.01, 0.001])
    assert (model.hfield_nrow[0], model.hfield_ncol[0]) == terrain.heights.shape
    assert 0.0 <= model.hfield_data.min() and model.hfield_data.max() <= 1.0


def test_spheres_dropped_on_slopes_and_stairs_rest_at_the_generators_height():
    # Slopes up and stairs down at 3 levels: heights differ along x (level) and y (type), so a flip or a
    # swap of the axes would put a sphere over another height. Fine vertical steps keep slopes planar.
    cfg = small_config(num_cols=2, proportions={"slope_up": 1.0, "stairs_down": 1.0}, vertical_scale=0.0005)
    terrain = build_terrain(cfg)
    h, (x0, y0) = terrain.heights.astype(np.float64), terrain.origin
    dx = terrain.spacing[0]
    # Vertices whose 5 x 5 neighbourhood is a plane (not a ridge or a riser), away from the border.
    gy, gx = np.gradient(h, dx)
    second = np.abs(np.diff(h, 2, axis=0))[:, 1:-1] + np.abs(np.diff(h, 2, axis=1))[1:-1, :]
    planar = np.zeros_like(h, bool)
    planar[1:-1, 1:-1] = second < 1e-3
    ok = np.ones_like(h, bool)
    for sy in range(-2, 3):
        for sx in range(-2, 3):
            ok &= np.roll(planar, (sy, sx), axis=(0, 1))
    ok &= np.abs(h) > 0.05  # off the zero-height ground: a wrong mapping would show
    candidates = np.argwhere(ok)
    rng = np.random.default_rng(0)
    picks = candidates[rng.choice(len(candidates), 24, replace=False)]
    radius = 0.01

    def add_spheres(spec):
        for k, (iy, ix) in enumerate(picks):
            body = spec.worldbody.add_body(name=f"ball{k}", pos=[x0 + ix * dx, y0 + iy * dx, h[iy, ix] + 0.03])
            body.add_joint(type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 0, 1])  # falls straight down
            body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[radius, 0, 0], contype=2, conaffinity=1)

    model, data = compile_with(terrain, [add_spheres])
    model.opt.timestep = 0.002
    for _ in range(500):
        mujoco.mj_step(model, data)
    rest = data.xpos[1:, 2]
    iy, ix = picks[:, 0], picks[:, 1]
    # A sphere on a plane of gradient g rests with its centre r sqrt(1 + |g|^2) above the plane.
    expected = h[iy, ix] + radius * np.sqrt(1 + gx[iy, ix] ** 2 + gy[iy, ix] ** 2)
    assert np.abs(data.qvel).max() < 1e-2  # at rest
    assert np.abs(rest - expected).max() < 0.003, np.abs(rest - expected).max()
    # The points cover both types and all three levels (slopes are steep enough to matter).
    assert len(set(np.round(h[iy, ix], 2))) > 10 and np.abs(gx[iy, ix]).max() > 0.1


# ----------------------------------------------------------------------------- torch lookup


def test_lookup_matches_mj_ray_at_random_points():
    terrain = build_terrain(small_config())
    model, data = compile_with(terrain)
    lookup = TerrainHeights(terrain)
    rows, cols = terrain.heights.shape
    rng = np.random.default_rng(1)
    low = np.array(terrain.origin) + 1e-3
    high = low + np.array([(cols - 1) * terrain.spacing[0], (rows - 1) * terrain.spacing[1]]) - 2e-3
    points = rng.uniform(low, high, size=(300, 2))
    # Points on vertices, on cell edges and on diagonals too, where a half-cell error would show most.
    points[:100] = np.round(points[:100] / 0.05) * 0.05 + np.array([0.0, 0.025])[None] * (np.arange(100) % 2)[:, None]
    points[:100] = np.clip(points[:100], low, high)
    rays = np.array([ray_down(model, data, x, y) for x, y in points])
    ours = lookup(torch.as_tensor(points, dtype=torch.float32)).double().numpy()
    # Float32 coordinates of points up to ~40 m from the origin: about 1e-5 m of error on the steepest cell.
    assert np.abs(ours - rays).max() < 2e-4, np.abs(ours - rays).max()


def test_points_outside_the_terrain_read_the_border():
    heights = np.arange(20, dtype=np.float32).reshape(4, 5)  # row iy at y = 0.1 iy, column ix at x = 0.1 ix
    lookup = TerrainHeights(hand_made(heights))
    points = torch.tensor([[-5.0, -5.0], [5.0, -5.0], [-5.0, 5.0], [5.0, 5.0], [0.2, -3.0], [-3.0, 0.2]])
    assert lookup(points).tolist() == [0.0, 4.0, 15.0, 19.0, 2.0, 10.0]
    # And the mapping itself: (x, y) = (0.1, 0.2) is vertex (iy=2, ix=1).
    assert lookup(torch.tensor([0.1, 0.2])).item() == pytest.approx(11.0, abs=1e-5)


def test_a_point_over_a_gap_reads_the_gaps_floor_not_its_edge():
    # Isaac Lab #5137: rays through a gap with nothing below read as a wall. Our gaps have a floor and the
    # lookup reads it: a drop of gap_depth (legged_gym's 1 m at every difficulty by default).
    cfg = small_config(num_rows=3, num_cols=1, proportions={"gaps": 1.0})
    terrain = build_terrain(cfg)
    lookup = TerrainHeights(terrain)
    x, y, z = terrain.tile_origins[2, 0]  # gap 2/3 m wide, from 0.5 m (platform) from the centre
    inner, width = 0.5, 2 / 3
    across = torch.tensor([[x + inner + width / 2, y], [x - inner - width / 2, y], [x, y + inner + 0.3], [x + 0.1, y - inner - 0.55]])
    assert torch.allclose(lookup(across), torch.full((4,), -1.0))
    # Before and after the gap: ground level.
    assert torch.allclose(lookup(torch.tensor([[x, y], [x + inner + width + 0.2, y]])), torch.zeros(2))
    # And the heightfield MuJoCo collides with agrees.
    model, data = compile_with(terrain)
    assert ray_down(model, data, float(across[0, 0]), float(across[0, 1])) == pytest.approx(-1.0, abs=1e-4)


def test_a_gap_depth_range_deepens_the_gaps_floor_with_difficulty():
    # A training terrain may start shallow (params.gap_depth, a Range); the default's floor stays 1 m.
    cfg = small_config(num_rows=3, num_cols=1, proportions={"gaps": 1.0})
    cfg.params.gap_depth = (0.1, 0.7)
    terrain, default = build_terrain(cfg), build_terrain(small_config(num_rows=3, num_cols=1, proportions={"gaps": 1.0}))
    depths = sorted({round(float(-v), 4) for v in terrain.heights[terrain.heights < -1e-6]})  # level 0's gap is 0 m wide
    assert depths == pytest.approx([0.1 + 0.6 * terrain.difficulty[1], 0.1 + 0.6 * terrain.difficulty[2]], abs=0.005)
    assert np.array_equal(terrain.heights < -1e-6, default.heights < -1e-6)  # the same gaps, only shallower
    assert set(np.round(-default.heights[default.heights < -1e-6], 4)) == {1.0}


def test_lookup_never_reads_below_the_surface_at_a_tall_obstacles_edge():
    # mjlab #775: a scan origin below a tall obstacle's top. The lookup has no origin; it interpolates
    # MuJoCo's own triangles, so at an edge it reads the riser's ramp MuJoCo collides with, never the
    # floor below the top (legged_gym's min-of-neighbours reads the floor up to a cell inside the top).
    heights = np.zeros((40, 40), np.float32)
    heights[15:26, 20:31] = 0.5  # a 1 m box, 0.5 m tall: x in [2.0, 3.0], y in [1.5, 2.5]
    terrain = hand_made(heights)
    model, data = compile_with(terrain)
    lookup = TerrainHeights(terrain)
    xs = np.linspace(1.7, 3.3, 161)
    # Rows off the grid lines: a ray exactly along a cell edge can slip between MuJoCo's triangles.
    for y in (1.43, 1.47, 1.52, 2.03, 2.48):
        points = np.stack([xs, np.full_like(xs, y)], 1)
        surface = np.array([ray_down(model, data, px, py) for px, py in points])
        ours = lookup(torch.as_tensor(points, dtype=torch.float32)).double().numpy()
        assert np.all(ours >= surface - 1e-4), (y, (surface - ours).max())
        assert np.abs(ours - surface).max() < 1e-4
    # On the top, anywhere but the outermost cell's ramp: the top's height.
    top = torch.stack(torch.meshgrid(torch.linspace(2.0, 3.0, 11), torch.linspace(1.5, 2.5, 11), indexing="ij"), -1).reshape(-1, 2)
    assert torch.allclose(lookup(top), torch.full((121,), 0.5))


# ------------------------------------------------------------------------------- env origins


def test_env_origins_spread_envs_over_columns_and_low_levels():
    terrain = build_terrain(small_config(num_rows=3))
    generator = torch.Generator().manual_seed(0)
    num_envs = 5 * terrain.num_cols
    origins, levels, columns = env_origins(num_envs, 1, terrain, generator)
    assert torch.equal(columns, torch.arange(num_envs) // 5)  # 5 envs per column, in index order
    assert set(levels.tolist()) == {0, 1}
    assert torch.equal(origins, torch.as_tensor(terrain.tile_origins)[levels, columns])
    again = env_origins(num_envs, 1, terrain, torch.Generator().manual_seed(0))
    assert torch.equal(again[1], levels)
    with pytest.raises(ValueError, match=r"^max_init_level=3: the terrain has only 3 levels"):
        env_origins(num_envs, 3, terrain, generator)


# -------------------------------------------------------------------------- heightmap files


def test_npy_heightmap_keeps_its_orientation_and_pads_the_border(tmp_path):
    data = np.add.outer(np.arange(21) * 0.1, np.arange(41) * 0.01)  # 21 rows (y) x 41 columns (x)
    np.save(tmp_path / "map.npy", data)
    cfg = TerrainConfig(kind="file", num_rows=2, num_cols=1, tile_size=2.0, border=0.5, spawn_patch=0.0)
    cfg.file.path, cfg.file.size, cfg.file.height_scale = str(tmp_path / "map.npy"), (4.0, 2.0), 2.0
    terrain = build_terrain(cfg)
    assert terrain.spacing == pytest.approx((0.1, 0.1)) and terrain.origin == pytest.approx((-0.5, -0.5))
    assert np.allclose(terrain.heights[5:-5, 5:-5], 2 * data)
    assert np.allclose(terrain.heights[:5, 5:-5], 2 * data[:1])  # border: the edge repeated
    lookup = TerrainHeights(terrain)
    assert lookup(torch.tensor([1.0, 0.5])).item() == pytest.approx(2 * data[5, 10], abs=1e-5)
    assert terrain.tile_origins[1, 0] == pytest.approx([3.0, 1.0, 2 * data[10, 30]])


def test_png_heightmap_top_of_the_picture_is_plus_y(tmp_path):
    import imageio.v3 as iio

    image = np.zeros((11, 21), np.uint8)
    image[0] = 255  # the top row of the picture
    iio.imwrite(tmp_path / "map.png", image)
    cfg = TerrainConfig(kind="file", num_rows=1, num_cols=1, tile_size=1.0, border=0.0)
    cfg.file.path, cfg.file.size, cfg.file.height_scale = str(tmp_path / "map.png"), (2.0, 1.0), 0.3
    terrain = build_terrain(cfg)
    assert terrain.heights[-1].tolist() == [pytest.approx(0.3)] * 21 and terrain.heights[:-1].max() == 0


def test_plane_kind_builds_nothing():
    assert build_terrain(TerrainConfig()) is None


# ----------------------------------------------------------------------------------- bad input


def bad_file(tmp_path, name: str, array) -> str:
    path = str(tmp_path / name)
    np.save(path, array)
    return path


@pytest.mark.parametrize("case", ["negative", "all_zero", "unknown", "no_column", "difficulty", "missing", "not_2d",
                                  "non_finite", "too_small", "kind", "gap_depth"])
def test_bad_terrain_config_is_one_line_naming_the_field(case, tmp_path):
    cfg = small_config()
    file_cfg = TerrainConfig(kind="file", num_rows=2, num_cols=2, tile_size=1.0)
    file_cfg.file.size = (2.0, 2.0)
    if case == "negative":
        cfg.proportions = {"flat": -0.5, "rough": 1.0}
        expected = "TerrainConfig.proportions.flat=-0.5: must be a finite number >= 0"
    elif case == "all_zero":
        cfg.proportions = {"flat": 0.0, "rough": 0.0}
        expected = "TerrainConfig.proportions={'flat': 0.0, 'rough': 0.0}: are all zero"
    elif case == "unknown":
        cfg.proportions = {"lava": 1.0}
        expected = "TerrainConfig.proportions='lava': unknown sub-terrain type; known: flat, rough"
    elif case == "no_column":
        cfg.num_cols, cfg.proportions = 2, {"flat": 1.0, "rough": 1.0, "gaps": 0.01}
        expected = "give ['gaps'] no tile column out of num_cols=2"
    elif case == "difficulty":
        cfg.difficulty_range = (0.8, 0.2)
        expected = "TerrainConfig.difficulty_range=(0.8, 0.2): must be (low, high) with 0 <= low <= high <= 1"
    elif case == "missing":
        cfg, file_cfg.file.path = file_cfg, str(tmp_path / "nowhere.npy")
        expected = "TerrainConfig.file.path='" + str(tmp_path / "nowhere.npy") + "': no such file"
    elif case == "not_2d":
        cfg, file_cfg.file.path = file_cfg, bad_file(tmp_path, "cube.npy", np.zeros((4, 4, 4)))
        expected = "must hold a 2-D array; it has shape (4, 4, 4)"
    elif case == "non_finite":
        cfg, file_cfg.file.path = file_cfg, bad_file(tmp_path, "nan.npy", np.array([[0.0, np.nan], [np.inf, 1.0]]))
        expected = "has 2 non-finite values"
    elif case == "too_small":
        cfg, file_cfg.file.path = file_cfg, bad_file(tmp_path, "ok.npy", np.zeros((8, 8)))
        file_cfg.file.size = (2.0, 1.5)
        expected = "TerrainConfig.file.size=(2.0, 1.5): too small for num_rows x num_cols = 2 x 2 tiles of 1.0 m: needs at least (2.0, 2.0) m"
    elif case == "gap_depth":
        cfg.params.gap_depth = (0.0, 1.0)
        expected = "TerrainConfig.params.gap_depth=(0.0, 1.0): must be > 0 at both ends (m)"
    else:
        cfg.kind = "mesh"
        expected = "TerrainConfig.kind='mesh': must be one of plane, generated, file"
    with pytest.raises(ValueError) as error:
        cfg.validate()
    message = str(error.value)
    assert "\n" not in message and expected in message, message
    with pytest.raises(ValueError):  # build_terrain validates first: nothing is built
        build_terrain(cfg)


def test_default_config_is_valid_and_legged_gyms_mix():
    cfg = TerrainConfig(kind="generated")
    cfg.validate()
    types = cfg.column_types()
    assert len(types) == 20 and {t: types.count(t) for t in set(types)} == {
        "slope_up": 1, "slope_down": 1, "rough": 2, "stairs_up": 7, "stairs_down": 5, "discrete": 4}
    assert math.isclose(cfg.difficulty(9), 0.9)
