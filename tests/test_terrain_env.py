"""The terrain in the legged env (issue 21 pts 2-6): config and rebuild, spawning, terrain-relative
heights, the height scan, the terrain-level curriculum with exact resume, the go1_rough tasks.

Small terrains (a few 4 m tiles, a 1 m border) and a few envs keep the file well under 30 s.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import mujoco
import numpy as np
import pytest
import torch
import yaml

from legged_train.config import config_to_dict
from legged_train.envs.legged import curriculum
from legged_train.envs.legged.config import HeightScanConfig, LeggedEnvConfig, ObservationTermConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.legged.observations import base_height, height_scan, terrain_scan
from legged_train.envs.terrain import SubTerrainParams, Terrain, TerrainConfig, build_terrain
from legged_train.envs.terrain.lookup import TerrainHeights


def rough_terrain(**changes) -> TerrainConfig:
    """2 levels x 3 columns (rough, stairs down, discrete obstacles) of 4 m tiles, a 1 m border."""
    cfg = TerrainConfig(kind="generated", num_rows=2, num_cols=3, tile_size=4.0, border=1.0, max_init_terrain_level=1,
                        proportions={"rough": 1.0, "stairs_down": 1.0, "discrete": 1.0},
                        params=SubTerrainParams(platform_size=2.0, num_obstacles=4), seed=5)
    for name, value in changes.items():
        setattr(cfg, name, value)
    return cfg


def env_config(terrain: TerrainConfig, num_envs: int = 6, **changes) -> LeggedEnvConfig:
    cfg = LeggedEnvConfig(num_envs=num_envs, terrain=terrain)
    cfg.sim.num_threads = 1
    cfg.domain_rand.enabled = False
    cfg.noise.enabled = False
    for name, value in changes.items():
        setattr(cfg, name, value)
    return cfg


def file_terrain(tmp_path, heights: np.ndarray, size: tuple[float, float], **changes) -> TerrainConfig:
    """A "bring your own" terrain from ``heights`` (row 0 at -y), tiles of 4 m, a 1 m border."""
    path = tmp_path / "map.npy"
    np.save(path, heights)
    cfg = TerrainConfig(kind="file", num_rows=int(size[0] // 4), num_cols=int(size[1] // 4), tile_size=4.0, border=1.0,
                        max_init_terrain_level=0)
    cfg.file.path, cfg.file.size = str(path), size
    for name, value in changes.items():
        setattr(cfg, name, value)
    return cfg


def plateau_and_pit(tmp_path) -> TerrainConfig:
    """Three 4 m tiles along x: flat ground, a plateau 0.3 m up, a pit 0.3 m down (0.05 m cells)."""
    heights = np.zeros((81, 241))
    heights[:, 81:160] = 0.3  # tile 1 (x in 4..8 m), vertices strictly inside it
    heights[:, 161:240] = -0.3  # tile 2 (x in 8..12 m)
    return file_terrain(tmp_path, heights, (12.0, 4.0))


def put_on_levels(env: LeggedVelocityEnv, levels: list[int]) -> None:
    """Start env i on level levels[i] of its column, then reset every env there."""
    env.terrain_levels[:] = torch.tensor(levels)
    env.env_origins[:] = env.terrain_tile_origins[env.terrain_levels, env.terrain_columns]
    env.reset()


# ----------------------------------------------------------------------------- config, rebuild


def test_plane_is_the_default_and_keeps_the_plane_floor():
    cfg = env_config(LeggedEnvConfig().terrain, num_envs=2)
    assert cfg.terrain.kind == "plane"
    env = LeggedVelocityEnv(cfg)
    assert env.terrain is None and env.terrain_heights is None and env.env_origins is None
    assert env.mj_model.nhfield == 0 and mujoco.mjtGeom.mjGEOM_PLANE in env.mj_model.geom_type
    # On the plane heights are above z = 0, as before terrains existed, and nothing terrain is saved.
    assert torch.equal(env.base_height, env.base_pos[:, 2]) and "terrain" not in env.state_dict()


def test_a_terrain_replaces_the_plane_with_one_heightfield():
    env = LeggedVelocityEnv(env_config(rough_terrain()))
    model = env.mj_model
    assert model.nhfield == 1 and mujoco.mjtGeom.mjGEOM_PLANE not in model.geom_type
    rows, cols = env.terrain.heights.shape
    assert (model.hfield_nrow[0], model.hfield_ncol[0]) == (rows, cols)


def test_the_recorded_config_rebuilds_the_same_terrain_bit_for_bit(tmp_path):
    """What play and --resume do: the task's config with the run's config.yaml applied."""
    from legged_train.cli.runs import load_run_configs
    from legged_train.tasks import get_task

    task = get_task("go1_rough")
    task.env_cfg.terrain = rough_terrain(seed=11, num_rows=3)
    task.env_cfg.terrain.params.step_height = (0.07, 0.2)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"env": config_to_dict(task.env_cfg)}))
    fresh = get_task("go1_rough")
    assert fresh.env_cfg.terrain.seed != 11
    env_cfg, _ = load_run_configs(fresh, {}, str(tmp_path))
    first, again = build_terrain(task.env_cfg.terrain), build_terrain(env_cfg.terrain)
    assert first.heights.tobytes() == again.heights.tobytes()
    assert np.array_equal(first.tile_origins, again.tile_origins) and first.tile_types == again.tile_types


@pytest.mark.parametrize("change, message", [
    (lambda c: setattr(c.terrain, "num_rows", 0), r"^LeggedEnvConfig\.terrain\.num_rows=0: must be an int >= 1$"),
    (lambda c: setattr(c.height_scan, "size", (4.5, 1.0)),
     r"^LeggedEnvConfig\.height_scan\.size=\(4\.5, 1\.0\): is wider than a terrain tile \(terrain\.tile_size=4\.0 m\)"),
    (lambda c: setattr(c.height_scan, "spacing", 0.0), r"^LeggedEnvConfig\.height_scan\.spacing=0\.0: must be > 0"),
    (lambda c: setattr(c.terrain, "max_init_terrain_level", -1),
     r"^LeggedEnvConfig\.terrain\.max_init_terrain_level=-1: must be an int >= 0$"),
    (lambda c: (setattr(c.terrain, "kind", "plane"), c.curriculum.terms.update(terrain_levels={})),
     r"^LeggedEnvConfig\.curriculum\.terms\.terrain_levels=\{\}: needs a terrain"),
    (lambda c: (setattr(c, "num_envs", 2), c.curriculum.terms.update(terrain_levels={})),
     r"^LeggedEnvConfig\.num_envs=2: is fewer than the terrain's tile columns \(terrain\.num_cols=3\)"),
])
def test_bad_terrain_settings_are_one_line_naming_the_field(change, message):
    cfg = env_config(rough_terrain())
    change(cfg)
    with pytest.raises(ValueError, match=message) as error:
        cfg.validate()
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------- spawning


def test_robots_spawn_on_their_tiles_above_the_terrain_with_random_yaw():
    env = LeggedVelocityEnv(env_config(rough_terrain(), num_envs=12))
    radius, yaws = env.cfg.robot.foot_radius, []
    for _ in range(15):
        env.reset()
        # Every foot's sole and the base above the ground under it; the lowest foot on it.
        feet = env.foot_pos
        clearance = feet[:, :, 2] - radius - env.terrain_heights(feet[:, :, :2])
        assert clearance.min() > 0.0 and torch.allclose(clearance.min(dim=1).values, torch.full((12,), 0.002), atol=2e-4)
        assert (env.base_pos[:, 2] - env.terrain_heights(env.base_pos[:, :2]) > 0.15).all()
        assert torch.allclose(env.base_pos[:, :2], env.env_origins[:, :2], atol=0.05)
        w, z = env.base_quat[:, 0], env.base_quat[:, 3]
        yaws.append(2 * torch.atan2(z, w))
    yaws = torch.remainder(torch.cat(yaws) + math.pi, 2 * math.pi) - math.pi
    assert yaws.min() < -2.5 and yaws.max() > 2.5 and yaws.std() > 1.5  # spread over the circle


def test_a_robot_stands_on_a_slope_tile_and_never_falls_through_its_faces():
    """Robots hold the standing pose for 1 s (zero actions) on a 0.24 rad pyramid: four at the tile's
    origin (its platform, where training starts them) stand; four dropped onto the faces (only the
    lowest foot touches at spawn, so some tip over: no terminations here) never sink into them."""
    terrain = TerrainConfig(kind="generated", num_rows=1, num_cols=1, tile_size=4.0, border=1.0, max_init_terrain_level=0,
                            proportions={"slope_down": 1.0}, difficulty_range=(0.6, 0.6),
                            params=SubTerrainParams(platform_size=1.0, slope=(0.0, 0.4)))
    cfg = env_config(terrain, num_envs=8)
    cfg.terminations.terms = {}
    cfg.sim.full_body_contacts = True  # the trunk of a robot that tips over lands on the face (go1_rough's setting)
    env = LeggedVelocityEnv(cfg)
    centre = env.terrain_tile_origins[0, 0]
    faces = torch.tensor([[1.2, 0, 0], [-1.2, 0, 0], [0, 1.2, 0], [0, -1.2, 0]])
    env.env_origins[4:] = centre + faces
    env.reset()
    ground = env.terrain_heights(env.base_pos[:, :2])
    assert (ground[4:] < centre[2] - 0.15).all() and torch.allclose(ground[:4], centre[2].expand(4))
    env.set_commands(torch.zeros(8, 3))
    for _ in range(50):  # 1 s
        env.step(torch.zeros(8, 12))
        # Never through the ground: MuJoCo's soft contact lets a foot landing on a face sink ~1 cm at most.
        assert (env.foot_height > -0.02).all()
        assert (env.base_pos[:, 2] - env.terrain_heights(env.base_pos[:, :2]) > 0.04).all()
    upright = env.projected_gravity[:4, 2] < -0.95
    assert upright.all() and (env.base_height[:4] > 0.2).all()  # the platform's robots stand


# ------------------------------------------------------------------ terrain-relative heights


def test_on_a_plateau_or_in_a_pit_the_base_height_is_as_on_flat_ground(tmp_path):
    """Isaac Lab #1698: a base height against world z reads 0.3 m too high on a plateau, and in a
    0.3 m pit the base_too_low termination fires on a standing robot."""
    env = LeggedVelocityEnv(env_config(plateau_and_pit(tmp_path), num_envs=3))
    put_on_levels(env, [0, 1, 2])
    assert torch.allclose(env.base_pos[:, 2] - env.base_pos[0, 2], torch.tensor([0.0, 0.3, -0.3]), atol=1e-4)
    observed = base_height(env)[:, 0]
    assert torch.allclose(observed, observed[0].expand(3), atol=1e-5)
    assert torch.allclose(env.foot_height, env.foot_height[0].expand(3, -1), atol=1e-5)
    env.set_commands(torch.zeros(3, 3))
    for _ in range(5):
        _, _, dones, _ = env.step(torch.zeros(3, 12))
        assert not dones.any()  # not even the pit's robot is "too low"
    assert torch.allclose(env.base_height, env.base_height[0].expand(3), atol=2e-3)


def test_a_motion_frame_without_base_height_reads_its_world_height():
    frame = SimpleNamespace(base_pos=torch.tensor([[0.0, 0.0, 0.28]]))
    assert base_height(frame).tolist() == [[pytest.approx(0.28)]]


# -------------------------------------------------------------------------------- height scan


def scan_state(heights: np.ndarray, base_xyz, yaw: float, spacing: float = 0.05) -> SimpleNamespace:
    """A state for the height_scan term over a hand-made terrain (origin (0, 0))."""
    terrain = Terrain(heights.astype(np.float32), (spacing, spacing), (0.0, 0.0), np.zeros((1, 1, 3), np.float32), ["file"],
                      np.zeros(1), 4.0)
    scan = HeightScanConfig()
    quat = torch.tensor([[math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]])
    return SimpleNamespace(base_pos=torch.tensor([base_xyz], dtype=torch.float32), base_quat=quat, height_scan_cfg=scan,
                           height_scan_points=torch.tensor(scan.points()), terrain_heights=TerrainHeights(terrain))


def test_the_scan_reads_a_step_where_it_is_and_turns_with_the_robot():
    # A 0.2 m step up at x = 2.0 m (vertex 40: the riser spans one cell, 1.95..2.0 m).
    heights = np.zeros((81, 81))
    heights[:, 40:] = 0.2
    base = (2.0 - 0.375, 2.0, 0.8)  # the step 0.375 m ahead: the scan's x = 0.4 .. 0.8 points are on it
    ahead = scan_state(heights, base, yaw=0.0)
    values = height_scan(ahead).reshape(11, 17)  # (y, x): x fastest
    assert values.shape == (11, 17)
    px = torch.tensor(HeightScanConfig().points())[:17, 0]
    on_step = px > 0.35
    assert torch.allclose(values[:, on_step], torch.full_like(values[:, on_step], 0.8 - 0.5 - 0.2))
    assert torch.allclose(values[:, ~on_step], torch.full_like(values[:, ~on_step], 0.8 - 0.5))
    # Turned 90 degrees left, the step lies to the robot's right: the points at y <= -0.4 m.
    left = height_scan(scan_state(heights, base, yaw=math.pi / 2)).reshape(11, 17)
    py = torch.tensor(HeightScanConfig().points())[::17, 1]
    right_side = py < -0.35
    assert torch.allclose(left[right_side], torch.full_like(left[right_side], 0.1))
    assert torch.allclose(left[~right_side], torch.full_like(left[~right_side], 0.3))


def test_the_terrain_scan_reads_the_terrain_against_the_ground_stood_on_whatever_the_base_does():
    heights = np.zeros((81, 81))
    heights[:, 40:] = 0.2  # the same step up at x = 2.0 m
    for base_z in (0.3, 0.34):  # the base bobbing: the terrain scan does not move
        state = scan_state(heights, (2.0 - 0.375, 2.0, base_z), yaw=0.0)
        state.base_ground = torch.tensor([0.0])  # standing on the lower floor
        values = terrain_scan(state).reshape(11, 17)
        on_step = torch.tensor(HeightScanConfig().points())[:17, 0] > 0.35
        assert torch.equal(values[:, on_step], torch.full_like(values[:, on_step], 0.2))  # a step up reads +
        assert torch.equal(values[:, ~on_step], torch.zeros_like(values[:, ~on_step]))
    state.base_ground = torch.tensor([0.2])  # standing on top: the floor behind is a step down
    assert torch.allclose(terrain_scan(state).reshape(11, 17)[:, 0], torch.full((11,), -0.2))
    state.base_ground, state.terrain_heights = None, None  # the plane: all zeros
    assert torch.equal(terrain_scan(state), torch.zeros(1, 187))


def test_the_scan_reads_a_gap_as_a_drop_and_a_tall_obstacle_as_its_top():
    """Isaac Lab #5137 (a gap read as a wall) and mjlab #775 (a ray origin below a tall obstacle):
    the lookup reads MuJoCo's surface directly, with no ray origin."""
    heights = np.zeros((81, 81))
    heights[:, 50:60] = -1.0  # a gap, its floor from x = 2.5 to 2.95 m
    heights[50:, 20:25] = 3.0  # a 3 m pillar behind the robot on its left (x 1.0..1.2, y >= 2.5 m)
    values = height_scan(scan_state(heights, (2.0, 2.0, 0.3), yaw=0.0)).reshape(11, 17)
    px = torch.tensor(HeightScanConfig().points())[:17, 0]
    over_gap = px > 0.45  # x = 2.5 .. 2.8 m; the gap's edge ramps over the cell before 2.5
    assert torch.allclose(values[:, over_gap], torch.tensor(0.8))  # 0.3 - 0.5 - (-1.0): the gap's floor, a drop
    assert torch.allclose(values[:5, ~over_gap], torch.tensor(-0.2))  # flat ground on either side
    assert values[10, 0] == -1.0  # the pillar's top (the scan's corner point), 2.7 m above the base: clipped low


def test_scan_terms_in_a_group_and_a_plane_scan_reads_flat_ground():
    cfg = env_config(rough_terrain(), num_envs=2)
    cfg.observations["critic"].terms += [ObservationTermConfig("height_scan"), ObservationTermConfig("foot_terrain_height")]
    env = LeggedVelocityEnv(cfg)
    assert env.observation_layout()["critic"][-2:] == [("height_scan", 187), ("foot_terrain_height", 4)]
    plane = env_config(LeggedEnvConfig().terrain, num_envs=2)
    plane.observations["critic"].terms += [ObservationTermConfig("height_scan"), ObservationTermConfig("foot_terrain_height")]
    flat = LeggedVelocityEnv(plane)
    scan = height_scan(flat)
    assert torch.allclose(scan, (flat.base_pos[:, 2:3] - 0.5).expand(-1, 187))


# ------------------------------------------------------------------------------- curriculum


def test_terrain_levels_follow_legged_gyms_rule():
    cfg = env_config(rough_terrain(num_rows=4, max_init_terrain_level=3), num_envs=6)
    cfg.curriculum.terms["terrain_levels"] = {}
    env = LeggedVelocityEnv(cfg)
    env.terrain_levels[:] = torch.tensor([1, 1, 0, 3, 2, 2])
    origins = env.terrain_tile_origins[env.terrain_levels, env.terrain_columns].clone()
    env.env_origins[:] = origins
    walked = torch.tensor([2.5, 0.5, 0.5, 2.5, 0.5, 0.5])  # m from the origin; half a tile is 2 m
    env.base_pos = origins.clone()
    env.base_pos[:, 0] += walked
    # |command| x 20 s / 2 = 10 m asked of envs 1, 2; envs 4, 5 stood still by command.
    env.commands[:] = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [0, 0, 0.5], [0.04, 0.0, 0]])
    curriculum.terrain_levels(env, torch.arange(6))
    levels = env.terrain_levels.tolist()
    assert levels[:3] == [2, 0, 0]  # up; down; down from the lowest level stays
    assert 0 <= levels[3] < 4  # past the top level: a random level
    assert levels[4:] == [2, 2]  # asked to turn on the spot: stays; asked 0.4 m and walked 0.5: stays
    assert torch.equal(env.env_origins, env.terrain_tile_origins[env.terrain_levels, env.terrain_columns])


def short_episode_env(seed: int = 0) -> LeggedVelocityEnv:
    cfg = env_config(rough_terrain(), num_envs=6, episode_length_s=0.3, seed=seed)
    cfg.domain_rand.enabled = True  # its draws and the curriculum's share the generator: resume must hold both
    cfg.curriculum.terms["terrain_levels"] = {}
    cfg.commands.heading_command, cfg.commands.resampling_time = True, 0.25  # as go1_rough; headings redrawn
    return LeggedVelocityEnv(cfg)


def test_the_curriculum_is_logged_and_resumes_exactly():
    generator = torch.Generator().manual_seed(0)
    actions = [torch.randn(6, 12, generator=generator) for _ in range(40)]
    env = short_episode_env()
    assert (env.terrain_levels <= 1).all()  # max_init_terrain_level
    logs = []
    for a in actions[:20]:
        _, _, _, extras = env.step(a)
        logs.append(extras.get("log", {}))
    ended = [log for log in logs if log]
    assert ended and all("curriculum/terrain_level" in log for log in ended)
    assert {"curriculum/terrain_level_rough", "curriculum/terrain_level_stairs_down"} <= set(ended[0])
    state = env.state_dict()
    assert set(state["terrain"]) == {"levels", "origins"} and set(state["heading"]) == {"target", "steering"}
    straight = []
    for a in actions[20:]:
        obs, reward, _, _ = env.step(a)
        straight.append((obs, reward, env.terrain_levels.clone()))
    resumed = short_episode_env()
    resumed.load_state_dict(state)
    for a, (obs, reward, levels) in zip(actions[20:], straight):
        got_obs, got_reward, _, _ = resumed.step(a)
        assert torch.equal(got_obs, obs) and torch.equal(got_reward, reward) and torch.equal(resumed.terrain_levels, levels)


def test_heading_commands_steer_the_yaw_rate_towards_the_heading():
    env = short_episode_env()
    generator = torch.Generator().manual_seed(1)
    for _ in range(12):  # through resamples and resets
        env.step(torch.randn(6, 12, generator=generator))
        error = env.command_heading - env.base_yaw
        error = torch.atan2(torch.sin(error), torch.cos(error))
        steered = (0.5 * error).clamp(-1.0, 1.0)  # legged_gym's 0.5 x the error, within ang_vel_yaw's +-1 rad/s
        assert torch.allclose(env.commands[:, 2], torch.where(env.command_steering, steered, torch.zeros(6)), atol=1e-6)
        # A standing command stays all zeros; a moving one keeps its drawn linear velocities.
        assert torch.equal(env.command_steering, env.commands[:, :2].abs().sum(dim=1) > 0)
    env.set_commands(torch.tensor([[0.5, 0.0, 0.3]]).repeat(6, 1), hold=True)
    env.step(torch.zeros(6, 12))
    assert torch.allclose(env.commands[:, 2], torch.full((6,), 0.3))  # held commands are not steered


# ------------------------------------------------------------------------------------ tasks


@pytest.mark.parametrize("name", ["go1_rough", "go1_rough_teacher", "go2_rough", "g1_rough"])
def test_a_rough_task_trains_one_iteration(name):
    from legged_train.runners.registry import make_runner
    from legged_train.tasks import get_task

    task = get_task(name)
    env_cfg, train_cfg = task.env_cfg, task.train_cfg
    assert env_cfg.terrain.kind == "generated" and env_cfg.curriculum.terms["terrain_levels"] == {}
    assert "height_scan" not in [t.name for t in env_cfg.observations["policy"].terms]
    assert "height_scan" in [t.name for t in env_cfg.observations["critic"].terms]
    if name == "go1_rough_teacher":
        assert train_cfg.actor_obs_group == "teacher" and "terrain_scan" in [t.name for t in env_cfg.observations["teacher"].terms]
    env_cfg.terrain = rough_terrain(max_init_terrain_level=0)
    env_cfg.num_envs, env_cfg.sim.num_threads = 8, 1
    train_cfg.num_steps_per_env, train_cfg.num_mini_batches, train_cfg.eval_interval = 4, 1, 0
    train_cfg.actor_cfg["hidden_dims"] = train_cfg.critic_cfg["hidden_dims"] = [16]
    env = task.make_env(env_cfg, "cpu")
    runner = make_runner(env, train_cfg, None, "cpu", runner_cls=task.runner_cls)
    runner.learn(num_learning_iterations=1)
    assert env.obs_bufs["critic"].isfinite().all()


def test_the_rough_teachers_scan_is_read_at_its_fixed_scale_and_a_wrong_term_is_refused():
    from legged_train.algorithms.ppo import PPO
    from legged_train.tasks import get_task

    task = get_task("go1_rough_teacher")
    env_cfg, train_cfg = task.env_cfg, task.train_cfg
    assert train_cfg.fixed_scale_terms == ["terrain_scan"]
    env_cfg.terrain = rough_terrain(max_init_terrain_level=0)
    env_cfg.num_envs, env_cfg.sim.num_threads = 6, 1
    env = task.make_env(env_cfg, "cpu")
    ppo = PPO(env, train_cfg)
    layout = env.observation_layout()["teacher"]
    kept = torch.cat([torch.full((width,), term == "terrain_scan") for term, width in layout])
    assert torch.equal(ppo.actor.obs_normalizer.normalized, ~kept)
    assert ppo.critic.obs_normalizer.normalized.all()  # the critic's group has no terrain_scan
    teacher_obs = env.get_observations()[1]["observations"]["teacher"]
    ppo.actor.update_normalization(teacher_obs + 1.0)
    torch.testing.assert_close(ppo.actor.obs_normalizer(teacher_obs)[:, kept], teacher_obs[:, kept])
    train_cfg.fixed_scale_terms = ["terrain_scna"]
    with pytest.raises(ValueError, match="fixed_scale_terms: 'terrain_scna' is not a term of the actor's or the critic's group: 'teacher' has"):
        PPO(env, train_cfg)


def test_reference_state_starts_turn_with_the_random_yaw():
    """AMP's reference frames on a terrain: at the tile origin, the frame's world-frame velocity
    turned with its heading, so the robot still moves forward in its own frame."""
    env = LeggedVelocityEnv(env_config(rough_terrain(), num_envs=6))
    qpos0 = torch.as_tensor(env.mj_model.qpos0, dtype=torch.float64)
    qpos0[env.joint_qpos_ids] = env.default_joint_pos.double()

    def sampler(n):
        qvel = torch.zeros(n, env.mj_model.nv, dtype=torch.float64)
        qvel[:, 0] = 0.8  # forward, along the frame's own heading (yaw 0)
        return qpos0.expand(n, -1).clone(), qvel, torch.tensor([[0.8, 0.0, 0.0]]).expand(n, -1)

    env.set_reference_state_init(sampler, 1.0)
    env.reset()
    assert torch.allclose(env.base_pos[:, :2], env.env_origins[:, :2], atol=0.05)
    assert torch.allclose(env.base_lin_vel_heading, torch.tensor([0.8, 0.0]).expand(6, -1), atol=1e-4)
    w, z = env.base_quat[:, 0], env.base_quat[:, 3]
    assert (2 * torch.atan2(z, w)).std() > 0.5  # the headings differ


def test_terrain_settings_from_the_command_line():
    from legged_train.config import apply_overrides, split_env_train_overrides

    cfg = LeggedEnvConfig()
    overrides, _ = split_env_train_overrides([
        "env.terrain.kind=generated", "env.terrain.num_rows=2", "env.terrain.num_cols=2", "env.terrain.tile_size=4.0",
        "env.terrain.proportions={rough: 1, stairs_up: 1}", "env.terrain.params.step_height=[0.05, 0.1]",
        "env.height_scan.size=[1.2, 0.8]", "env.curriculum.terms.terrain_levels={}"])
    apply_overrides(cfg, overrides)
    cfg.validate()
    assert cfg.terrain.proportions == {"rough": 1, "stairs_up": 1} and cfg.terrain.params.step_height == (0.05, 0.1)
    assert len(cfg.height_scan.points()) == 13 * 9


def test_after_resets_only_the_reset_envs_terms_are_computed_again_with_the_same_numbers(monkeypatch):
    """A step with resets computes its groups twice; the second time only the reset envs' rows of
    each term are computed (``stale``). Bit for bit what computing every row gives, noise, history
    and the height scan included."""
    from legged_train.envs.legged import env as env_module
    from legged_train.tasks import get_task

    def make():
        task = get_task("go1_rough_teacher")  # policy (noisy), critic and teacher groups, the height scan
        cfg = task.env_cfg
        cfg.terrain = rough_terrain()
        cfg.num_envs, cfg.sim.num_threads, cfg.episode_length_s = 6, 1, 0.3
        cfg.observations["policy"].history_length = 3
        return task.make_env(cfg, "cpu")

    generator = torch.Generator().manual_seed(0)
    actions = [torch.randn(6, 12, generator=generator) for _ in range(40)]
    fast = make()
    fast_steps = [fast.step(a) for a in actions]
    full_compute = env_module.compute_groups
    monkeypatch.setattr(env_module, "compute_groups", lambda *args: full_compute(*args[:6]))  # every row, always
    slow = make()
    resets = 0
    for a, (obs, reward, dones, extras) in zip(actions, fast_steps):
        slow_obs, slow_reward, slow_dones, slow_extras = slow.step(a)
        resets += int(dones.sum())
        assert torch.equal(obs, slow_obs) and torch.equal(reward, slow_reward) and torch.equal(dones, slow_dones)
        for group, value in extras["observations"].items():
            assert torch.equal(value, slow_extras["observations"][group]), group
    assert resets >= 12
