"""The shipped robots (envs/robots/<robot>/) and their tasks: every folder has its licence, loads with
feet-only contacts and stands without the loader's warning; go2_flat and spot_flat train an
iteration and run the standard evaluation. Gait tables for any number of feet, and their errors."""

from __future__ import annotations

import dataclasses
import importlib
import os
import warnings

import numpy as np
import pytest
import torch

from legged_train import evaluation
from legged_train.envs.legged import gaits, rewards
from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.envs.robot import ROBOTS_DIR, RobotConfig, build_model
from legged_train.motions.generate import foot_pairs, gait_agreement
from legged_train.runners.registry import make_runner
from legged_train.tasks import get_task

ROBOTS = sorted(d for d in os.listdir(ROBOTS_DIR) if os.path.isfile(os.path.join(ROBOTS_DIR, d, "constants.py")))
ROBOT_TASKS = {"go1": "go1_flat", "go2": "go2_flat", "spot": "spot_flat"}


def robot_folders() -> list[str]:
    return sorted(d for d in os.listdir(ROBOTS_DIR) if os.path.isdir(os.path.join(ROBOTS_DIR, d)) and not d.startswith("__"))


def test_every_robot_folder_has_a_licence_file_beside_its_mjcf():
    # Go1's MJCF is the project's own: its LICENSE says so (Apache-2.0, the project's licence).
    # Named LICENSE: the name pyproject.toml's package-data ships (robots/*/LICENSE).
    missing = [d for d in robot_folders() if not os.path.isfile(os.path.join(ROBOTS_DIR, d, "LICENSE"))]
    assert not missing, f"robot folders without a LICENSE file beside their assets: {missing}"


def test_every_robot_folder_is_a_constants_module_with_its_mjcf():
    assert {"go1", "go2", "spot"} <= set(ROBOTS) and set(ROBOTS) == set(robot_folders())
    for robot in ROBOTS:
        constants = importlib.import_module(f"legged_train.envs.robots.{robot}.constants")
        assert os.path.isfile(constants.MJCF_PATH)
        n = len(constants.JOINT_NAMES)
        assert len(constants.STANDING_POSE) == len(constants.EFFORT_LIMITS) == n
        assert constants.NOMINAL_HEIGHT > 0 and min(np.atleast_1d(constants.KP)) > 0 and min(np.atleast_1d(constants.KD)) > 0


@pytest.mark.parametrize("robot", sorted(ROBOT_TASKS))
def test_robot_loads_feet_only_and_stands_without_a_warning(robot):
    cfg = get_task(ROBOT_TASKS[robot]).env_cfg.robot
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the standing check's warning, or a gain the file disagrees with
        model = build_model(cfg, 0.004, full_body_contacts=False)
    colliding = [model.geom(g).name for g in range(model.ngeom)
                 if model.geom_bodyid[g] != 0 and (model.geom_contype[g] or model.geom_conaffinity[g])]
    assert sorted(colliding) == sorted(cfg.foot_names)  # feet-only: nothing else of the robot collides
    constants = importlib.import_module(f"legged_train.envs.robots.{robot}.constants")
    assert cfg.default_joint_pos == pytest.approx(constants.STANDING_POSE)
    assert cfg.base_init_height == pytest.approx(constants.NOMINAL_HEIGHT, abs=0.01)


def tiny(cfg: LeggedEnvConfig, num_envs: int = 8) -> LeggedEnvConfig:
    cfg.num_envs, cfg.sim.num_threads = num_envs, 1
    return cfg


@pytest.mark.parametrize("name", ["go2_flat", "spot_flat"])
def test_task_trains_an_iteration_and_runs_the_standard_evaluation(name, tmp_path, monkeypatch):
    task = get_task(name)
    env = task.make_env(tiny(task.env_cfg), "cpu")
    train = dataclasses.replace(task.train_cfg, num_steps_per_env=4, eval_interval=0, save_interval=1000,
                                actor_cfg={"hidden_dims": [32]}, critic_cfg={"hidden_dims": [32]})
    runner = make_runner(env, train, str(tmp_path), "cpu", task.runner_cls)
    runner.learn(num_learning_iterations=1)
    # The evaluation's protocol, shortened: 8 envs for 3 steps after 1 step of warm-up.
    monkeypatch.setattr(evaluation, "DURATION_S", 4 * env.step_dt)
    monkeypatch.setattr(evaluation, "WARMUP_S", env.step_dt)
    result = evaluation.standard_evaluation(env, runner.get_inference_policy(), num_envs=8)
    assert all(np.isfinite(result[key]) for key in ("velocity_rmsd", "yaw_rate_rmsd", "fall_rate"))
    assert env.nominal_total_mass == pytest.approx(15.2 if name == "go2_flat" else 50.3, abs=0.1)  # CoT's own mass


# ------------------------------------------------------------------------------------ gaits


def foot_xy(places: list[str]) -> np.ndarray:
    """Feet at the corners of a 0.4 x 0.2 m rectangle (F/R front/rear, L/R left/right) or, for two
    places L/R, side by side."""
    x = {"F": 0.2, "R": -0.2}
    y = {"L": 0.1, "R": -0.1}
    return np.array([[x[p[0]], y[p[1]]] if len(p) == 2 else [0.0, y[p]] for p in places])


def test_go1_default_gait_keeps_todays_offsets():
    env = LeggedVelocityEnv(tiny(LeggedEnvConfig(), num_envs=2))
    assert env.cfg.gait == "trot"
    assert env.cfg.robot.foot_names == ["FR_foot", "FL_foot", "RR_foot", "RL_foot"]
    assert env.foot_phase_offsets.tolist() == [0.0, 0.5, 0.5, 0.0]


def test_named_gaits_follow_the_feet_by_place_not_order():
    order = ["FL", "RR", "FR", "RL"]  # not the usual order: the tables follow the places
    xy = foot_xy(order)
    for name, table in gaits.FOUR_FEET.items():
        assert gaits.phase_offsets(name, xy).tolist() == [table[p] for p in order]
    assert gaits.phase_offsets("alternating", foot_xy(["L", "R"])).tolist() == [0.5, 0.0]
    assert gaits.phase_offsets([0.1, 0.6], foot_xy(["L", "R"])).tolist() == [0.1, 0.6]  # a table as given
    with pytest.raises(ValueError, match=r"LeggedEnvConfig.gait='trot': the feet's places"):
        gaits.phase_offsets("trot", np.array([[0.2, 0.1], [0.2, 0.2], [-0.2, -0.1], [-0.2, -0.2]]))  # no front-right foot


@pytest.mark.parametrize("gait, feet, message", [
    ([0.0, 0.5, 0.5], 4, r"LeggedEnvConfig.gait=\[0.0, 0.5, 0.5\] has 3 offsets; robot.foot_names has 4 feet"),
    ([0.0, 0.5, 1.0, 0.0], 4, r"LeggedEnvConfig.gait\[2\]=1.0: a phase offset must be a number in \[0, 1\)"),
    ([0.0, -0.25], 2, r"LeggedEnvConfig.gait\[1\]=-0.25: a phase offset must be a number in \[0, 1\)"),
    ("gallop", 4, r"LeggedEnvConfig.gait='gallop': unknown gait; for 4 feet it must be trot, pace, bound, pronk, walk, or a list"),
    ("trot", 2, r"LeggedEnvConfig.gait='trot': a gait for 4 feet, and robot.foot_names has 2; for 2 feet it must be alternating"),
    ("alternating", 4, r"LeggedEnvConfig.gait='alternating': a gait for 2 feet"),
    ("trot", 6, r"LeggedEnvConfig.gait='trot': a gait for 4 feet, and robot.foot_names has 6; for 6 feet it must be a list of 6"),
])
def test_bad_gaits_are_one_line_naming_the_field_value_and_what_is_allowed(gait, feet, message):
    with pytest.raises(ValueError, match=message) as error:
        gaits.validate_gait(gait, feet)
    assert "\n" not in str(error.value)


def test_the_env_config_checks_the_gait_against_its_robots_feet():
    cfg = LeggedEnvConfig(gait=[0.0, 0.5])
    with pytest.raises(ValueError, match=r"LeggedEnvConfig.gait=\[0.0, 0.5\] has 2 offsets; robot.foot_names has 4 feet"):
        cfg.validate()
    cfg = LeggedEnvConfig(robot=RobotConfig(foot_names=["FR_foot", "FL_foot"]), gait="alternating")
    cfg.validate()  # two feet: alternating is allowed


def test_a_foot_name_missing_from_the_mjcf_is_one_line_listing_what_the_file_has():
    robot = RobotConfig(foot_names=["FR_foot", "FL_foot", "RR_foot", "RL_toe"], check_standing=False)
    with pytest.raises(ValueError, match=r"RobotConfig.foot_names: 'RL_toe' is neither a geom nor a site of .*go1.xml; its named geoms and sites: \[.*'RL_foot'") as error:
        build_model(robot, 0.004, False)
    assert "\n" not in str(error.value)


class FakeEnv:
    """What gait_phase and feet_air_time read, for F feet."""

    def __init__(self, offsets, contact, phase=0.25):
        n = contact.shape[0]
        self.foot_phase_offsets = torch.tensor(offsets)
        self.foot_contact = contact
        self.gait_phase = torch.full((n,), phase)
        self.is_moving_command = torch.ones(n, dtype=torch.bool)


@pytest.mark.parametrize("feet", [2, 3, 4, 6])
def test_gait_phase_and_feet_air_time_work_for_any_number_of_feet(feet):
    offsets = [0.5 * (i % 2) for i in range(feet)]  # alternate feet in turn
    # At phase 0.25, sin(2 pi (0.25 + offset)) < 0 for offset 0.5: those feet are meant to be down.
    desired = torch.tensor([o == 0.5 for o in offsets])
    contact = torch.stack((desired, ~desired, torch.ones(feet, dtype=torch.bool)))
    match = rewards.gait_phase(FakeEnv(offsets, contact))
    assert match.tolist() == pytest.approx([1.0, 0.0, sum(desired.tolist()) / feet])
    env = FakeEnv(offsets, contact)
    env.touchdown_air_time = torch.full((3, feet), 0.35)
    env.first_contact = contact
    assert rewards.feet_air_time(env, target=0.25).tolist() == pytest.approx([0.1 * c for c in contact.sum(1).tolist()])


def test_gait_measures_work_for_any_number_of_feet():
    # Contact following each table exactly scores 1; against all feet together, its in-turn pairs score 0.
    phase = (np.arange(100) + 0.5) / 100.0  # off the instants where sin() is exactly 0
    for offsets in ([0.0, 0.5], [0.0, 0.5, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5, 0.0, 0.5]):
        contact = np.sin(2 * np.pi * (phase[:, None] + np.array(offsets))) < 0
        assert gaits.gait_agreement(contact, offsets) == 1.0
        assert gaits.gait_agreement(contact, [0.0] * len(offsets)) < 0.5
    assert np.isnan(gaits.gait_agreement(np.ones((5, 1), bool), [0.0]))  # one foot: no pairs
    # The quadruped pairs of the AMP measures, for a biped: its two feet are a transverse pair.
    pairs = foot_pairs(np.array([False, False]), np.array([True, False]))
    assert pairs == {"diagonal": [], "lateral": [], "transverse": [(0, 1)]}
    assert np.isnan(gait_agreement(np.ones((5, 2), bool), pairs["diagonal"]))
    quad = foot_pairs(np.array([True, True, False, False]), np.array([False, True, False, True]))  # FR, FL, RR, RL
    assert quad["diagonal"] == [(0, 3), (1, 2)] and quad["lateral"] == [(0, 2), (1, 3)]


def test_gait_from_the_command_line():
    from legged_train.config import apply_overrides

    cfg = apply_overrides(LeggedEnvConfig(), {"gait": "[0.0, 0.5, 0.25, 0.75]"})
    assert cfg.gait == [0.0, 0.5, 0.25, 0.75]
    cfg = apply_overrides(LeggedEnvConfig(), {"gait": "pace"})
    assert cfg.gait == "pace"
    cfg.validate()
