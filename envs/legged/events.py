"""Events: what happens to the simulation outside the policy's control.

- Physics randomization at reset: ``RESET_EVENTS``, each ``event(env, env_ids, value)`` with its
  value the ``DomainRandConfig`` field of the same name (a (low, high) range or a half-width), run
  in that order (the order fixes the draws of the env's generator: keep new ones at the end).
- The robot's initial state at reset (``reset_robot_state``): the default pose with noise, or a
  reference-motion frame (AMP's reference state initialization), the lowest foot on the floor.
  On a terrain: at the env's tile origin (``env.env_origins``), with a random yaw (or
  ``env.spawn_yaw``, (N,) rad, when set), the lowest foot
  (measured against the ground under each foot) on the ground.
- Pushes on a timer (``push_robots``).

A new randomization is a function here, listed in ``RESET_EVENTS``, and its field in ``DomainRandConfig``.
Every draw comes from ``env.generator``, so a seed fixes them all.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv


# ------------------------------------------------------------------------- physics at reset


def friction(env: LeggedVelocityEnv, env_ids: torch.Tensor, value: tuple[float, float]) -> None:
    """Every geom's sliding friction, uniform in ``value``: MuJoCo takes the larger of two geoms' coefficients."""
    env.friction_coeff[env_ids] = env.uniform((len(env_ids),), *value)
    field = env.sim.model_field("geom_friction")
    field[env_ids.to(field.device), :, 0] = env.friction_coeff[env_ids, None].to(field)


def added_base_mass(env: LeggedVelocityEnv, env_ids: torch.Tensor, value: tuple[float, float]) -> None:
    """kg added to the base, uniform in ``value``."""
    env.added_base_mass[env_ids] = env.uniform((len(env_ids),), *value)
    field = env.sim.model_field("body_mass")
    field[env_ids.to(field.device), env.base_body_id] = (env.nominal_base_mass + env.added_base_mass[env_ids]).to(field)


def base_com_offset(env: LeggedVelocityEnv, env_ids: torch.Tensor, value: float) -> None:
    """The base's centre of mass moved by up to ``value`` (m) along each axis."""
    env.base_com_offset[env_ids] = env.uniform((len(env_ids), 3), -value, value)
    field = env.sim.model_field("body_ipos")
    field[env_ids.to(field.device), env.base_body_id] = env.nominal_base_com.to(field) + env.base_com_offset[env_ids].to(field)


def motor_strength(env: LeggedVelocityEnv, env_ids: torch.Tensor, value: tuple[float, float]) -> None:
    """Every motor's kp and kd scaled by one factor uniform in ``value``: a position actuator's torque
    is kp (target - q) - kd qdot, so scaling both scales the motor."""
    env.motor_strength[env_ids] = env.uniform((len(env_ids),), *value)
    strength = env.motor_strength[env_ids, None].to(torch.float64)
    gainprm, biasprm = env.sim.model_field("actuator_gainprm"), env.sim.model_field("actuator_biasprm")
    ids = env_ids.to(gainprm.device)
    gainprm[ids, :, 0] = (env.nominal_gainprm * strength).to(gainprm)
    biasprm[ids, :, 1:3] = (env.nominal_biasprm * strength[:, :, None]).to(biasprm)


RESET_EVENTS = (friction, added_base_mass, base_com_offset, motor_strength)


def randomize_physics(env: LeggedVelocityEnv, env_ids: torch.Tensor) -> None:
    """Every reset event, with its ``DomainRandConfig`` value (only when ``domain_rand.enabled``)."""
    for event in RESET_EVENTS:
        event(env, env_ids, getattr(env.cfg.domain_rand, event.__name__))


# ---------------------------------------------------------------------- the initial state


def reset_robot_state(env: LeggedVelocityEnv, env_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Put ``env_ids`` in their initial state: the default pose upright at the standing height, with
    uniform noise on the joints and the base velocity (when randomization is on), or a reference
    frame for a share of them; then lowered until the lowest foot touches the floor. Returns
    (rows of env_ids started from reference frames, their clips' commands), or None."""
    n, dr, sim = len(env_ids), env.cfg.domain_rand, env.sim
    sim_ids = env_ids.to(sim.qpos.device)
    sim.reset(sim_ids)
    joint_pos = env.default_joint_pos.expand(n, -1)
    base_vel = torch.zeros(n, 6, device=env.device)
    if dr.enabled:
        joint_pos = joint_pos + env.uniform((n, env.num_actions), -dr.init_joint_pos_noise, dr.init_joint_pos_noise)
        base_vel = env.uniform((n, 6), -dr.init_base_vel_noise, dr.init_base_vel_noise)
    qpos = sim.qpos[sim_ids]
    qpos[:, 2] = env.cfg.robot.base_init_height
    qpos[:, 3:7] = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=qpos.dtype)
    qpos[:, env.joint_qpos_ids.to(qpos.device)] = joint_pos.to(qpos)
    qvel = torch.zeros_like(sim.qvel[sim_ids])
    qvel[:, :6] = base_vel.to(qvel)
    reference = _reference_states(env, qpos, qvel) if env.reference_state_sampler is not None else None
    if env.terrain is not None:
        _place_on_tiles(env, env_ids, qpos, qvel)
    sim.ctrl[sim_ids] = (env.default_joint_pos.expand(n, -1)).to(sim.ctrl)
    sim.set_state(sim_ids, qpos, qvel)
    # Put the lowest foot on the floor: starting in the air or buried both jolt the robot.
    if env.terrain is None:
        foot_z = sim.site_xpos[sim_ids][:, env.foot_site_ids.to(sim.site_xpos.device), 2]
        qpos[:, 2] -= foot_z.min(dim=1).values - env.cfg.robot.foot_radius - 0.002
    else:  # the same, each foot measured against the ground under it: no foot starts inside the terrain
        feet = sim.site_xpos[sim_ids][:, env.foot_site_ids.to(sim.site_xpos.device)].to(env.device, torch.float32)
        clearance = feet[:, :, 2] - env.cfg.robot.foot_radius - env.terrain_heights(feet[:, :, :2])
        qpos[:, 2] -= (clearance.min(dim=1).values - 0.002).to(qpos)
    sim.set_state(sim_ids, qpos, qvel)
    return reference


def _place_on_tiles(env: LeggedVelocityEnv, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
    """Move the resetting robots (default pose or reference frame, at x = y = 0) to their tile
    origins, turned by a random yaw (a new draw, taken only on a terrain): the base's orientation
    and its world-frame linear velocity turn with it; the free joint's angular velocity is in the
    base frame and does not. The height is set by the caller, from the ground under the feet."""
    yaw = env.uniform((len(env_ids),), -math.pi, math.pi).to(qpos)
    # A fixed heading per env, when one is set (the terrain course, legged_train/course.py, faces
    # each robot along a tile axis). The draw above is still taken, so the generator's sequence is
    # the same with or without it.
    spawn_yaw = getattr(env, "spawn_yaw", None)
    if spawn_yaw is not None:
        yaw = spawn_yaw[env_ids].to(qpos)
    c, s = torch.cos(yaw / 2), torch.sin(yaw / 2)
    w, x, y, z = qpos[:, 3:7].unbind(1)
    # (c, 0, 0, s) * (w, x, y, z): a turn about the world's z axis, applied after the frame's own orientation.
    qpos[:, 3:7] = torch.stack((c * w - s * z, c * x - s * y, c * y + s * x, c * z + s * w), dim=1)
    cos_yaw, sin_yaw = torch.cos(yaw), torch.sin(yaw)
    vx, vy = qvel[:, 0].clone(), qvel[:, 1].clone()
    qvel[:, 0], qvel[:, 1] = cos_yaw * vx - sin_yaw * vy, sin_yaw * vx + cos_yaw * vy
    qpos[:, :2] += env.env_origins[env_ids, :2].to(qpos)


def _reference_states(env: LeggedVelocityEnv, qpos: torch.Tensor, qvel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Put a random share of the resetting rows in reference states; (their rows, their commands)."""
    chosen = torch.rand(qpos.shape[0], generator=env.generator, device=env.device) < env.reference_state_prob
    chosen = chosen.nonzero().flatten()
    if len(chosen) == 0:
        return None
    ref_qpos, ref_qvel, commands = env.reference_state_sampler(len(chosen))
    rows = chosen.to(qpos.device)
    ref_qpos = ref_qpos.to(qpos)
    ref_qpos[:, :2] = 0.0  # the pose and motion of the frame, at this env's origin (the height is fixed below)
    qpos[rows] = ref_qpos
    qvel[rows] = ref_qvel.to(qvel)
    return chosen, commands


# ------------------------------------------------------------------------------ pushes


def push_robots(env: LeggedVelocityEnv) -> None:
    """Every ``push_interval`` seconds, kick every env's base with a planar velocity uniform in
    +-``push_max_vel`` (m/s), as a shove would (0 disables pushes)."""
    dr = env.cfg.domain_rand
    if not dr.enabled or dr.push_interval <= 0:
        return
    if env.common_step_counter % max(1, round(dr.push_interval / env.step_dt)) != 0:
        return
    push = env.uniform((env.num_envs, 2), -dr.push_max_vel, dr.push_max_vel)
    env.push_vel[:] = push
    env.sim.qvel[:, :2] += push.to(env.sim.qvel)
