"""The depth camera (envs/sensors/depth_camera.py) and image observation terms (issue 24, points 1, 2, 7)."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
import torch

from legged_train.envs.legged.config import LeggedEnvConfig, ObservationGroupConfig, ObservationTermConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.sensors import DepthNoiseConfig
from legged_train.envs.terrain import TerrainConfig

SMALL_TERRAIN = dict(kind="generated", num_rows=2, num_cols=3, tile_size=4.0, border=1.0, max_init_terrain_level=1,
                     proportions={"stairs_up": 1.0, "discrete": 1.0, "rough": 1.0})


def camera_env(num_envs: int = 4, terrain: dict | None = None, noise: bool = False, **camera) -> LeggedVelocityEnv:
    cfg = LeggedEnvConfig(num_envs=num_envs)
    cfg.depth_camera.enabled = True
    cfg.depth_camera.width, cfg.depth_camera.height = camera.pop("width", 16), camera.pop("height", 12)
    for name, value in camera.items():
        setattr(cfg.depth_camera, name, value)
    if not noise:
        cfg.depth_camera.noise = DepthNoiseConfig(depth_std=0.0, dropout_prob=0.0, edge_dropout_prob=0.0)
    if terrain is not None:
        cfg.terrain = TerrainConfig(**terrain)
    cfg.observations["depth"] = ObservationGroupConfig(["base_ang_vel", "depth_image", "command"])
    return LeggedVelocityEnv(cfg)


def mj_ray_depth(env: LeggedVelocityEnv, env_id: int, rays_world: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """The same pixels by MuJoCo's own mj_ray on one MjData in that env's state: world geoms of group 0 only."""
    data = mujoco.MjData(env.mj_model)
    data.qpos[:] = env.sim.qpos[env_id].numpy()
    mujoco.mj_forward(env.mj_model, data)
    geomid = np.zeros(1, np.int32)
    mask = np.array([1, 0, 0, 0, 0, 0], np.uint8)
    return np.array([mujoco.mj_ray(env.mj_model, data, origin, ray, mask, 1, -1, geomid) for ray in rays_world])


@pytest.mark.parametrize("terrain", [None, SMALL_TERRAIN], ids=["plane", "heightfield"])
def test_each_pixel_is_mujocos_ray_distance_along_the_optical_axis(terrain):
    env = camera_env(terrain=terrain, latency_s=0.0, ray_caster="mujoco")
    for _ in range(3):
        env.step(0.3 * torch.randn(env.num_envs, env.num_actions))
    cam, cfg = env.depth_camera, env.cfg.depth_camera
    depth = cam.render()
    body = cam.body_id
    for env_id in range(env.num_envs):
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, env.sim.xquat[env_id, body].numpy())
        rot = rot.reshape(3, 3)
        origin = env.sim.xpos[env_id, body].numpy() + rot @ np.asarray(cfg.pos)
        rays_camera = cfg.ray_directions()
        rays_world = rays_camera @ cfg.rotation().T @ rot.T
        distance = mj_ray_depth(env, env_id, rays_world, origin)
        expected = distance * rays_camera[:, 0]
        expected = np.where((distance < 0) | (expected > cfg.far), cfg.far, np.maximum(expected, cfg.near))
        np.testing.assert_allclose(depth[env_id].flatten().numpy(), expected, atol=2e-5)
    assert (depth < cfg.far).float().mean() > 0.5  # the camera looks at the ground, not the sky


def test_marching_the_heightfield_gives_mujocos_image():
    """The fast path on terrains (march_heightfield) against mj_ray, on stairs, obstacles and rough
    ground seen from robots that stumble: the same depth to within the march's refinement."""
    images = {}
    for caster in ("auto", "mujoco"):
        env = camera_env(num_envs=6, terrain=SMALL_TERRAIN, latency_s=0.0, ray_caster=caster, width=32, height=24)
        generator = torch.Generator().manual_seed(1)
        for _ in range(8):
            env.step(0.5 * torch.randn(env.num_envs, env.num_actions, generator=generator))
        assert (env.depth_camera.terrain_heights is not None) == (caster == "auto")
        images[caster] = env.depth_camera.render()
    difference = (images["auto"] - images["mujoco"]).abs()
    assert (images["mujoco"] < env.cfg.depth_camera.far).float().mean() > 0.5
    assert (difference <= 2e-3).float().mean() >= 0.995, difference.max()


def test_the_camera_never_sees_its_own_robot():
    # Straight down from inside the trunk: with the robot's geoms seen, every ray would stop on the
    # trunk's underside a few cm away; the camera sees the floor, the base height below.
    env = camera_env(pos=(0.0, 0.0, 0.0), pitch_deg=90.0, horizontal_fov_deg=10.0, latency_s=0.0)
    depth = env.depth_camera.render()
    base_z = env.sim.xpos[:, env.depth_camera.body_id, 2].float()
    np.testing.assert_allclose(depth[:, 6, 8], base_z, rtol=0.01)
    assert env.mj_model.geom_group[env.mj_model.geom_bodyid != 0].min() >= 1  # moved out of the camera's group 0


def test_images_arrive_every_period_and_are_seen_after_the_latency():
    env = camera_env(update_period_s=0.1, latency_s=0.1)  # 5 and 5 policy steps at 50 Hz
    cam = env.depth_camera
    assert (cam.period_steps, cam.latency_steps, cam.queue_length) == (5, 5, 2)
    env.set_commands(torch.tensor([[1.0, 0.0, 0.0]] * env.num_envs))
    renders, seen = {}, {}
    for _ in range(30):
        env.step(0.5 * torch.randn(env.num_envs, env.num_actions))
        step = env.common_step_counter
        if step % 5 == 0:
            renders[step] = cam.render().clone()
        seen[step] = cam.image[:, 0].clone()
    steps_done = env.episode_length_buf.min().item()
    assert steps_done >= 30, "no env may reset in this test"
    for step in range(10, 31):
        shown = (step - 5) // 5 * 5  # the newest render at least 5 steps old
        torch.testing.assert_close(seen[step], renders[shown])


def test_a_new_episode_sees_its_new_start_at_once():
    env = camera_env(terrain=SMALL_TERRAIN, update_period_s=0.1, latency_s=0.2)
    for _ in range(3):
        env.step(torch.zeros(env.num_envs, env.num_actions))
    ids = torch.tensor([1, 3])
    env.reset_idx(ids)
    env._update_state()
    env.depth_camera.reset(ids, env.common_step_counter, noisy=False)
    fresh = env.depth_camera.render(ids)
    torch.testing.assert_close(env.depth_camera.image[ids, 0], fresh)
    torch.testing.assert_close(env.depth_camera.queue[ids], fresh[:, None].expand(-1, env.depth_camera.queue_length, -1, -1))


def test_noise_drops_pixels_at_the_configured_rates_and_follows_the_seed():
    noise = DepthNoiseConfig(depth_std=0.02, dropout_prob=0.1, edge_dropout_prob=1.0, edge_threshold=0.1)
    images = []
    for _ in range(2):
        env = camera_env(num_envs=8, terrain=SMALL_TERRAIN, noise=True, width=32, height=24, latency_s=0.0)
        env.depth_camera.cfg.noise = noise
        clean = env.depth_camera.render()
        torch.manual_seed(123)  # the global generator must not matter: the env's draws everything
        noisy = env.depth_camera.add_noise(clean)
        images.append(noisy)
        lost = noisy == 0.0
        edge = torch.zeros_like(lost)
        edge[:, :, 1:] |= (clean[:, :, 1:] - clean[:, :, :-1]).abs() > 0.1
        edge[:, :, :-1] |= (clean[:, :, 1:] - clean[:, :, :-1]).abs() > 0.1
        edge[:, 1:, :] |= (clean[:, 1:, :] - clean[:, :-1, :]).abs() > 0.1
        edge[:, :-1, :] |= (clean[:, 1:, :] - clean[:, :-1, :]).abs() > 0.1
        assert edge.any() and lost[edge].all()  # every edge pixel lost at edge_dropout_prob = 1
        assert abs(lost[~edge].float().mean().item() - 0.1) < 0.02
        kept = ~lost
        residual = (noisy - clean)[kept & (clean > 0.2) & (clean < 1.9)]
        assert abs(residual.std().item() - 0.02) < 0.003
    torch.testing.assert_close(images[0], images[1])


def test_image_terms_are_flattened_into_the_group_and_recomputed_rows_match():
    env = camera_env(terrain=SMALL_TERRAIN, noise=True, latency_s=0.0, update_period_s=0.02)
    group = env.obs_groups["depth"]
    assert group.image_shapes == {"depth_image": (1, 12, 16)}
    assert [w for _, w in env.observation_layout()["depth"]] == [3, 16 * 12, 3]
    assert env.observation_image_shapes() == {"depth": {"depth_image": (1, 12, 16)}}
    for _ in range(5):
        _, _, _, extras = env.step(torch.randn(env.num_envs, env.num_actions))
        obs = extras["observations"]["depth"]
        torch.testing.assert_close(obs[:, 3:3 + 192], env.depth_image.flatten(1))
        assert 0.0 <= obs[:, 3:195].min() and obs[:, 3:195].max() <= 1.0
    # After resets, the reset envs' image rows are computed again from their new view.
    env.reset_idx(torch.tensor([0, 2]))
    env._update_state()
    env.depth_camera.reset(torch.tensor([0, 2]), env.common_step_counter, noisy=True)
    full = env.obs_groups["depth"].compute(env, env.obs_bufs["depth"])
    stale = {"depth_image": torch.zeros(env.num_envs, 192)}
    rows = env.obs_groups["depth"].compute(env, env.obs_bufs["depth"], stale=(stale, torch.tensor([0, 2])))
    torch.testing.assert_close(rows[[0, 2]], full[[0, 2]])


def test_an_image_group_with_history_lays_out_each_steps_image():
    from legged_train.observation_groups import image_columns, image_layout

    env = camera_env(latency_s=0.0)
    env.cfg.observations["depth"].history_length = 2
    env = LeggedVelocityEnv(env.cfg)
    one_step = 3 + 192 + 3
    assert image_layout(env, "depth") == [("depth_image", 3, (1, 12, 16)), ("depth_image", one_step + 3, (1, 12, 16))]
    mask = image_columns(env, "depth")
    assert mask.shape == (2 * one_step,) and int(mask.sum()) == 2 * 192 and mask[3] and not mask[2] and mask[one_step + 3]


def test_a_resumed_env_sees_the_same_images():
    env = camera_env(terrain=SMALL_TERRAIN, noise=True, update_period_s=0.06, latency_s=0.1)
    actions = [0.4 * torch.randn(env.num_envs, env.num_actions, generator=torch.Generator().manual_seed(i)) for i in range(12)]
    for a in actions[:5]:
        env.step(a)
    state = env.state_dict()
    first = [env.step(a)[3]["observations"]["depth"] for a in actions[5:]]
    again = camera_env(terrain=SMALL_TERRAIN, noise=True, update_period_s=0.06, latency_s=0.1)
    again.load_state_dict(state)
    second = [again.step(a)[3]["observations"]["depth"] for a in actions[5:]]
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("field, value, message", [
    ("body", "head", r"^LeggedEnvConfig\.depth_camera\.body='head': is not a body of the robot \(.*\); it has \["),
    ("horizontal_fov_deg", 180.0, r"^LeggedEnvConfig\.depth_camera\.horizontal_fov_deg=180\.0: must be in \(0, 180\) degrees$"),
    ("horizontal_fov_deg", 0, r"^LeggedEnvConfig\.depth_camera\.horizontal_fov_deg=0: must be in \(0, 180\) degrees$"),
    ("width", 0, r"^LeggedEnvConfig\.depth_camera\.width=0: must be an int >= 1 \(pixels\)$"),
    ("height", 0, r"^LeggedEnvConfig\.depth_camera\.height=0: must be an int >= 1 \(pixels\)$"),
    ("far", 0.05, r"^LeggedEnvConfig\.depth_camera\.far=0\.05: must be a number above the near clip \(near=0\.1 m\)$"),
])
def test_bad_camera_settings_are_one_line_errors(field, value, message):
    cfg = LeggedEnvConfig(num_envs=2)
    cfg.depth_camera.enabled = True
    setattr(cfg.depth_camera, field, value)
    cfg.observations["depth"] = ObservationGroupConfig(["depth_image"])
    with pytest.raises(ValueError, match=message):
        LeggedVelocityEnv(cfg)


def test_an_image_term_needs_the_camera_and_takes_no_noise():
    cfg = LeggedEnvConfig(num_envs=2)
    cfg.observations["depth"] = ObservationGroupConfig(["depth_image"])
    with pytest.raises(ValueError, match=r"^LeggedEnvConfig\.observations\.depth\.terms\[0\]\.name='depth_image': needs the depth camera"):
        cfg.validate()
    cfg.depth_camera.enabled = True
    cfg.observations["depth"] = ObservationGroupConfig([ObservationTermConfig("depth_image", noise=0.1)])
    with pytest.raises(ValueError, match=r"^LeggedEnvConfig\.observations\.depth\.terms\[0\]\.noise=0\.1: must be 0 for an image term"):
        cfg.validate()


def test_the_pixels_tile_the_field_of_view():
    from legged_train.envs.sensors import DepthCameraConfig

    cfg = DepthCameraConfig(width=8, height=6, horizontal_fov_deg=90.0, pitch_deg=0.0)
    rays = cfg.ray_directions()
    angles = np.degrees(np.arctan2(-rays[:, 1], rays[:, 0]))
    assert np.isclose(angles.max(), math.degrees(math.atan(7 / 8)))  # the last column's centre
    assert rays[0, 1] > 0 and rays[0, 2] > 0  # the first pixel is top-left: left (+y) and up (+z)
