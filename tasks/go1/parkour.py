"""Parkour (issue 24): obstacles a Go1 must see to cross, a teacher that knows the terrain, and two
students distilled from it, one with a depth camera and one blind (Robot Parkour's pipeline).

- ``go1_parkour_teacher``: go1_rough_teacher's env and training on obstacle terrain (hurdles to step
  over, gaps to cross, boxes to climb onto and step down from, with some rough ground): the actor
  reads the terrain around the robot (``terrain_scan``) and the privileged terms; no camera (its
  rendering would cost the teacher's training for nothing).
- ``go1_parkour_depth``: the same env with a depth camera on every robot (``depth_camera``, a
  RealSense D435 downsampled to 32 x 24 at 10 Hz, 0.1 s old); the student reads the noisy
  proprioception and the depth image (group ``depth``) through a CNN and a GRU (``ImageRecurrentActor``),
  distilled by online DAgger from a go1_parkour_teacher run:

      python train.py --task go1_parkour_teacher
      python train.py --task go1_parkour_depth --teacher logs/go1_parkour_teacher/<run>

- ``go1_parkour_blind``: the control: the same student without the camera (proprioception through a
  GRU), distilled from the same teacher with the same number of envs.

Students run 256 envs: the camera casts 256 x 768 rays every 5 policy steps (bench/depth_camera.py).
"""

from __future__ import annotations

import copy

from legged_train.envs.legged.config import LeggedEnvConfig, ObservationGroupConfig
from legged_train.envs.legged.env import make_legged_env
from legged_train.envs.terrain import TerrainConfig
from legged_train.runners.distillation_runner import DistillationRunner
from legged_train.runners.two_stage_runner import TwoStageRunner
from legged_train.tasks.go1.rough import go1_rough_student_train, go1_rough_teacher_env, go1_rough_teacher_train
from legged_train.tasks.registry import register_task

STUDENT_ENVS = 256
# m, the training gaps' floor at the hardest level: deeper than a Go1's leg (0.43 m) under a trunk at
# 0.3 m, so a foot in it is a fall, as in the course's 1 m.
GAP_DEPTH = 0.4


def parkour_terrain() -> TerrainConfig:
    """legged_gym's 10 levels x 20 tiles, most of them obstacles; the sub-terrains' default ranges
    (hurdles and boxes 5 to 25 cm, gaps up to 1 m wide: the course's), but gaps 5 cm deep at the
    easiest level and GAP_DEPTH at the hardest (the course's stay 1 m deep).

    Why shallow first: with 1 m deep gaps at every level the teacher climbed the hurdles and boxes in
    120 minutes (their mean levels 5.7 and 5.6) but learned to stop short of a gap, even an 11 cm
    one (its level 0.3-0.45 all run, the course's gaps 0; issue 24, bench/parkour_go1.py): a foot
    in the first narrow gaps was a fall, so it learned "stop" before "step over". Measured on that
    teacher trained on: gaps 5 cm to 1 m deep took its gaps level from 0.4 to 1.0 (then flat: level
    2's 26 cm pit), 5 cm to 0.4 m from 1.0 to 3.25 in 29 minutes; the course's 1 m deep gaps: still 0."""
    terrain = TerrainConfig(kind="generated", proportions={"rough": 0.1, "hurdles": 0.3, "gaps": 0.3, "boxes": 0.3})
    terrain.params.gap_depth = (0.05, GAP_DEPTH)
    return terrain


def go1_parkour_teacher_env() -> LeggedEnvConfig:
    cfg = go1_rough_teacher_env()
    cfg.terrain = parkour_terrain()
    # The scans read drops down to the deepest trained gap: deeper (the course's 1 m) reads the same.
    cfg.height_scan.clip = GAP_DEPTH
    return cfg


def go1_parkour_blind_env() -> LeggedEnvConfig:
    cfg = go1_parkour_teacher_env()
    cfg.num_envs = STUDENT_ENVS
    return cfg


def go1_parkour_depth_env() -> LeggedEnvConfig:
    cfg = go1_parkour_blind_env()
    cfg.depth_camera.enabled = True
    # 32 x 24, not the camera's 64 x 48: at 256 envs and 10 Hz on 2 cores the camera then costs 1.7x
    # the env step (64 x 48: 6.7x; bench/depth_camera.py, ~0.95M rays/s either way).
    cfg.depth_camera.width, cfg.depth_camera.height = 32, 24
    # The blind student's noisy proprioception and the camera's image.
    cfg.observations["depth"] = ObservationGroupConfig(copy.deepcopy(cfg.observations["policy"].terms) + ["depth_image"])
    return cfg


def go1_parkour_student_train(student_obs_group: str):
    cfg = go1_rough_student_train()
    cfg.student_obs_group = student_obs_group
    return cfg


def go1_parkour_depth_dagger_env() -> LeggedEnvConfig:
    cfg = go1_parkour_depth_env()
    cfg.episode_length_s = 4.0  # as go1_dagger_student's: trajectories reach the trainer while fresh
    return cfg


def go1_parkour_depth_dagger_train():
    """The depth student of DAgger in two processes (``tasks/go1/dagger.py``'s scheme): a feed-forward
    ``ImageMLPActor`` on the ``depth`` group cloned from what ``dagger_collect.py`` writes, depth images
    stored as ``normalized_image`` (``--compress depth.depth_image=normalized_image``):

        python train.py --task go1_parkour_depth_dagger
        python dagger_collect.py --teacher logs/go1_parkour_teacher/<run> \\
            --student-run logs/go1_parkour_depth_dagger/<run> --save-dir data/go1_parkour_depth \\
            --compress depth.depth_image=normalized_image
    """
    from legged_train.runners.two_stage_runner import PretrainDatasetConfig
    from legged_train.tasks.go1.dagger import go1_dagger_student_train

    cfg = go1_dagger_student_train()
    cfg.actor_obs_group = "depth"
    # 128 trajectories of at most 200 steps of 32 x 24 images and the critic's terms: ~110 MB as float32.
    cfg.pretrain_dataset = PretrainDatasetConfig(data_dir="data/go1_parkour_depth", dataset_loops=True,
                                                 keep_latest_n_trajs=128, wait_for_data_s=600.0)
    return cfg


register_task("go1_parkour_teacher", go1_parkour_teacher_env, go1_rough_teacher_train, make_legged_env)
register_task("go1_parkour_depth", go1_parkour_depth_env, lambda: go1_parkour_student_train("depth"), make_legged_env,
              runner_cls=DistillationRunner)
register_task("go1_parkour_blind", go1_parkour_blind_env, lambda: go1_parkour_student_train("policy"), make_legged_env,
              runner_cls=DistillationRunner)
register_task("go1_parkour_depth_dagger", go1_parkour_depth_dagger_env, go1_parkour_depth_dagger_train, make_legged_env,
              runner_cls=TwoStageRunner)
