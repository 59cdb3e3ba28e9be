"""Velocity tracking for a legged robot: N MuJoCo simulations driven by one batched torch program.

The policy sends joint position offsets at 50 Hz; MuJoCo's position actuators close the PD loop
at every physics step. Everything here is vectorized over envs: one torch op serves all of them,
and the only per-step work outside torch is the backend's physics call.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from legged_train.envs.legged import rewards
from legged_train.envs.backend import PhysicsBackend, make_backend
from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.observations import ObservationGroup
from legged_train.envs.robot import GYRO, UP, VELOCIMETER, build_model, foot_touch_sensor
from legged_train.envs.threads import torch_threads
from legged_train.envs.vec_env import VecEnv

GAIT_FREQUENCY = 2.0  # Hz, of the gait clock (observation and gait_phase reward)


class LeggedVelocityEnv(VecEnv):
    def __init__(self, cfg: LeggedEnvConfig, device: str | torch.device = "cpu", backend: PhysicsBackend | None = None):
        cfg.validate()
        unknown = sorted(set(cfg.rewards.weights) - set(rewards.REWARD_TERMS))
        if unknown:
            raise ValueError(f"LeggedEnvConfig.rewards.weights names unknown terms {unknown}; known terms: {sorted(rewards.REWARD_TERMS)}")
        self.cfg = cfg
        self.device = torch.device(device)
        self.num_envs = cfg.num_envs
        robot = cfg.robot
        self.mj_model = build_model(robot, cfg.sim.timestep, cfg.sim.full_body_contacts)
        self.sim = backend or make_backend(self.mj_model, cfg.num_envs, cfg.sim, self.device)
        self.step_dt = cfg.sim.timestep * cfg.sim.substeps
        self.max_episode_length = math.ceil(cfg.episode_length_s / self.step_dt)
        self.num_actions = len(robot.joint_names)
        self.num_feet = len(robot.foot_names)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.seed)
        self.reward_weights = {name: w for name, w in cfg.rewards.weights.items() if w != 0.0}
        # Reference-state initialization (AMP): a sampler of (qpos, qvel) rows and the share of resets using it.
        self.reference_state_sampler = None
        self.reference_state_prob = 0.0

        self._index_model()
        self._allocate_buffers()
        self._update_state()  # a state to evaluate each observation term on once, for its width
        self._build_observation_groups()
        self.reset()
        self.num_obs = self.obs_groups["policy"].stacked_width
        self.num_privileged_obs = self.obs_groups["critic"].stacked_width if "critic" in self.obs_groups else None

    # ----------------------------------------------------------------------------------- set-up

    def _index_model(self) -> None:
        model, robot, dev = self.mj_model, self.cfg.robot, self.device

        def tensor(x, dtype=torch.float32):
            return torch.as_tensor(np.asarray(x), dtype=dtype, device=dev)

        joints = [model.joint(name) for name in robot.joint_names]
        self.joint_qpos_ids = tensor([j.qposadr[0] for j in joints], torch.long)
        self.joint_qvel_ids = tensor([j.dofadr[0] for j in joints], torch.long)
        self.default_joint_pos = tensor(robot.default_joint_pos)
        ranges = tensor(np.stack([j.range for j in joints]))
        middle, half = ranges.mean(1), 0.5 * (ranges[:, 1] - ranges[:, 0]) * self.cfg.rewards.soft_joint_pos_limit
        self.soft_joint_lower, self.soft_joint_upper = middle - half, middle + half
        self.action_scale = robot.action_scale
        self.base_body_id = model.body(robot.base_body).id
        self.foot_site_ids = tensor([model.site(f).id for f in robot.foot_names], torch.long)
        # Trot: the first and last feet (FR, RL) step together, the middle two (FL, RR) half a cycle later.
        self.foot_phase_offsets = tensor([0.0 if i in (0, len(robot.foot_names) - 1) else 0.5 for i in range(len(robot.foot_names))])
        # Columns of sensordata, found once: each step reads sensordata in one conversion.
        sensor_names = {model.sensor(i).name for i in range(model.nsensor)}

        def columns(names: list[str]) -> torch.Tensor:
            cols = [np.arange(model.sensor(n).adr[0], model.sensor(n).adr[0] + model.sensor(n).dim[0]) for n in names]
            return tensor(np.concatenate(cols) if cols else np.zeros(0), torch.long)

        self.gyro_cols, self.velocimeter_cols, self.up_cols = columns([GYRO]), columns([VELOCIMETER]), columns([UP])
        self.foot_force_cols = columns([foot_touch_sensor(f) for f in robot.foot_names])
        self.undesired_contact_cols = columns([s for s in robot.undesired_contact_sites if s in sensor_names])
        has_base_sensor = robot.base_contact_site in sensor_names
        self.base_contact_cols = columns([robot.base_contact_site]) if has_base_sensor else None
        # Nominal physics, the reference for randomization.
        self.nominal_base_mass = float(model.body_mass[self.base_body_id])
        self.nominal_base_com = tensor(model.body_ipos[self.base_body_id], torch.float64)
        self.nominal_gainprm = tensor(model.actuator_gainprm[:, 0], torch.float64)
        self.nominal_biasprm = tensor(model.actuator_biasprm[:, 1:3], torch.float64)
        self.nominal_total_mass = float(model.body_mass.sum())
        # The feet-floor friction coefficient without randomization: MuJoCo takes the larger of two
        # colliding geoms' coefficients. The `friction` observation reads it on nominal physics too.
        colliding = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
        self.nominal_friction = float(model.geom_friction[colliding, 0].max())

    def _allocate_buffers(self) -> None:
        n, na, nf, dev = self.num_envs, self.num_actions, self.num_feet, self.device

        def zeros(*shape, dtype=torch.float32):
            return torch.zeros(*shape, dtype=dtype, device=dev)

        self.actions, self.last_actions = zeros(n, na), zeros(n, na)
        self.last_joint_vel = zeros(n, na)
        self.commands = zeros(n, 3)
        self.command_time_left = zeros(n)
        self.hold_commands = False
        self.episode_length_buf = zeros(n, dtype=torch.long)
        self.feet_air_time = zeros(n, nf)
        self.last_foot_contact = zeros(n, nf, dtype=torch.bool)
        self.last_foot_pos = zeros(n, nf, 3)
        self.gait_phase = zeros(n)
        self.terminated = zeros(n, dtype=torch.bool)
        self.truncated = zeros(n, dtype=torch.bool)
        self.common_step_counter = 0
        # Per-env physics parameters as drawn (privileged observations).
        self.friction_coeff = torch.full((n,), self.nominal_friction, device=dev)
        self.added_base_mass = zeros(n)
        self.base_com_offset = zeros(n, 3)
        self.motor_strength = torch.ones(n, device=dev)
        self.push_vel = zeros(n, 2)
        self.episode_reward_sums = zeros(n, len(self.reward_weights))  # columns in reward_weights order
        self.lin_vel_error_sum, self.yaw_rate_error_sum = zeros(n), zeros(n)

    def _build_observation_groups(self) -> None:
        """Compile each configured group once (term functions, widths, noise, scale) and allocate
        its current observation, the previous step of its history."""
        cfg = self.cfg
        self.obs_groups: dict[str, ObservationGroup] = {}
        for name, group in cfg.observations.items():
            terms = [term for term in group.terms if cfg.gait_clock or term.name != "gait_clock"]
            if not terms:
                raise ValueError(f"LeggedEnvConfig.observations.{name} has no terms left: its only one, gait_clock, is off (gait_clock=False)")
            noise = [cfg.term_noise(term) for term in terms]
            self.obs_groups[name] = ObservationGroup(name, terms, noise, group.history_length, self)
        # Each group's current observation (stacked, with history): what get_observations returns.
        self.obs_bufs = {name: torch.zeros(self.num_envs, g.stacked_width, device=self.device) for name, g in self.obs_groups.items()}

    # -------------------------------------------------------------------------------- the step

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        with torch_threads(1):  # small tensors; leave the cores to the physics pool
            return self._step(actions)

    def _step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        clip = self.cfg.clip_actions
        self.actions = torch.clamp(actions.to(self.device, torch.float32), -clip, clip)
        self.sim.ctrl[:] = (self.default_joint_pos + self.action_scale * self.actions).to(self.sim.ctrl.device, self.sim.ctrl.dtype)
        self.sim.step(self.cfg.sim.substeps)

        self.episode_length_buf += 1
        self.common_step_counter += 1
        self.gait_phase = (self.gait_phase + GAIT_FREQUENCY * self.step_dt) % 1.0
        self._update_state()
        self._update_foot_motion()
        self._check_terminations()
        reward = self._compute_rewards()

        self.last_actions = self.actions.clone()
        self.last_joint_vel = self.joint_vel.clone()
        self.last_foot_pos = self.foot_pos.clone()
        self._resample_commands_on_timer()
        self._push_on_timer()

        obs = self._compute_observations()
        dones = self.terminated | self.truncated
        done_ids = dones.nonzero(as_tuple=False).flatten()
        extras = {"terminated": self.terminated.clone(), "truncated": self.truncated.clone()}
        extras["time_outs"] = extras["truncated"]
        if len(done_ids) > 0:
            final = {name: torch.where(dones[:, None], value, 0.0) for name, value in obs.items()}
            extras["log"] = self._episode_log(done_ids)
            self.reset_idx(done_ids)
            self._update_state()  # the reset envs' state is new; the others' reads the same again
            # Again from the previous step's history (self.obs_bufs), so no env's history moves twice.
            obs = self._compute_observations(reset_ids=done_ids)
        else:  # the common step: no env finished, nothing to select
            final = {name: torch.zeros_like(value) for name, value in obs.items()}
        extras["final_observation"] = final["policy"]
        if "critic" in final:
            extras["final_critic_observation"] = final["critic"]
        extras["final_observations"] = final
        self.obs_bufs = obs
        extras["observations"] = dict(obs)
        return obs["policy"], reward, dones, extras

    def _update_state(self) -> None:
        """Read the simulation into named float32 tensors that rewards and observations share.
        Stateless: calling it twice reads the same state twice."""
        sim, dev = self.sim, self.device

        def read(x: torch.Tensor) -> torch.Tensor:
            return x.to(dev, torch.float32)

        qpos, qvel, sensors = read(sim.qpos), read(sim.qvel), read(sim.sensordata)
        self.base_pos = qpos[:, :3]
        self.base_quat = qpos[:, 3:7]  # w, x, y, z
        self.base_lin_vel_world = qvel[:, :3]  # a free joint's linear velocity is in the world frame
        self.base_lin_vel = sensors[:, self.velocimeter_cols]  # base frame
        self.base_ang_vel = sensors[:, self.gyro_cols]  # base frame
        up = sensors[:, self.up_cols]  # the world's z axis in the base frame
        self.projected_gravity = -up
        self.yaw_rate = torch.sum(up * self.base_ang_vel, dim=1)  # world-z component of the angular velocity
        w, x, y, z = self.base_quat.unbind(1)
        yaw = torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        cos_yaw, sin_yaw = torch.cos(yaw), torch.sin(yaw)
        vx, vy = self.base_lin_vel_world[:, 0], self.base_lin_vel_world[:, 1]
        self.base_lin_vel_heading = torch.stack((cos_yaw * vx + sin_yaw * vy, -sin_yaw * vx + cos_yaw * vy), dim=1)
        self.joint_pos = qpos[:, self.joint_qpos_ids]
        self.joint_vel = qvel[:, self.joint_qvel_ids]
        self.joint_torque = read(sim.actuator_force)
        self.foot_pos = read(sim.site_xpos[:, self.foot_site_ids.to(sim.site_xpos.device)])
        self.foot_height = self.foot_pos[:, :, 2] - self.cfg.robot.foot_radius
        self.foot_force = sensors[:, self.foot_force_cols]
        self.undesired_contact_force = sensors[:, self.undesired_contact_cols]
        self.base_contact_force = sensors[:, self.base_contact_cols].sum(dim=1) if self.base_contact_cols is not None else None
        self.foot_contact = self.foot_force > self.cfg.rewards.contact_force_threshold
        self.is_moving_command = torch.norm(self.commands, dim=1) > 0.1

    def _update_foot_motion(self) -> None:
        """Foot velocities over the last step and the swing timers: once per step, as it advances state."""
        self.foot_vel = (self.foot_pos - self.last_foot_pos) / self.step_dt
        # A bounce on touch-down would end the stance and restart it: count contact in either of the
        # last two steps as contact.
        contact = self.foot_contact | self.last_foot_contact
        self.first_contact = (self.feet_air_time > 0.0) & contact
        self.feet_air_time += self.step_dt
        self.touchdown_air_time = self.feet_air_time.clone()
        self.feet_air_time *= ~contact
        self.last_foot_contact = self.foot_contact

    def _check_terminations(self) -> None:
        term = self.cfg.terminations
        tilted = self.projected_gravity[:, 2] > -math.cos(term.max_tilt)
        low = self.base_pos[:, 2] < term.min_base_height
        self.terminated = tilted | low
        if term.base_contact and self.base_contact_force is not None:
            self.terminated |= self.base_contact_force > self.cfg.rewards.contact_force_threshold
        # A fall on the last step is a fall: terminated wins, so the two never overlap.
        self.truncated = (self.episode_length_buf >= self.max_episode_length) & ~self.terminated

    def _compute_rewards(self) -> torch.Tensor:
        self.reward_terms = {}
        total = torch.zeros(self.num_envs, device=self.device)
        for name, weight in self.reward_weights.items():
            if name == "termination":
                continue
            value = rewards.REWARD_TERMS[name](self) * (weight * self.step_dt)
            self.reward_terms[name] = value
            total += value
        if self.cfg.rewards.only_positive_rewards:
            total.clamp_(min=0.0)
        # Added after the clip, so that falling always costs.
        if "termination" in self.reward_weights:
            value = rewards.termination(self) * (self.reward_weights["termination"] * self.step_dt)
            self.reward_terms["termination"] = value
            total += value
        self.episode_reward_sums += torch.stack([self.reward_terms[name] for name in self.reward_weights], dim=1)
        # Tracking errors, for the logs: the figure the standard evaluation reports, seen in training.
        self.lin_vel_error_sum += torch.norm(self.commands[:, :2] - self.base_lin_vel_heading, dim=1)
        self.yaw_rate_error_sum += torch.abs(self.commands[:, 2] - self.yaw_rate)
        return total

    def _episode_log(self, env_ids: torch.Tensor) -> dict:
        """Per-term reward sums of the finished episodes, per second of episode."""
        means = self.episode_reward_sums[env_ids].mean(dim=0) / self.cfg.episode_length_s
        log = {f"rew_{name}": mean for name, mean in zip(self.reward_weights, means.unbind())}
        steps = self.episode_length_buf[env_ids].float().clamp(min=1.0)
        log["lin_vel_error"] = torch.mean(self.lin_vel_error_sum[env_ids] / steps)  # m/s, per-episode mean
        log["yaw_rate_error"] = torch.mean(self.yaw_rate_error_sum[env_ids] / steps)  # rad/s
        log["fall_rate"] = self.terminated[env_ids].float().mean()
        log["episode_length_s"] = self.episode_length_buf[env_ids].float().mean() * self.step_dt
        return log

    # ------------------------------------------------------------------------------ observations

    def _compute_observations(self, reset_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Every group's observation of the current state, each after its previous one (history).

        Groups are computed in config order, each drawing its noise (one draw over its noisy terms)
        from ``self.generator``. ``reset_ids``: envs whose episode starts now; their history is
        refilled with this first observation."""
        generator = self.generator if self.cfg.noise.enabled else None
        obs, terms = {}, {}  # terms: each term's value, computed once for all the groups that use it
        for name, group in self.obs_groups.items():
            value = group.compute(self, self.obs_bufs[name], generator, terms)
            if reset_ids is not None:
                group.refill(value, reset_ids)
            obs[name] = value
        return obs

    def observation_layout(self) -> dict[str, list[tuple[str, int]]]:
        """``{group: [(term, width), ...]}``: the blocks of ONE step of each group, in order.

        A group with history length H > 1 (``observation_history()``) is H such steps side by side,
        oldest first: its width is H x the sum of these widths, and the newest step is in its last
        columns. Terms with a scale other than 1 are scaled (``deployment_info()`` lists the scales)."""
        return {name: list(zip(group.term_names, group.widths)) for name, group in self.obs_groups.items()}

    def observation_history(self) -> dict[str, int]:
        """``{group: H}``: how many steps each group stacks (1 = the current step only)."""
        return {name: group.history_length for name, group in self.obs_groups.items()}

    @property
    def obs_buf(self) -> torch.Tensor:
        """The current policy observation (rsl_rl's name)."""
        return self.obs_bufs["policy"]

    @property
    def critic_obs_buf(self) -> torch.Tensor | None:
        return self.obs_bufs.get("critic")

    def get_observations(self) -> tuple[torch.Tensor, dict]:
        return self.obs_bufs["policy"], {"observations": dict(self.obs_bufs)}

    # ----------------------------------------------------------------------------------- resets

    def reset(self) -> tuple[torch.Tensor, dict]:
        with torch_threads(1):  # small tensors; leave the cores to the physics pool
            env_ids = torch.arange(self.num_envs, device=self.device)
            self.reset_idx(env_ids)
            self._update_state()
            self.obs_bufs = self._compute_observations(reset_ids=env_ids)
        return self.get_observations()

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        """Reset the given envs: new physics parameters, a new initial state, new commands.
        Their observations (and history) are renewed by the caller: ``step`` or ``reset``."""
        if len(env_ids) == 0:
            return
        n, dr, sim = len(env_ids), self.cfg.domain_rand, self.sim
        if dr.enabled:
            self._randomize_physics(env_ids)
        sim_ids = env_ids.to(sim.qpos.device)
        sim.reset(sim_ids)
        joint_pos = self.default_joint_pos.expand(n, -1)
        base_vel = torch.zeros(n, 6, device=self.device)
        if dr.enabled:
            joint_pos = joint_pos + self._uniform((n, self.num_actions), -dr.init_joint_pos_noise, dr.init_joint_pos_noise)
            base_vel = self._uniform((n, 6), -dr.init_base_vel_noise, dr.init_base_vel_noise)
        qpos = sim.qpos[sim_ids]
        qpos[:, 2] = self.cfg.robot.base_init_height
        qpos[:, 3:7] = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=qpos.dtype)
        qpos[:, self.joint_qpos_ids.to(qpos.device)] = joint_pos.to(qpos)
        qvel = torch.zeros_like(sim.qvel[sim_ids])
        qvel[:, :6] = base_vel.to(qvel)
        reference = self._reference_states(qpos, qvel) if self.reference_state_sampler is not None else None
        sim.ctrl[sim_ids] = (self.default_joint_pos.expand(n, -1)).to(sim.ctrl)
        sim.set_state(sim_ids, qpos, qvel)
        # Put the lowest foot on the floor: starting in the air or buried both jolt the robot.
        foot_z = sim.site_xpos[sim_ids][:, self.foot_site_ids.to(sim.site_xpos.device), 2]
        qpos[:, 2] -= foot_z.min(dim=1).values - self.cfg.robot.foot_radius - 0.002
        sim.set_state(sim_ids, qpos, qvel)

        self.actions[env_ids] = 0.0
        self.last_actions[env_ids] = 0.0
        self.last_joint_vel[env_ids] = 0.0
        self.feet_air_time[env_ids] = 0.0
        self.last_foot_contact[env_ids] = False
        self.last_foot_pos[env_ids] = sim.site_xpos[sim_ids][:, self.foot_site_ids.to(sim.site_xpos.device)].to(self.device, torch.float32)
        self.episode_length_buf[env_ids] = 0
        self.gait_phase[env_ids] = 0.0
        self.push_vel[env_ids] = 0.0
        for sums in (self.episode_reward_sums, self.lin_vel_error_sum, self.yaw_rate_error_sum):
            sums[env_ids] = 0.0
        if not self.hold_commands:
            self._resample_commands(env_ids)
            if reference is not None:  # the command the reference clip was made for: continue its motion
                chosen, commands = reference
                self.commands[env_ids[chosen]] = commands.to(self.commands)

    def set_reference_state_init(self, sampler, prob: float) -> None:
        """Start a share ``prob`` of episodes from reference frames: ``sampler(n)`` returns n rows of
        MuJoCo (qpos, qvel) of this robot's model and the velocity command each frame's clip
        follows (a motion library's ``sample_states``); those episodes start with that command."""
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"reference_state_init_prob={prob!r}: must be in [0, 1]")
        self.reference_state_sampler, self.reference_state_prob = sampler, prob

    def _reference_states(self, qpos: torch.Tensor, qvel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Put a random share of the resetting rows in reference states; (their rows, their commands)."""
        chosen = (torch.rand(qpos.shape[0], generator=self.generator, device=self.device) < self.reference_state_prob)
        chosen = chosen.nonzero().flatten()
        if len(chosen) == 0:
            return None
        ref_qpos, ref_qvel, commands = self.reference_state_sampler(len(chosen))
        rows = chosen.to(qpos.device)
        ref_qpos = ref_qpos.to(qpos)
        ref_qpos[:, :2] = 0.0  # the pose and motion of the frame, at this env's origin (the height is fixed below)
        qpos[rows] = ref_qpos
        qvel[rows] = ref_qvel.to(qvel)
        return chosen, commands

    def _randomize_physics(self, env_ids: torch.Tensor) -> None:
        n, dr, sim = len(env_ids), self.cfg.domain_rand, self.sim
        ids = env_ids.to(sim.qpos.device)
        self.friction_coeff[env_ids] = self._uniform((n,), *dr.friction)
        self.added_base_mass[env_ids] = self._uniform((n,), *dr.added_base_mass)
        self.base_com_offset[env_ids] = self._uniform((n, 3), -dr.base_com_offset, dr.base_com_offset)
        self.motor_strength[env_ids] = self._uniform((n,), *dr.motor_strength)
        # Every geom gets the env's friction: MuJoCo takes the larger of two geoms' coefficients.
        friction = sim.model_field("geom_friction")
        friction[ids, :, 0] = self.friction_coeff[env_ids, None].to(friction)
        body_mass = sim.model_field("body_mass")
        body_mass[ids, self.base_body_id] = (self.nominal_base_mass + self.added_base_mass[env_ids]).to(body_mass)
        body_ipos = sim.model_field("body_ipos")
        body_ipos[ids, self.base_body_id] = self.nominal_base_com.to(body_ipos) + self.base_com_offset[env_ids].to(body_ipos)
        # A position actuator's torque is kp (target - q) - kd qdot: scaling both scales the motor.
        strength = self.motor_strength[env_ids, None].to(torch.float64)
        gainprm, biasprm = sim.model_field("actuator_gainprm"), sim.model_field("actuator_biasprm")
        gainprm[ids, :, 0] = (self.nominal_gainprm * strength).to(gainprm)
        biasprm[ids, :, 1:3] = (self.nominal_biasprm * strength[:, :, None]).to(biasprm)

    def total_mass(self) -> torch.Tensor:
        """Mass of each env's robot (kg), randomization included."""
        return self.nominal_total_mass + self.added_base_mass

    # --------------------------------------------------------------------------------- commands

    def _resample_commands(self, env_ids: torch.Tensor) -> None:
        c, n = self.cfg.commands, len(env_ids)
        commands = torch.stack(
            (self._uniform((n,), *c.lin_vel_x), self._uniform((n,), *c.lin_vel_y), self._uniform((n,), *c.ang_vel_yaw)), dim=1
        )
        standing = torch.rand(n, generator=self.generator, device=self.device) < c.standing_fraction
        self.commands[env_ids] = commands * ~standing[:, None]
        self.command_time_left[env_ids] = c.resampling_time

    def _resample_commands_on_timer(self) -> None:
        if self.hold_commands:
            return
        self.command_time_left -= self.step_dt
        expired = (self.command_time_left <= 0.0).nonzero(as_tuple=False).flatten()
        if len(expired) > 0:
            self._resample_commands(expired)

    def set_commands(self, commands: torch.Tensor, hold: bool = True) -> None:
        """Set every env's (forward m/s, lateral m/s, yaw rad/s) command; with hold, never resample."""
        commands = torch.as_tensor(commands, dtype=torch.float32, device=self.device)
        if commands.shape != (self.num_envs, 3):
            raise ValueError(f"set_commands: commands has shape {tuple(commands.shape)}; expected ({self.num_envs}, 3)")
        self.commands[:] = commands
        self.hold_commands = hold
        self.command_time_left[:] = self.cfg.commands.resampling_time

    # ------------------------------------------------------------------------------------ pushes

    def _push_on_timer(self) -> None:
        dr = self.cfg.domain_rand
        if not dr.enabled or dr.push_interval <= 0:
            return
        if self.common_step_counter % max(1, round(dr.push_interval / self.step_dt)) != 0:
            return
        push = self._uniform((self.num_envs, 2), -dr.push_max_vel, dr.push_max_vel)
        self.push_vel[:] = push
        self.sim.qvel[:, :2] += push.to(self.sim.qvel)

    # ------------------------------------------------------------------------------------ misc

    def _uniform(self, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(shape, generator=self.generator, device=self.device)

    # ----------------------------------------------------------------------- exact resume

    # Buffers that carry from one step to the next (everything else is recomputed each step).
    STATE_BUFFERS = (
        "actions", "last_actions", "last_joint_vel", "commands", "command_time_left", "episode_length_buf",
        "feet_air_time", "last_foot_contact", "last_foot_pos", "gait_phase", "friction_coeff", "added_base_mass",
        "base_com_offset", "motor_strength", "push_vel", "episode_reward_sums", "lin_vel_error_sum",
        "yaw_rate_error_sum",
    )

    def state_dict(self) -> dict:
        """Everything the next steps depend on: physics, per-env parameters, commands, timers,
        counters, the generator and every group's current observation (noise and history included).
        CPU tensors and plain types, so a checkpoint holding it loads with ``weights_only=True``."""
        return {
            "num_envs": self.num_envs,
            "sim": self.sim.state_dict(),
            "buffers": {name: getattr(self, name).cpu().clone() for name in self.STATE_BUFFERS},
            "observations": {name: value.cpu().clone() for name, value in self.obs_bufs.items()},
            "common_step_counter": self.common_step_counter,
            "hold_commands": self.hold_commands,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly where ``state_dict()`` was taken (same task config and number of envs)."""
        if state["num_envs"] != self.num_envs:
            raise ValueError(f"env state holds {state['num_envs']} envs; this env has num_envs={self.num_envs}")
        for name in self.STATE_BUFFERS:
            current = getattr(self, name)
            value = state["buffers"][name]
            if tuple(value.shape) != tuple(current.shape):
                raise ValueError(f"env state {name} has shape {tuple(value.shape)}; this env's is {tuple(current.shape)}")
        observations = state.get("observations")
        if observations is None:  # a state saved before groups were configurable: the two default ones
            observations = {"policy": state["buffers"]["obs_buf"], "critic": state["buffers"]["critic_obs_buf"]}
        widths = {name: value.shape[1] for name, value in observations.items()}
        expected = {name: value.shape[1] for name, value in self.obs_bufs.items()}
        if widths != expected:
            raise ValueError(f"env state has observation groups of widths {widths}; this env's are {expected} (another observation config)")
        self.sim.load_state_dict(state["sim"])
        for name in self.STATE_BUFFERS:
            setattr(self, name, state["buffers"][name].to(self.device, getattr(self, name).dtype).clone())
        self.obs_bufs = {name: observations[name].to(self.device, torch.float32).clone() for name in self.obs_bufs}
        self.common_step_counter = int(state["common_step_counter"])
        self.hold_commands = bool(state["hold_commands"])
        self.generator.set_state(state["generator"])

    def make_eval_env(self, num_envs: int | None = None, seed: int = 0) -> LeggedVelocityEnv:
        """A separate env on nominal physics: no randomization, no pushes, the same sensing noise."""
        cfg = copy.deepcopy(self.cfg)
        cfg.num_envs = num_envs or self.num_envs
        cfg.seed = seed
        cfg.domain_rand.enabled = False
        return type(self)(cfg, device=self.device)

    def qpos_numpy(self, env_id: int = 0) -> np.ndarray:
        return self.sim.qpos[env_id].detach().cpu().numpy().astype(np.float64)

    def deployment_info(self) -> dict:
        """What a robot-side runtime needs to feed the exported policy and apply its actions."""
        robot = self.cfg.robot
        n = self.num_actions
        policy = self.obs_groups["policy"]
        return {
            # The policy's input: observation_history_length steps of observation_layout, oldest first.
            "observation_layout": self.observation_layout()["policy"],
            "observation_history_length": policy.history_length,
            "observation_scales": policy.scales,  # per block of observation_layout
            "num_obs": self.num_obs,
            "joint_names": list(robot.joint_names),
            "default_joint_pos": [float(x) for x in robot.default_joint_pos],
            "action_scale": robot.action_scale,
            "kp": np.broadcast_to(np.asarray(robot.kp, float), (n,)).tolist(),
            "kd": np.broadcast_to(np.asarray(robot.kd, float), (n,)).tolist(),
            "effort_limits": [float(x) for x in robot.effort_limits],
            "policy_dt": self.step_dt,
            "control": "joint position target = default_joint_pos + action_scale * action, tracked by PD",
        }

    def close(self) -> None:
        self.sim = None


def make_legged_env(cfg: LeggedEnvConfig, device: str | torch.device = "cpu") -> LeggedVelocityEnv:
    return LeggedVelocityEnv(cfg, device=device)


def is_legged_env(env) -> bool:
    return isinstance(env, LeggedVelocityEnv)

