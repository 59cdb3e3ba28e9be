"""Rough-terrain runs end to end (issue 21 pts 6, 7, 9) through train.py and play.py's main(), with
tiny settings: a go1_rough_teacher trained one iteration with --video, a go1_rough_student distilled
from it and fine-tuned by PPO (go1_rough_student_ppo, also with the teacher's pull), play.py --course and --video on the run; the renderer over a terrain."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from event_files import read_scalars

# 2 levels x 2 columns of 4 m tiles, a 1 m border: a terrain that builds in milliseconds.
TINY_TERRAIN = ["env.terrain.num_rows=2", "env.terrain.num_cols=2", "env.terrain.tile_size=4.0", "env.terrain.border=1.0",
                "env.terrain.max_init_terrain_level=1", "env.terrain.params.platform_size=2.0",
                "env.terrain.proportions={stairs_up: 1, discrete: 1}"]
TINY = ["--num-envs", "8", "--max-iterations", "1", "--set", "train.num_steps_per_env=4", "train.torch_threads=1",
        "env.sim.num_threads=1", *TINY_TERRAIN]
TINY_TEACHER = [*TINY, "train.actor_cfg.hidden_dims=[16]", "train.critic_cfg.hidden_dims=[16]", "train.num_mini_batches=1"]
TINY_STUDENT = [*TINY, "train.actor_cfg.rnn_hidden_dim=8", "train.actor_cfg.hidden_dims=[8]", "train.num_mini_batches=2"]


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    from legged_train.cli import train

    log_root = tmp_path_factory.mktemp("logs")
    assert train.main(["--task", "go1_rough_teacher", "--log-root", str(log_root), "--video", "--video-interval", "1",
                       "--video-length", "0.3", *TINY_TEACHER]) == 0
    (run_dir,) = [log_root / "go1_rough_teacher" / d for d in os.listdir(log_root / "go1_rough_teacher")]
    return log_root, run_dir


def test_go1_rough_student_distills_from_a_go1_rough_teacher(teacher_run):
    from legged_train.checkpoint import load_checkpoint_file
    from legged_train.cli import train
    from legged_train.tasks import get_task

    task = get_task("go1_rough_student")
    assert task.train_cfg.actor_cfg["rnn_type"] == "gru" and "height_scan" not in [
        t.name for t in task.env_cfg.observations["policy"].terms]
    log_root, teacher_dir = teacher_run
    teacher = load_checkpoint_file(teacher_dir / "model_1.pt")
    # The teacher sees the terrain: 64 clean proprioceptive and privileged inputs, 17 x 11 scan points, the base height.
    assert teacher["config"]["actor_obs_group"] == "teacher"
    assert teacher["actor_state_dict"]["obs_normalizer.mean"].shape == (64 + 187 + 1,)

    assert train.main(["--task", "go1_rough_student", "--teacher", str(teacher_dir), "--log-root", str(log_root),
                       *TINY_STUDENT]) == 0
    (student_dir,) = [log_root / "go1_rough_student" / d for d in os.listdir(log_root / "go1_rough_student")]
    checkpoint = load_checkpoint_file(student_dir / "model_1.pt")
    assert checkpoint["config"]["teacher_checkpoint"] == str(teacher_dir / "model_1.pt")
    # The blind student: go1_flat's 47 noisy inputs through a GRU, no scan.
    assert checkpoint["student_state_dict"]["obs_normalizer.mean"].shape == (47,)
    assert any("rnn" in key for key in checkpoint["student_state_dict"])


    # go1_rough_student_ppo fine-tunes it: PPO's actor starts as the student, the critic reads the terrain.
    assert train.main(["--task", "go1_rough_student_ppo", "--init-actor", str(student_dir), "--log-root", str(log_root),
                       *TINY_STUDENT, "train.critic_cfg.hidden_dims=[16]"]) == 0
    (ppo_dir,) = [log_root / "go1_rough_student_ppo" / d for d in os.listdir(log_root / "go1_rough_student_ppo")]
    fine_tuned = load_checkpoint_file(ppo_dir / "model_1.pt")
    assert fine_tuned["critic_state_dict"]["obs_normalizer.mean"].shape[0] > 47  # the height scan and the feet's ground
    for name, tensor in checkpoint["student_state_dict"].items():
        if name != "log_std":  # still in the critic's warm-up: the actor is the student's
            assert torch.equal(fine_tuned["actor_state_dict"][name], tensor), name
    assert torch.allclose(fine_tuned["actor_state_dict"]["log_std"].exp(), torch.tensor(0.3))

    # With the teacher's pull (go1_rough_student_ppo_teacher: train.teacher_coef=1): --teacher is taken
    # and recorded, the pull is trained from the first iteration (no warm-up) and logged.
    pulled_root = log_root / "pulled"
    assert train.main(["--task", "go1_rough_student_ppo_teacher", "--init-actor", str(student_dir), "--teacher", str(teacher_dir),
                       "--log-root", str(pulled_root), *TINY_STUDENT, "train.critic_cfg.hidden_dims=[16]",
                       "train.critic_warmup_iterations=0"]) == 0
    (pulled_dir,) = [pulled_root / "go1_rough_student_ppo_teacher" / d
                     for d in os.listdir(pulled_root / "go1_rough_student_ppo_teacher")]
    pulled = load_checkpoint_file(pulled_dir / "model_1.pt")
    assert pulled["config"]["teacher_checkpoint"] == str(teacher_dir / "model_1.pt")
    assert pulled["config"]["teacher_coef"] == 1.0
    assert read_scalars(pulled_dir)["train/teacher_loss"][0] > 0


def test_train_video_over_the_terrain_is_written(teacher_run):
    _, run_dir = teacher_run
    assert (run_dir / "videos" / "iteration_1.mp4").stat().st_size > 1000


def test_play_course_writes_the_json_and_the_heat_map_into_the_run_and_films_the_terrain(teacher_run, monkeypatch, capsys):
    import imageio.v3 as iio

    from legged_train import course
    from legged_train.cli import play

    # A small course (2 types x 2 bins, 0.5 s) in the place of the full one: the same code path.
    small = course.CourseConfig(types=("flat", "stairs_up"), bins=2, envs_per_cell=4, border=1.0, duration_s=0.5)
    monkeypatch.setattr(course, "CourseConfig", lambda: small)
    log_root, run_dir = teacher_run
    capsys.readouterr()
    video = run_dir / "play.mp4"
    assert play.main(["--task", "go1_rough_teacher", "--log-root", str(log_root), "--course", "--no-eval", "--no-export",
                      "--headless", "--commands", "0.5,0,0@0.2", "--video", "--video-path", str(video),
                      "--width", "160", "--height", "120"]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith('{"course"')]
    result = json.loads(line)["course"]
    assert set(result["cells"]) == {"flat", "stairs_up"} and result["difficulties"] == [0.3333, 0.6667]
    assert set(result["cells"]["stairs_up"]) == {"0.33", "0.67"}
    for cell in result["cells"]["flat"].values():
        assert {"success_rate", "fall_rate", "velocity_rmsd", "cost_of_transport"} <= set(cell) and cell["envs"] == 4
    assert json.load(open(run_dir / "course_model_1.json")) == result
    image = iio.imread(run_dir / "course_model_1.png")
    assert image.shape[0] == course.HEADER_H + 2 * course.CELL_H and image.shape[1] == course.LABEL_W + 2 * course.CELL_W
    assert video.stat().st_size > 1000


def test_the_camera_follows_the_robot_over_the_terrain_and_the_terrain_shows():
    from legged_train.envs.legged.config import LeggedEnvConfig
    from legged_train.envs.legged.env import LeggedVelocityEnv
    from legged_train.envs.render import OffscreenRenderer
    from legged_train.envs.terrain import SubTerrainParams, TerrainConfig

    def env(terrain):
        cfg = LeggedEnvConfig(num_envs=2, terrain=terrain)
        cfg.sim.num_threads, cfg.domain_rand.enabled = 1, False
        return LeggedVelocityEnv(cfg)

    def tiles(kind: str) -> TerrainConfig:  # 2 levels of 4 m tiles of one kind, along x
        return TerrainConfig(kind="generated", num_rows=2, num_cols=1, tile_size=4.0, border=1.0,
                             proportions={kind: 1.0}, params=SubTerrainParams(platform_size=1.0))

    stairs, flat = env(tiles("stairs_down")), env(tiles("flat"))
    base = stairs.cfg.robot.base_body
    on_stairs = OffscreenRenderer(stairs.mj_model, 160, 120, track_body=base)
    on_flat = OffscreenRenderer(flat.mj_model, 160, 120, track_body=base)
    try:
        for i in range(2):  # two robots on two tiles: the camera's lookat is on each base in turn
            on_stairs.render(stairs.qpos_numpy(i))
            assert np.allclose(on_stairs.camera.lookat, stairs.base_pos[i].numpy(), atol=0.05)
        assert stairs.base_pos[1, 2] - stairs.base_pos[0, 2] > 0.3  # on the higher summit: it followed up too
        # The same view of a robot on the stairs' summit and on flat ground: the stairs are in the picture.
        on_top = on_stairs.render(stairs.qpos_numpy(1)).astype(np.float32)
        level = on_flat.render(flat.qpos_numpy(1)).astype(np.float32)
        assert np.mean(np.abs(on_top - level) > 30) > 0.1
        # The heightfield wears the floor's material (go1.xml's checker grid), not MuJoCo's plain grey.
        assert stairs.mj_model.geom("terrain").matid[0] == LeggedVelocityEnv(
            LeggedEnvConfig(num_envs=1)).mj_model.geom("floor").matid[0] >= 0
    finally:
        on_stairs.close()
        on_flat.close()
