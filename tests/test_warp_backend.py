"""The MuJoCo Warp backend against mjbatch, on Warp's CPU device (CI has no GPU).

Tolerances: MuJoCo Warp computes in float32, mjbatch in float64. Over 20 policy steps (100 physics
steps with contacts) of the same model from the same state, the float32 rounding (about 1e-7
relative) grows through the contact solver to about 1e-6 m in positions and 4e-5 in velocities
(measured); the tests allow 1e-4 m and 2e-3 m/s or rad/s, far below what a real difference in the
physics gives (a per-world field ignored by one backend moves a robot by millimetres per step).

The first Warp use compiles its kernels (about 25 s on one core); Warp caches them in ~/.cache/warp.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco_warp")

from legged_train.envs.backend import STATE_FIELDS  # noqa: E402
from legged_train.envs.backend_factory import resolve_backend_name  # noqa: E402
from legged_train.envs.legged.config import LeggedEnvConfig  # noqa: E402
from legged_train.envs.mjbatch_backend import MjBatchBackend  # noqa: E402
from legged_train.envs.robot import build_model  # noqa: E402
from legged_train.envs.terrain import SubTerrainParams, TerrainConfig  # noqa: E402
from legged_train.envs.warp_backend import WarpBackend  # noqa: E402
from legged_train.tasks import get_task  # noqa: E402

POS_TOL, VEL_TOL = 1e-4, 2e-3
NUM_WORLDS = 4


@pytest.fixture(scope="module")
def go1_model():
    cfg = LeggedEnvConfig()
    return build_model(cfg.robot, cfg.sim.timestep, cfg.sim.full_body_contacts)


def randomize(sim, model) -> None:
    """Different physics in every world: friction, base mass and centre of mass, motor gains."""
    scale = torch.tensor([0.6, 0.9, 1.1, 1.4], dtype=torch.float64)
    friction = sim.model_field("geom_friction")
    friction[:, :, 0] = (scale[:, None] * 0.8).to(friction)
    mass = sim.model_field("body_mass")
    mass[:, 1] = (model.body_mass[1] * scale).to(mass)
    ipos = sim.model_field("body_ipos")
    ipos[:, 1] = torch.tensor([[0.02, 0.0, 0.0], [0.0, -0.02, 0.01], [-0.02, 0.01, 0.0], [0.0, 0.0, 0.0]]).to(ipos)
    gain, bias = sim.model_field("actuator_gainprm"), sim.model_field("actuator_biasprm")
    gain[:, :, 0] *= scale[:, None].to(gain)
    bias[:, :, 1:3] *= scale[:, None, None].to(bias)


def start(sim, model) -> None:
    """The standing keyframe with a push: the base moving and spinning."""
    ids = torch.arange(NUM_WORLDS)
    sim.reset(ids, keyframe=0)
    qvel = torch.zeros(NUM_WORLDS, model.nv, dtype=torch.float64)
    qvel[:, :6] = torch.tensor([0.5, -0.3, 0.0, 0.8, -0.6, 1.0])
    sim.set_state(ids, sim.qpos.clone(), qvel)


def test_warp_and_mjbatch_stay_close_over_20_policy_steps(go1_model):
    cpu, gpu_kind = MjBatchBackend(go1_model, NUM_WORLDS, 1), WarpBackend(go1_model, NUM_WORLDS, "cpu")
    for sim in (cpu, gpu_kind):
        randomize(sim, go1_model)
        start(sim, go1_model)
    generator = torch.Generator().manual_seed(0)
    stand = torch.as_tensor(go1_model.key_qpos[0, 7:])
    worst_pos = worst_vel = 0.0
    for _ in range(20):
        targets = stand + 0.3 * torch.randn(NUM_WORLDS, go1_model.nu, generator=generator, dtype=torch.float64)
        for sim in (cpu, gpu_kind):
            sim.ctrl[:] = targets.to(sim.ctrl)
            sim.step(5)
        worst_pos = max(worst_pos, (cpu.qpos - gpu_kind.qpos.double()).abs().max().item())
        worst_vel = max(worst_vel, (cpu.qvel - gpu_kind.qvel.double()).abs().max().item())
    assert worst_pos < POS_TOL and worst_vel < VEL_TOL, (worst_pos, worst_vel)
    # Derived fields agree too: sensors (velocimeter, gyro, foot forces) and site positions.
    assert torch.allclose(cpu.site_xpos, gpu_kind.site_xpos.double(), atol=POS_TOL)
    assert torch.allclose(cpu.xquat, gpu_kind.xquat.double(), atol=1e-3)
    assert (cpu.sensordata - gpu_kind.sensordata.double()).abs().max() < 0.05  # contact forces in N
    # The worlds really differ from each other: the per-world fields changed the motion.
    assert (gpu_kind.qpos[0] - gpu_kind.qpos[3]).abs().max() > 10 * POS_TOL


def test_per_world_friction_and_mass_reach_the_warp_simulation(go1_model):
    sim = WarpBackend(go1_model, NUM_WORLDS, "cpu")
    friction, mass = sim.model_field("geom_friction"), sim.model_field("body_mass")
    friction[:, :, 0] = torch.tensor([0.05, 1.0, 1.0, 1.0])[:, None]
    mass[3, 1] = mass[0, 1] * 3.0
    ids = torch.arange(NUM_WORLDS)
    sim.reset(ids, keyframe=0)
    qvel = torch.zeros(NUM_WORLDS, go1_model.nv)
    qvel[:, 0] = 1.5  # sliding forward at 1.5 m/s
    sim.set_state(ids, sim.qpos.clone(), qvel)
    sim.ctrl[:] = torch.as_tensor(go1_model.key_qpos[0, 7:], dtype=torch.float32)
    start_z = sim.qpos[:, 2].clone()
    sim.step(100)
    slide = sim.qpos[:, 0]
    # Ice lets the robot slide on; rubber stops it.
    assert slide[0] > slide[1] + 0.05, slide
    # Worlds 1 and 2 are the same physics; the heavy trunk (world 3) squats lower on the same servos.
    assert torch.allclose(sim.qpos[1], sim.qpos[2], atol=1e-6)
    assert (start_z[3] - sim.qpos[3, 2]) > (start_z[1] - sim.qpos[1, 2]) + 0.005


def test_masked_reset_leaves_other_worlds_alone(go1_model):
    sim = WarpBackend(go1_model, NUM_WORLDS, "cpu")
    start(sim, go1_model)
    sim.step(10)
    before = {name: getattr(sim, name).clone() for name in ("qpos", "qvel", "sensordata", "site_xpos")}
    warmstart = sim.data_field("qacc_warmstart").clone()
    sim.reset(torch.tensor([1, 2]), keyframe=0)
    for name, value in before.items():
        now = getattr(sim, name)
        assert torch.equal(now[[0, 3]], value[[0, 3]]), name
        assert not torch.equal(now[[1, 2]], value[[1, 2]]), name
    assert torch.equal(sim.qpos[1], torch.as_tensor(go1_model.key_qpos[0], dtype=torch.float32))
    assert torch.equal(sim.data_field("qacc_warmstart")[[0, 3]], warmstart[[0, 3]])


def test_recorded_graph_steps_like_plain_launches(go1_model):
    graphed, plain = WarpBackend(go1_model, 2, "cpu"), WarpBackend(go1_model, 2, "cpu", use_graph=False)
    for sim in (graphed, plain):
        sim.reset(torch.arange(2), keyframe=0)
        sim.model_field("body_mass")[1, 1] += 1.0  # replaces a model array: the graph is recorded anew
        sim.ctrl[:] = 0.1
        sim.step(5)
        sim.step(5)
    for name in STATE_FIELDS:
        assert torch.equal(graphed.data_field(name), plain.data_field(name)), name


def legged_env_pair(num_envs: int = 6):
    task = get_task("go1_flat")
    cfg = task.env_cfg
    cfg.num_envs = num_envs
    cfg.episode_length_s = 1.0  # timeouts and falls: resets happen during the comparison
    warp_cfg = copy.deepcopy(cfg)
    warp_cfg.sim.backend = "warp"
    return task.make_env(cfg, "cpu"), task.make_env(warp_cfg, "cpu")


def test_legged_env_runs_on_warp_like_on_mjbatch():
    cpu_env, warp_env = legged_env_pair()
    assert isinstance(warp_env.sim, WarpBackend) and isinstance(cpu_env.sim, MjBatchBackend)
    generator = torch.Generator().manual_seed(3)
    resets = 0
    for _ in range(60):
        actions = torch.randn(cpu_env.num_envs, cpu_env.num_actions, generator=generator)
        obs_cpu, rew_cpu, done_cpu, extras_cpu = cpu_env.step(actions)
        obs_warp, rew_warp, done_warp, extras_warp = warp_env.step(actions)
        assert torch.equal(done_cpu, done_warp)
        resets += int(done_cpu.sum())
        assert torch.allclose(obs_cpu, obs_warp, atol=2e-3)
        assert torch.allclose(rew_cpu, rew_warp, atol=1e-4)
        assert torch.allclose(extras_cpu["observations"]["critic"], extras_warp["observations"]["critic"], atol=0.05)
    assert resets >= cpu_env.num_envs  # every env was reset at least once on the way


def test_a_checkpointed_env_state_moves_between_backends():
    cpu_env, warp_env = legged_env_pair(num_envs=4)
    generator = torch.Generator().manual_seed(5)
    for _ in range(7):
        cpu_env.step(torch.randn(4, cpu_env.num_actions, generator=generator))
    warp_env.load_state_dict(cpu_env.state_dict())  # float64 -> float32
    actions = torch.randn(4, cpu_env.num_actions, generator=generator)
    obs_cpu, *_ = cpu_env.step(actions)
    obs_warp, *_ = warp_env.step(actions)
    assert torch.allclose(obs_cpu, obs_warp, atol=2e-3)


def test_backend_choice():
    assert resolve_backend_name("auto", torch.device("cpu")) == "mjbatch"
    assert resolve_backend_name("warp", torch.device("cpu")) == "warp"
    cfg = LeggedEnvConfig(num_envs=2)
    cfg.sim.backend = "gpu"
    with pytest.raises(ValueError, match=r"sim.backend='gpu': must be one of auto, mjbatch, warp"):
        cfg.validate()


def test_warp_missing_is_one_clear_line():
    # A Python where MuJoCo Warp cannot be imported (a None entry in sys.modules blocks the import).
    code = (
        "import sys; sys.modules['mujoco_warp'] = None\n"
        "from legged_train.envs.legged.config import LeggedEnvConfig\n"
        "from legged_train.envs.robot import build_model\n"
        "from legged_train.envs.backend_factory import make_backend\n"
        "import torch\n"
        "cfg = LeggedEnvConfig(num_envs=2); cfg.sim.backend = 'warp'\n"
        "model = build_model(cfg.robot, cfg.sim.timestep, False)\n"
        "try:\n    make_backend(model, 2, cfg.sim, torch.device('cpu'))\n"
        "except ImportError as err:\n    print('ERROR', err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ERROR sim.backend='warp' needs MuJoCo Warp, which is not installed" in out
    assert "pip install 'legged-train[gpu]'" in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_cuda_graph_backend_matches_the_cpu_device(go1_model):
    on_gpu, on_cpu = WarpBackend(go1_model, NUM_WORLDS, "cuda"), WarpBackend(go1_model, NUM_WORLDS, "cpu")
    for sim in (on_gpu, on_cpu):
        randomize(sim, go1_model)
        start(sim, go1_model)
        for _ in range(20):
            sim.ctrl[:] = 0.2
            sim.step(5)
    assert on_gpu.qpos.device.type == "cuda"
    assert torch.allclose(on_gpu.qpos.cpu(), on_cpu.qpos, atol=POS_TOL)
    assert torch.allclose(on_gpu.qvel.cpu(), on_cpu.qvel, atol=VEL_TOL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_auto_picks_warp_on_cuda():
    assert resolve_backend_name("auto", torch.device("cuda")) == "warp"


def test_play_scores_a_cpu_trained_policy_on_either_backend(tmp_path, capsys):
    """Sim-to-sim: a policy trained on mjbatch, evaluated on mjbatch and on MuJoCo Warp."""
    import json

    from legged_train.cli import play
    from legged_train.cli import train

    assert train.main([
        "--task", "go1_flat", "--num-envs", "8", "--max-iterations", "2", "--log-root", str(tmp_path),
        "--set", "train.num_steps_per_env=4", "train.eval_interval=0", "train.actor_cfg.hidden_dims=[32]",
        "train.critic_cfg.hidden_dims=[32]",
    ]) == 0
    figures = {}
    for backend in ("mjbatch", "warp"):
        capsys.readouterr()
        assert play.main(["--task", "go1_flat", "--log-root", str(tmp_path), "--backend", backend, "--eval-envs", "8",
                          "--no-export", "--headless", "--commands", "0.5,0,0@0.2"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        result = next(line for line in lines if "standard_evaluation" in line)
        figures[result["physics"]] = result["standard_evaluation"]
    assert set(figures) == {"MjBatchBackend", "WarpBackend"}
    cpu, gpu_kind = figures["MjBatchBackend"], figures["WarpBackend"]
    # The same policy on the same physics: the same tracking error (an untrained policy falls, so
    # episodes diverge a little once robots tumble).
    assert abs(cpu["velocity_rmsd"] - gpu_kind["velocity_rmsd"]) < 0.05, figures
    assert abs(cpu["fall_rate"] - gpu_kind["fall_rate"]) <= 0.25, figures


def rough_env_pair(num_envs: int = 6, **sim):
    """go1_rough (heightfield, height scan in the critic) on a small terrain of rough ground, stairs
    down and obstacles, on both backends; ``sim``: SimConfig fields to change."""
    task = get_task("go1_rough")
    cfg = task.env_cfg
    cfg.terrain = TerrainConfig(kind="generated", num_rows=2, num_cols=3, tile_size=4.0, border=1.0, max_init_terrain_level=1,
                                proportions={"rough": 1.0, "stairs_down": 1.0, "discrete": 1.0},
                                params=SubTerrainParams(platform_size=1.0, num_obstacles=6), seed=5)
    cfg.num_envs, cfg.sim.num_threads = num_envs, 1
    for name, value in sim.items():
        setattr(cfg.sim, name, value)
    cfg.episode_length_s = 1.0  # falls, time-outs and respawns on the tiles during the run
    warp_cfg = copy.deepcopy(cfg)
    warp_cfg.sim.backend = "warp"
    return task.make_env(cfg, "cpu"), task.make_env(warp_cfg, "cpu")


def test_warp_builds_the_same_terrain_and_its_heightfield_collisions_find_the_same_depths():
    """Issue 21 pt 8. The Warp backend builds the same heightfield model, and MuJoCo Warp finds the
    same penetration depth between each foot sphere and the heightfield as MuJoCo does, in states of
    a robot stepping on rough ground. What differs is the number of contacts: MuJoCo makes one per
    heightfield triangle prism the sphere overlaps (up to about six, all at nearly the same depth),
    MuJoCo Warp one per sphere. The contact solver then spreads the same support over fewer
    constraints, so trajectories part by millimetres within a policy step (measured: 1.5 mm after 5
    physics steps on a flat heightfield, where a plane agrees to 1e-6 m): on terrain the backends
    train the same task but do not replay each other's trajectories."""
    import mujoco
    import mujoco_warp as mjw
    import warp as wp

    cpu_env, warp_env = rough_env_pair(num_envs=3, full_body_contacts=False)
    model = cpu_env.sim.model
    assert model.nhfield == warp_env.sim.model.nhfield == 1
    # The heights Warp collides with are the generator's, to the bit, and the robots start on the same tiles.
    assert np.array_equal(warp_env.sim.wmodel.hfield_data.numpy(), model.hfield_data)
    assert torch.equal(cpu_env.env_origins, warp_env.env_origins)

    data = mujoco.MjData(model)
    data.qpos[:] = cpu_env.sim.qpos[0].numpy()
    feet = [g for g in range(model.ngeom) if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE and model.geom_contype[g]]
    assert len(feet) == 4  # feet-only contacts: the four foot spheres
    rng = np.random.default_rng(0)
    compared = 0
    with wp.ScopedDevice("cpu"):
        wmodel = warp_env.sim.wmodel
        for _ in range(60):
            data.ctrl[:] = cpu_env.default_joint_pos.numpy() + 0.3 * rng.standard_normal(model.nu)
            mujoco.mj_step(model, data)
            mujoco.mj_forward(model, data)  # the contacts of the state reached (mj_step's are of the state before)
            wdata = mjw.put_data(model, data, nconmax=256, njmax=1024)
            mjw.forward(wmodel, wdata)
            n = int(wdata.nacon.numpy()[0])
            warp_geoms, warp_dist = wdata.contact.geom.numpy()[:n], wdata.contact.dist.numpy()[:n]
            for foot in feet:
                cpu_depths = [c.dist for c in data.contact[:data.ncon] if foot in c.geom]
                warp_depths = [d for g, d in zip(warp_geoms, warp_dist) if foot in g]
                assert bool(cpu_depths) == bool(warp_depths)
                if cpu_depths:
                    assert min(warp_depths) == pytest.approx(min(cpu_depths), abs=1e-4)
                    assert len(cpu_depths) >= len(warp_depths)
                    compared += 1
    assert compared >= 20  # feet were on the ground in many of those states


def test_go1_rough_runs_on_the_warp_backend():
    """The whole env on terrain (full-body contacts, height scan, spawning on tiles, resets) on Warp:
    the same start (spawned on the same tiles at the same heights: the same observations, scan
    included), then finite steps through falls and respawns."""
    cpu_env, warp_env = rough_env_pair()
    (obs_cpu, extras_cpu), (obs_warp, extras_warp) = cpu_env.reset(), warp_env.reset()
    assert torch.allclose(obs_cpu, obs_warp, atol=1e-4)
    assert torch.allclose(extras_cpu["observations"]["critic"], extras_warp["observations"]["critic"], atol=1e-4)
    generator = torch.Generator().manual_seed(3)
    resets = 0
    for _ in range(60):  # past the 1 s episodes' time-outs
        actions = 0.5 * torch.randn(warp_env.num_envs, warp_env.num_actions, generator=generator)
        obs_warp, _, done_warp, extras_warp = warp_env.step(actions)
        resets += int(done_warp.sum())
        assert obs_warp.isfinite().all() and extras_warp["observations"]["critic"].isfinite().all()
    assert resets >= warp_env.num_envs  # every env was respawned on its tile at least once
    # The robots stand on the terrain, not on a plane at z = 0 (base heights are over the ground under the feet).
    assert (warp_env.base_height > 0.05).all() and (warp_env.base_height < 0.6).all()


def test_warp_casts_the_depth_cameras_rays_as_mjbatch_does():
    """PhysicsBackend.rays on MuJoCo Warp (the GPU camera's path), against mjbatch, for all envs and a subset."""
    from legged_train.envs.legged.env import LeggedVelocityEnv

    cfg = LeggedEnvConfig(num_envs=3)
    cfg.depth_camera.enabled, cfg.depth_camera.latency_s = True, 0.0
    cfg.depth_camera.width, cfg.depth_camera.height = 16, 12
    env = LeggedVelocityEnv(cfg)
    env.step(0.5 * torch.randn(3, 12, generator=torch.Generator().manual_seed(0)))
    env.sim.forward()  # body poses of the current state (after a step they are the last substep's start)
    warp = WarpBackend(env.mj_model, 3, device="cpu")
    warp.set_state(torch.arange(3), env.sim.qpos.clone(), env.sim.qvel.clone())
    expected = env.depth_camera.render()
    assert (expected < cfg.depth_camera.far).any()
    env.depth_camera.sim = warp
    torch.testing.assert_close(env.depth_camera.render(), expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(env.depth_camera.render(torch.tensor([1])), expected[1:2], atol=1e-4, rtol=0)
