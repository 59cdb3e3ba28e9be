"""Exact resume: the env's whole state as CPU tensors and plain types (a checkpoint's ``env``
entry, loadable with ``torch.load(weights_only=True)``), and its restoration."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from legged_train.envs.legged.env import LeggedVelocityEnv

# The env's buffers that carry from one step to the next (everything else is recomputed each step).
# The names are those in checkpoints written since exact resume exists: keep them readable.
STATE_BUFFERS = (
    "actions", "last_actions", "last_joint_vel", "commands", "command_time_left", "episode_length_buf",
    "feet_air_time", "last_foot_contact", "last_foot_pos", "gait_phase", "friction_coeff", "added_base_mass",
    "base_com_offset", "motor_strength", "push_vel", "episode_reward_sums", "lin_vel_error_sum",
    "yaw_rate_error_sum",
)


def env_state(env: LeggedVelocityEnv) -> dict:
    """Everything the next steps depend on: physics, per-env parameters, commands, timers,
    counters, the generator and every group's current observation (noise and history included).
    CPU tensors and plain types, so a checkpoint holding it loads with ``weights_only=True``."""
    return {
        "num_envs": env.num_envs,
        "sim": env.sim.state_dict(),
        "buffers": {name: getattr(env, name).cpu().clone() for name in STATE_BUFFERS},
        "observations": {name: value.cpu().clone() for name, value in env.obs_bufs.items()},
        "common_step_counter": env.common_step_counter,
        "hold_commands": env.hold_commands,
        "generator": env.generator.get_state(),
        # What a curriculum changed; only with one on, so the state of an env without is as it always was.
        **({"command_ranges": {name: list(r) for name, r in env.command_ranges.items()}} if env.curriculum_terms else {}),
        # Each env's tile (the terrain itself is rebuilt from the config); only on a terrain.
        **({"terrain": {"levels": env.terrain_levels.cpu().clone(), "origins": env.env_origins.cpu().clone()}}
           if env.terrain is not None else {}),
        # The depth camera's queue of images (latency); only with a camera.
        **({"camera": env.depth_camera.state_dict()} if env.depth_camera is not None else {}),
        # Each env's commanded heading; only with heading commands.
        **({"heading": {"target": env.command_heading.cpu().clone(), "steering": env.command_steering.cpu().clone()}}
           if env.cfg.commands.heading_command else {}),
    }


def load_env_state(env: LeggedVelocityEnv, state: dict) -> None:
    """Continue exactly where ``state_dict()`` was taken (same task config and number of envs)."""
    if state["num_envs"] != env.num_envs:
        raise ValueError(f"env state holds {state['num_envs']} envs; this env has num_envs={env.num_envs}")
    for name in STATE_BUFFERS:
        current = getattr(env, name)
        value = state["buffers"][name]
        if tuple(value.shape) != tuple(current.shape):
            raise ValueError(f"env state {name} has shape {tuple(value.shape)}; this env's is {tuple(current.shape)}")
    observations = state.get("observations")
    if observations is None:  # a state saved before groups were configurable: the two default ones
        observations = {"policy": state["buffers"]["obs_buf"], "critic": state["buffers"]["critic_obs_buf"]}
    widths = {name: value.shape[1] for name, value in observations.items()}
    expected = {name: value.shape[1] for name, value in env.obs_bufs.items()}
    if widths != expected:
        raise ValueError(f"env state has observation groups of widths {widths}; this env's are {expected} (another observation config)")
    env.sim.load_state_dict(state["sim"])
    for name in STATE_BUFFERS:
        setattr(env, name, state["buffers"][name].to(env.device, getattr(env, name).dtype).clone())
    env.obs_bufs = {name: observations[name].to(env.device, torch.float32).clone() for name in env.obs_bufs}
    env.common_step_counter = int(state["common_step_counter"])
    env.hold_commands = bool(state["hold_commands"])
    env.generator.set_state(state["generator"])
    if "command_ranges" in state:
        env.command_ranges = {name: tuple(r) for name, r in state["command_ranges"].items()}
    if env.terrain is not None and "terrain" in state:
        env.terrain_levels = state["terrain"]["levels"].to(env.device, torch.long).clone()
        env.env_origins = state["terrain"]["origins"].to(env.device, torch.float32).clone()
    if env.cfg.commands.heading_command and "heading" in state:
        env.command_heading = state["heading"]["target"].to(env.device, torch.float32).clone()
        env.command_steering = state["heading"]["steering"].to(env.device, torch.bool).clone()
    if env.depth_camera is not None and "camera" in state:
        env.depth_camera.load_state_dict(state["camera"])
