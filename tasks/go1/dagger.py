"""go1_dagger_student: the trainer of DAgger in two processes.

A feed-forward student (an MLP on the ``policy`` group, what the robot measures, with 3 steps of
history) learns by behaviour cloning of the teacher's
labels that ``dagger_collect.py`` writes into ``pretrain_dataset.data_dir`` while it drives the env
with this run's newest checkpoint. Start this first, then the collector with this run's folder:

    python train.py --task go1_dagger_student --set train.pretrain_dataset.data_dir=data/go1_dagger
    python dagger_collect.py --teacher logs/go1_flat/<run> --student-run logs/go1_dagger_student/<run> \\
        --save-dir data/go1_dagger

Every iteration clones (``TwoStageRunner``'s pretraining, which lasts the whole run here: PPO never
takes over) from the dataset folder as it grows: ``dataset_loops`` serves the aggregated
trajectories again while new ones come in, ``keep_latest_n_trajs`` bounds the memory to the newest.
The runner writes ``model_0.pt`` before waiting for data (the collector's first student), saves
often (the collector reloads the newest before each of its buffers), and stops with a message if
no demonstration arrives for ``wait_for_data_s``.
"""

from __future__ import annotations

from legged_train.envs.legged.env import make_legged_env
from legged_train.runners.two_stage_runner import TwoStageRunner
from legged_train.tasks.go1.flat import go1_flat_env, go1_flat_train
from legged_train.tasks.registry import register_task

# The pretraining phase outlasts any run: the student only ever learns from the teacher's labels.
WHOLE_RUN = 1_000_000_000


def go1_dagger_student_env():
    cfg = go1_flat_env()
    # A trajectory reaches the trainer only once it ends: 4 s episodes keep the data fresh (the
    # collector's newest student is at most a few seconds behind), 20 s ones left the trainer
    # cloning old, teacher-driven data for most of a 5-minute run (measured).
    cfg.episode_length_s = 4.0
    # What the robot measured over the last 3 steps: a feed-forward student's way to sense velocity.
    cfg.observations["policy"].history_length = 3
    return cfg


def go1_dagger_student_train():
    from legged_train.runners.two_stage_runner import PretrainDatasetConfig, TwoStagePPOConfig

    return go1_flat_train(
        TwoStagePPOConfig,
        # An iteration clones 24 x 1024 dataset transitions in a fraction of a second, far faster
        # than the collector produces them: 1500 iterations are a few collector buffers' worth.
        max_iterations=1500,
        # The collector reloads the newest checkpoint before every buffer: keep one fresh.
        save_interval=10,
        # The standard evaluation of the student in the env, to watch DAgger converge.
        eval_interval=100,
        pretrain_iterations=WHOLE_RUN,
        pretrain_dataset=PretrainDatasetConfig(
            data_dir="data/go1_dagger",
            dataset_loops=True,
            # 1024 trajectories of at most 200 steps of the policy and critic groups: < 200 MB.
            keep_latest_n_trajs=1024,
            wait_for_data_s=600.0,
        ),
    )


register_task("go1_dagger_student", go1_dagger_student_env, go1_dagger_student_train, make_legged_env, runner_cls=TwoStageRunner)
