"""Reward terms of the velocity-tracking task: each a named function of the env's current state,
returning one value per env (before its weight and the policy dt are applied).

Each reads state the env computed once in `_update_state` (heading-frame velocity, feet, torques...),
so a term is one line of physics, vectorized over envs. A term's parameters are its keyword
arguments, set per term in the config (``RewardsConfig.params``). A new term is a function here,
listed in ``REWARD_TERMS``, and its weight in ``RewardsConfig.weights``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv


def track_lin_vel(env: LeggedVelocityEnv, sigma: float = 0.25) -> torch.Tensor:
    """exp(-|commanded - measured planar velocity in the heading frame|^2 / sigma), sigma in (m/s)^2."""
    error = torch.sum(torch.square(env.commands[:, :2] - env.base_lin_vel_heading), dim=1)
    return torch.exp(-error / sigma)


def track_ang_vel(env: LeggedVelocityEnv, sigma: float = 0.25) -> torch.Tensor:
    """exp(-(commanded - measured yaw rate)^2 / sigma), sigma in (rad/s)^2."""
    error = torch.square(env.commands[:, 2] - env.yaw_rate)
    return torch.exp(-error / sigma)


def lin_vel_z(env: LeggedVelocityEnv) -> torch.Tensor:
    return torch.square(env.base_lin_vel_world[:, 2])


def ang_vel_xy(env: LeggedVelocityEnv) -> torch.Tensor:
    """Roll and pitch rates."""
    return torch.sum(torch.square(env.base_ang_vel[:, :2]), dim=1)


def orientation(env: LeggedVelocityEnv) -> torch.Tensor:
    """Zero when the base is level."""
    return torch.sum(torch.square(env.projected_gravity[:, :2]), dim=1)


def torques(env: LeggedVelocityEnv) -> torch.Tensor:
    return torch.sum(torch.square(env.joint_torque), dim=1)


def energy(env: LeggedVelocityEnv) -> torch.Tensor:
    """Mechanical power the motors spend, |tau . qdot| summed over joints (W)."""
    return torch.sum(torch.abs(env.joint_torque * env.joint_vel), dim=1)


def joint_acc(env: LeggedVelocityEnv) -> torch.Tensor:
    return torch.sum(torch.square((env.joint_vel - env.last_joint_vel) / env.step_dt), dim=1)


def action_rate(env: LeggedVelocityEnv) -> torch.Tensor:
    return torch.sum(torch.square(env.actions - env.last_actions), dim=1)


def soft_joint_limits(joint_range: torch.Tensor, soft_limit: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(lower, upper): the middle ``soft_limit`` share of each joint's (J, 2) range."""
    middle, half = joint_range.mean(1), 0.5 * (joint_range[:, 1] - joint_range[:, 0]) * soft_limit
    return middle - half, middle + half


def joint_pos_limits(env: LeggedVelocityEnv, soft_limit: float = 0.95) -> torch.Tensor:
    """How far joints are past the soft limits (rad), summed: the middle ``soft_limit`` share of the range."""
    lower, upper = soft_joint_limits(env.joint_range, soft_limit)
    below = (lower - env.joint_pos).clamp(min=0.0)
    above = (env.joint_pos - upper).clamp(min=0.0)
    return torch.sum(below + above, dim=1)


def feet_air_time(env: LeggedVelocityEnv, target: float = 0.25) -> torch.Tensor:
    """At each touch-down, the swing's duration minus the target (s): rewards long steps, not
    shuffling. Zero for a standing command, where stepping is not wanted."""
    reward = torch.sum((env.touchdown_air_time - target) * env.first_contact, dim=1)
    return reward * env.is_moving_command


def foot_gait_wave(env: LeggedVelocityEnv) -> torch.Tensor:
    """(N, F) sin(2 pi (gait phase + the foot's offset)): the gait wants a foot down while this is
    negative and in the air while it is positive (peaking mid-swing)."""
    return torch.sin(2.0 * torch.pi * (env.gait_phase[:, None] + env.foot_phase_offsets))


def gait_phase(env: LeggedVelocityEnv) -> torch.Tensor:
    """Share of feet whose contact matches the gait (``cfg.gait``'s phase offset per foot) on the gait
    clock: a dense hint of how to step, for any number of feet. Zero for a standing command. Meant
    for use with cfg.gait_clock."""
    desired_stance = foot_gait_wave(env) < 0.0
    match = (env.foot_contact == desired_stance).float().mean(dim=1)
    return match * env.is_moving_command


def foot_slip(env: LeggedVelocityEnv) -> torch.Tensor:
    """Planar speed^2 of feet that are on the ground."""
    return torch.sum(env.foot_contact * torch.sum(torch.square(env.foot_vel[:, :, :2]), dim=2), dim=1)


def undesired_contacts(env: LeggedVelocityEnv) -> torch.Tensor:
    """Number of thighs/calves touching something (always 0 with feet-only contacts)."""
    return torch.sum(env.undesired_contact_force > env.cfg.rewards.contact_force_threshold, dim=1).float()


def stand_still(env: LeggedVelocityEnv) -> torch.Tensor:
    """Distance from the default pose while the command is zero."""
    return torch.sum(torch.abs(env.joint_pos - env.default_joint_pos), dim=1) * ~env.is_moving_command


def feet_distance(env: LeggedVelocityEnv, min_distance: float = 0.15) -> torch.Tensor:
    """How much narrower than ``min_distance`` (m) the sideways gap between the left feet and the
    right feet is, in the heading frame (0 while it is wider): a biped's feet apart, and never crossed
    (crossed feet make the gap negative, which costs more still)."""
    cos_yaw, sin_yaw = torch.cos(env.base_yaw), torch.sin(env.base_yaw)
    lateral = -sin_yaw[:, None] * env.foot_pos[:, :, 0] + cos_yaw[:, None] * env.foot_pos[:, :, 1]  # (N, F) to the left
    far = torch.finfo(lateral.dtype).max
    left = torch.where(env.foot_is_left, lateral, far).min(dim=1).values
    right = torch.where(env.foot_is_left, -far, lateral).max(dim=1).values
    return (min_distance - (left - right)).clamp(min=0.0)


def feet_swing_height(env: LeggedVelocityEnv, target: float = 0.08) -> torch.Tensor:
    """(height - target)^2 of the feet in the air over the ground under them, summed (m^2): swing
    them this high, no higher (unitree_rl_gym's humanoids: 8 cm). Zero for a standing command."""
    error = torch.square(env.foot_height - target) * ~env.foot_contact
    return torch.sum(error, dim=1) * env.is_moving_command


def feet_swing_trajectory(env: LeggedVelocityEnv, swing_height: float = 0.08, sigma: float = 0.01) -> torch.Tensor:
    """exp(-sum over feet of (foot height - the gait's desired height)^2 / sigma), sigma in m^2: each
    foot follows a half-sine up to ``swing_height`` while the gait clock says swing, and stays down
    in stance (and under a standing command). Unlike ``gait_phase`` (contact matches, or not) it is
    dense: a foot lifted 2 cm already earns more than one left on the ground, which is what gets a
    biped off a standing optimum (MuJoCo Playground's humanoids track a foot-height curve likewise)."""
    desired = swing_height * foot_gait_wave(env).clamp(min=0.0) * env.is_moving_command[:, None]
    error = torch.sum(torch.square(env.foot_height - desired), dim=1)
    return torch.exp(-error / sigma)


def feet_down_still(env: LeggedVelocityEnv) -> torch.Tensor:
    """Feet in the air while the command is zero: stand still on all of them (a biped on both)."""
    return torch.sum(~env.foot_contact, dim=1).float() * ~env.is_moving_command


def base_height(env: LeggedVelocityEnv, target: float | None = None) -> torch.Tensor:
    """(base height - target)^2 (m^2), the height over the ground the robot stands on (the terrain
    under its feet, not z = 0: Isaac Lab #1698); ``target`` None: the robot's standing height."""
    target = env.cfg.robot.base_init_height if target is None else target
    return torch.square(env.base_height - target)


def angular_momentum(env: LeggedVelocityEnv) -> torch.Tensor:
    """|L|^2 of the whole robot about its centre of mass ((kg m^2/s)^2): a humanoid that swings its
    upper body and legs against each other to keep its balance, instead of stepping."""
    return torch.sum(torch.square(env.angular_momentum), dim=1)


def self_collision(env: LeggedVelocityEnv) -> torch.Tensor:
    """Contacts between the robot's own bodies (a foot on the other foot; with full-body contacts
    any two links that are not joined)."""
    return env.self_contacts


def termination(env: LeggedVelocityEnv) -> torch.Tensor:
    """1 on a real termination (a fall), 0 on a time-out."""
    return env.terminated.float()


# Terms that read the whole-body sensors: with any of them weighted, the env's model has those sensors.
NEEDS_WHOLE_BODY_SENSORS = ("angular_momentum", "self_collision")

REWARD_TERMS: dict[str, Callable[[LeggedVelocityEnv], torch.Tensor]] = {
    fn.__name__: fn
    for fn in (
        track_lin_vel,
        track_ang_vel,
        lin_vel_z,
        ang_vel_xy,
        orientation,
        torques,
        energy,
        joint_acc,
        action_rate,
        joint_pos_limits,
        feet_air_time,
        gait_phase,
        foot_slip,
        undesired_contacts,
        stand_still,
        feet_distance,
        feet_swing_height,
        feet_swing_trajectory,
        feet_down_still,
        base_height,
        angular_momentum,
        self_collision,
        termination,
    )
}
