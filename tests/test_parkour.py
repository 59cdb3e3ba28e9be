"""Parkour (issue 24): the teacher and the depth and blind students train with tiny settings, depth
images are stored compactly in rollouts and in demonstration files (``normalized_image``)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from legged_train.demonstrations import ActorPolicy, DemonstrationSaver, files, read_trajectory
from legged_train.storage import RolloutStorage
from legged_train.tasks import get_task

TINY_ENV = ["--num-envs", "20", "--set", "env.sim.num_threads=1", "env.terrain.num_rows=2", "env.terrain.num_cols=10",
            "env.terrain.tile_size=4.0", "env.terrain.border=1.0", "env.terrain.max_init_terrain_level=1",
            "env.terrain.params.platform_size=1.0", "env.terrain.params.box_distance=0.2", "env.depth_camera.width=32",
            "env.depth_camera.height=24"]


def tiny_env(name: str, num_envs: int = 10):
    task = get_task(name)
    cfg = task.env_cfg
    cfg.num_envs, cfg.sim.num_threads = num_envs, 1
    cfg.terrain.num_rows, cfg.terrain.num_cols, cfg.terrain.tile_size, cfg.terrain.border = 2, 10, 4.0, 1.0
    cfg.terrain.max_init_terrain_level, cfg.terrain.params.platform_size, cfg.terrain.params.box_distance = 1, 1.0, 0.2
    cfg.depth_camera.width, cfg.depth_camera.height = 32, 24
    return task, task.make_env(cfg, "cpu")


def test_the_tasks_share_one_env_and_only_the_depth_student_has_a_camera():
    teacher, depth, blind = (get_task(n).env_cfg for n in ("go1_parkour_teacher", "go1_parkour_depth", "go1_parkour_blind"))
    assert teacher.terrain == depth.terrain == blind.terrain
    assert {"hurdles", "gaps", "boxes"} <= set(teacher.terrain.proportions)
    assert not teacher.depth_camera.enabled and not blind.depth_camera.enabled and depth.depth_camera.enabled
    assert [t.name for t in depth.observations["depth"].terms] == [t.name for t in blind.observations["policy"].terms] + ["depth_image"]
    assert get_task("go1_parkour_depth").train_cfg.student_obs_group == "depth"
    assert get_task("go1_parkour_blind").train_cfg.student_obs_group == "policy"


@pytest.fixture(scope="module")
def parkour_runs(tmp_path_factory):
    """A go1_parkour_teacher run and both students distilled from it, one iteration each."""
    from legged_train.cli import train

    log_root = tmp_path_factory.mktemp("parkour") / "logs"
    tiny = ["--log-root", str(log_root), "--max-iterations", "1", *TINY_ENV, "train.num_steps_per_env=4",
            "train.save_interval=1", "train.eval_interval=0"]
    assert train.main(["--task", "go1_parkour_teacher", *tiny]) == 0
    runs = {"go1_parkour_teacher": log_root / "go1_parkour_teacher" / os.listdir(log_root / "go1_parkour_teacher")[0]}
    for student in ("go1_parkour_depth", "go1_parkour_blind"):
        assert train.main(["--task", student, "--teacher", str(runs["go1_parkour_teacher"]), *tiny, "train.num_mini_batches=2"]) == 0
        runs[student] = log_root / student / os.listdir(log_root / student)[0]
    return log_root, runs


def test_teacher_then_depth_and_blind_students_train(parkour_runs):
    from legged_train.checkpoint import load_checkpoint_file

    _, runs = parkour_runs
    for student in ("go1_parkour_depth", "go1_parkour_blind"):
        state = load_checkpoint_file(runs[student] / "model_1.pt")["student_state_dict"]
        has_encoder = any("encoder" in key for key in state)
        assert has_encoder == (student == "go1_parkour_depth")


def test_play_shows_what_the_depth_student_sees_and_exports_its_image_input(parkour_runs):
    import json

    import imageio.v2 as imageio

    from legged_train.cli import play

    log_root, runs = parkour_runs
    video = runs["go1_parkour_depth"] / "play.mp4"
    assert play.main(["--task", "go1_parkour_depth", "--log-root", str(log_root), "--video", "--video-path", str(video),
                      "--no-eval"]) == 0
    frame = imageio.get_reader(str(video)).get_data(3)
    width = frame.shape[1]
    inset = frame[2:2 + 24 * 4, width - 2 - 32 * 4:width - 2].astype(int)  # 32 x 24 pixels, 4x enlarged in a 640-wide frame
    assert (frame[0, width - 32 * 4 - 4:width] > 230).all()  # the white border above it
    assert np.abs(inset[..., 0] - inset[..., 1]).mean() < 8  # grey: depth, not the scene's colours
    assert inset[..., 0].std() > 10  # and it shows something (near ground below far sky)
    info = json.loads((runs["go1_parkour_depth"] / "exported" / "policy.json").read_text())
    assert info["observation_group"] == "depth" and info["image_inputs"][0]["term"] == "depth_image"
    assert info["image_inputs"][0]["shape"] == [1, 24, 32] and info["depth_camera"]["far"] == 2.0


def test_depth_images_are_kept_in_float16_in_the_rollout():
    task, env = tiny_env("go1_parkour_depth")
    from legged_train.algorithms.distillation import Distillation

    distillation = Distillation(env, task.train_cfg)
    storage = distillation.storage
    image_columns = 32 * 24
    assert storage.obs.half_values.dtype == torch.float16 and storage.obs.half_values.shape[2] == image_columns
    obs = env.get_observations()[1]["observations"]["depth"]
    storage.obs.write(0, obs)
    back = storage.obs.flatten(0, 1)[torch.arange(env.num_envs)]
    images = slice(back.shape[1] - image_columns, back.shape[1])
    assert torch.equal(back[:, :images.start], obs[:, :images.start])  # proprioception exact
    assert (back[:, images] - obs[:, images]).abs().max() <= 2.0**-12  # pixels in [0, 1] within float16's rounding
    # 256 envs x 24 steps of 64 x 48 images: the bytes the rollout holds for them.
    full = RolloutStorage(256, 24, 3119, 10, 12, half_obs_columns=torch.arange(3119) >= 47)
    assert full.obs.half_values.element_size() * full.obs.half_values.nelement() == 256 * 24 * 3072 * 2  # 37.7 MB


def test_depth_images_go_to_demonstration_files_as_normalized_image(tmp_path):
    _, env = tiny_env("go1_parkour_depth")
    torch.manual_seed(0)
    from legged_train.networks import MLPActor

    policy = ActorPolicy(MLPActor(env.num_obs, env.num_actions, hidden_dims=[8]))
    saver = DemonstrationSaver(env, policy, str(tmp_path), rollout_storage_length=10, min_timesteps=30, verbose=False,
                               obs_disassemble_mapping={"depth": {"depth_image": "normalized_image"}})
    saver.collect_and_save()
    saver.close()
    folder = next(iter(files.list_trajectory_dirs(str(tmp_path)).values()))
    slice_path = files.list_slices(folder)[0][2]
    with np.load(slice_path, allow_pickle=False) as data:
        assert data["obs.depth.depth_image"].dtype == np.uint8
        assert data["obs.depth.depth_image"].shape[1] == 32 * 24
    depth = read_trajectory(folder)["obs"]["depth"][:, -32 * 24:]
    assert depth.min() >= 0.0 and depth.max() <= 1.0
    np.testing.assert_allclose(depth * 255, np.rint(depth * 255), atol=1e-3)  # on the fixed 1/255 grid


def test_normalized_image_encodings_round_trip_within_half_a_level_and_refuse_other_ranges():
    x = np.random.default_rng(0).uniform(0, 1, (50, 20)).astype(np.float32)
    for encoding, levels in (("normalized_image", 255), ("normalized_image_uint16", 65535)):
        arrays = files.encode_segment(x, encoding, "obs.depth.depth_image")
        assert set(arrays) == {""}  # a fixed scale: no per-file min and scale
        assert np.abs(files.decode_segment(arrays, encoding) - x).max() <= 0.5 / levels + 1e-7
    with pytest.raises(ValueError, match=r"^obs.depth.depth_image holds values in \[-0.5, 1\]; normalized_image stores pixels in \[0, 1\]"):
        files.encode_segment(np.array([[-0.5, 1.0]], np.float32), "normalized_image", "obs.depth.depth_image")


def test_the_depth_student_by_dagger_in_two_processes_stores_its_images_as_normalized_image(parkour_runs, tmp_path):
    import glob
    import subprocess
    import sys
    import time

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _, runs = parkour_runs
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MUJOCO_GL": "egl"}
    log_root, data = tmp_path / "logs", tmp_path / "data"
    trainer = subprocess.Popen(
        [sys.executable, os.path.join(root, "train.py"), "--task", "go1_parkour_depth_dagger", "--max-iterations", "6",
         "--log-root", str(log_root), *TINY_ENV, "env.episode_length_s=0.5", "train.num_steps_per_env=4",
         "train.save_interval=2", "train.eval_interval=0", "train.torch_threads=1", "train.rollout_torch_threads=1",
         f"train.pretrain_dataset.data_dir={data}", "train.pretrain_dataset.wait_for_data_s=120"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not glob.glob(str(log_root / "go1_parkour_depth_dagger" / "*" / "model_0.pt")) and time.monotonic() < deadline:
            time.sleep(0.2)
        (run_dir,) = glob.glob(str(log_root / "go1_parkour_depth_dagger" / "*"))
        collector = subprocess.run(
            [sys.executable, os.path.join(root, "dagger_collect.py"), "--teacher", str(runs["go1_parkour_teacher"]),
             "--student-run", run_dir, "--save-dir", str(data), "--rollout-length", "25", "--min-timesteps", "600",
             "--teacher-act-prob", "0.5", "--wait-timeout", "120", "--compress", "depth.depth_image=normalized_image"],
            cwd=root, capture_output=True, text=True, timeout=300, env=env,
        )
        trainer_out, _ = trainer.communicate(timeout=300)
    finally:
        if trainer.poll() is None:
            trainer.kill()
    assert collector.returncode == 0, collector.stderr[-3000:]
    assert trainer.returncode == 0, trainer_out[-3000:]
    assert "demonstrations arrived" in trainer_out
    slices = glob.glob(str(data / "**" / "*.npz"), recursive=True)
    assert slices
    with np.load(slices[0], allow_pickle=False) as stored:
        assert stored["obs.depth.depth_image"].dtype == np.uint8 and stored["obs.depth.depth_image"].shape[1] == 32 * 24
