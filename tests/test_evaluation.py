"""The standard evaluation's figures, checked against a robot whose motion we know: one standing still."""

import math

import pytest
import torch

from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.env import LeggedVelocityEnv
from legged_train.evaluation import standard_commands, standard_evaluation


def test_a_robot_standing_still_has_the_commands_as_its_error():
    env = LeggedVelocityEnv(LeggedEnvConfig(num_envs=2))
    result = standard_evaluation(env, lambda obs: torch.zeros(obs.shape[0], 12), num_envs=16)
    commands = standard_commands(16)
    # Zero actions hold the default pose: the measured velocities stay ~0, so the RMSDs are the
    # root mean square of the commands themselves.
    expected_velocity = math.sqrt(torch.sum(commands[:, :2] ** 2, dim=1).mean().item())
    expected_yaw = math.sqrt(torch.mean(commands[:, 2] ** 2).item())
    assert result["velocity_rmsd"] == pytest.approx(expected_velocity, abs=0.02)
    assert result["yaw_rate_rmsd"] == pytest.approx(expected_yaw, abs=0.02)
    assert result["fall_rate"] == 0.0
    # Standing costs energy but covers (almost) no distance: a large cost of transport.
    assert result["cost_of_transport"] > 0.3
    assert env.num_envs == 2  # the training env is untouched; the evaluation built its own


def test_standard_commands_are_fixed_by_the_seed_and_within_the_ranges():
    first, second = standard_commands(256), standard_commands(256)
    assert torch.equal(first, second)
    assert torch.all(first.abs() <= torch.tensor([1.0, 0.5, 1.0]))
