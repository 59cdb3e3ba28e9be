"""Velocity tracking for a legged robot: N MuJoCo simulations driven by one batched torch program.

The policy sends joint position offsets at 50 Hz; MuJoCo's position actuators close the PD loop
at every physics step. Everything here is vectorized over envs: one torch op serves all of them,
and the only per-step work outside torch is the backend's physics call.

This module is the loop: read the simulation into named state (``_update_state``), then call the
terms of the sibling modules with their configured parameters: ``terminations``, ``rewards``,
``curriculum`` (at episode ends), ``events`` (randomization at reset, pushes), ``commands`` and
``observations``. What the terms compute lives there; this file only decides when.

The ground is ``cfg.terrain``: the plane (z = 0, nothing looked up) or a heightfield that all envs
share (``envs/terrain/``). On a terrain each env starts at its tile's centre (``env_origins``, moved
by the ``terrain_levels`` curriculum), and ``_update_state`` measures base and foot heights against
the ground under the feet (``TerrainHeights``, 4 points per env and step).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from legged_train.envs.backend import PhysicsBackend
from legged_train.envs.backend_factory import make_backend
from legged_train.envs.legged import commands, curriculum, events, gaits, resume, rewards, terminations
from legged_train.envs.legged.config import LeggedEnvConfig
from legged_train.envs.legged.deployment import deployment_info
from legged_train.envs.legged.observations import build_groups, compute_groups
from legged_train.envs.robot import ANGULAR_MOMENTUM, GYRO, SELF_CONTACTS, UP, VELOCIMETER, build_model, foot_touch_sensor
from legged_train.envs.terrain import build_terrain
from legged_train.envs.threads import torch_threads
from legged_train.envs.vec_env import VecEnv


class LeggedVelocityEnv(VecEnv):
    def __init__(self, cfg: LeggedEnvConfig, device: str | torch.device = "cpu", backend: PhysicsBackend | None = None):
        cfg.validate()  # also the term names and their parameters
        self.cfg = cfg
        self.device = torch.device(device)
        self.num_envs = cfg.num_envs
        robot = cfg.robot
        # A pure function of cfg.terrain (seed included): play and resume rebuild the same ground.
        self.terrain = build_terrain(cfg.terrain)  # None: the plane
        whole_body = any(cfg.rewards.weights.get(name, 0.0) != 0.0 for name in rewards.NEEDS_WHOLE_BODY_SENSORS)
        self.mj_model = build_model(robot, cfg.sim.timestep, cfg.sim.full_body_contacts, self.terrain, whole_body_sensors=whole_body,
                                    depth_camera=cfg.depth_camera.enabled)
        self.sim = backend or make_backend(self.mj_model, cfg.num_envs, cfg.sim, self.device)
        self.step_dt = cfg.sim.timestep * cfg.sim.substeps
        self.max_episode_length = math.ceil(cfg.episode_length_s / self.step_dt)
        self.num_actions = len(robot.joint_names)
        self.num_feet = len(robot.foot_names)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.seed)
        # The configured terms: name -> (function, keyword parameters). Rewards: weight 0 is off.
        self.reward_weights = {name: w for name, w in cfg.rewards.weights.items() if w != 0.0}
        self.reward_params = {name: dict(cfg.rewards.params.get(name) or {}) for name in self.reward_weights}
        self.termination_terms = {name: (terminations.TERMINATION_TERMS[name], dict(params))
                                  for name, params in cfg.terminations.terms.items() if params is not None}
        self.curriculum_terms = {name: (curriculum.CURRICULUM_TERMS[name], dict(params))
                                 for name, params in cfg.curriculum.terms.items() if params is not None}
        self.command_ranges = commands.initial_ranges(cfg.commands)  # a curriculum widens these
        # Reference-state initialization (AMP): a sampler of (qpos, qvel) rows and the share of resets using it.
        self.reference_state_sampler = None
        self.reference_state_prob = 0.0

        self._index_model()
        self._allocate_buffers()
        self._set_up_terrain()
        self._set_up_camera()
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
        self.joint_range = tensor(np.stack([j.range for j in joints]))  # (J, 2) rad
        self.action_scale = robot.action_scale
        self.base_body_id = model.body(robot.base_body).id
        self.foot_site_ids = tensor([model.site(f).id for f in robot.foot_names], torch.long)
        # The gait's phase offset per foot (cfg.gait), its named gaits matched to the feet by where they stand.
        standing_xy = gaits.standing_foot_xy(model, robot)
        self.foot_phase_offsets = tensor(gaits.phase_offsets(self.cfg.gait, standing_xy))
        self.foot_is_left = torch.as_tensor(standing_xy[:, 1] > standing_xy[:, 1].mean(), device=self.device)
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
        whole_body = ANGULAR_MOMENTUM in sensor_names
        self.angular_momentum_cols = columns([ANGULAR_MOMENTUM]) if whole_body else None
        self.self_contact_cols = columns([SELF_CONTACTS]) if whole_body else None
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
        self.command_heading = zeros(n)  # rad in the world, with heading commands (commands.steer_to_heading)
        self.command_steering = zeros(n, dtype=torch.bool)
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
        self.terminated_by = {name: zeros(n, dtype=torch.bool) for name in self.termination_terms}  # this step
        self.one_step_episodes = terminations.OneStepEpisodes(self.termination_terms)  # warns of a config error
        self.lin_vel_error_sum, self.yaw_rate_error_sum = zeros(n), zeros(n)

    def _set_up_terrain(self) -> None:
        """The terrain's torch lookup, the envs' tiles (level, column, origin) and the height scan's
        grid. On the plane: no lookup, no tiles, and no random draw (the plane's numbers stay as
        they were before terrains existed)."""
        from legged_train.envs.terrain.lookup import TerrainHeights
        from legged_train.envs.terrain.origins import env_origins

        self.height_scan_cfg = self.cfg.height_scan
        self.height_scan_points = torch.tensor(self.cfg.height_scan.points(), dtype=torch.float32, device=self.device)
        self.terrain_heights = self.terrain_levels = self.terrain_columns = self.env_origins = None
        self.base_ground = self.foot_ground = None
        if self.terrain is None:
            return
        self.terrain_heights = TerrainHeights(self.terrain, self.device)
        self.terrain_tile_origins = torch.as_tensor(self.terrain.tile_origins, dtype=torch.float32, device=self.device)
        # legged_gym: with the level curriculum envs start on the easy levels, without it on all of them.
        with_curriculum = "terrain_levels" in self.curriculum_terms
        top = self.terrain.num_rows - 1
        if with_curriculum:
            top = min(self.cfg.terrain.max_init_terrain_level, top)
        self.env_origins, self.terrain_levels, self.terrain_columns = env_origins(
            self.num_envs, top, self.terrain, self.generator, self.device)
        # The envs of each sub-terrain type (their columns never change), for the per-type level log.
        types = np.asarray(self.terrain.tile_types)[self.terrain_columns.cpu().numpy()]
        self.terrain_type_envs = {name: torch.as_tensor(types == name, device=self.device)
                                  for name in dict.fromkeys(self.terrain.tile_types)}

    def _set_up_camera(self) -> None:
        """The depth camera (``envs/sensors/depth_camera.py``) when ``cfg.depth_camera`` is enabled, else None."""
        cfg = self.cfg.depth_camera
        self.depth_camera = None
        if not cfg.enabled:
            return
        from legged_train.envs.sensors.depth_camera import DepthCamera

        body = cfg.body or self.cfg.robot.base_body
        bodies = [self.mj_model.body(i).name for i in range(1, self.mj_model.nbody)]
        if body not in bodies:
            raise ValueError(f"LeggedEnvConfig.depth_camera.body={cfg.body!r}: is not a body of the robot "
                             f"({self.cfg.robot.mjcf_path}); it has {bodies}")
        self.depth_camera = DepthCamera(cfg, self.sim, self.mj_model.body(body).id, self.step_dt, self.generator,
                                        terrain_heights=self.terrain_heights)

    @property
    def depth_image(self) -> torch.Tensor | None:
        """(N, 1, H, W) what the depth camera shows now, in [0, 1] (the ``depth_image`` term); None without one."""
        return None if self.depth_camera is None else self.depth_camera.normalized_image()

    def _build_observation_groups(self) -> None:
        self.obs_groups = build_groups(self.cfg, self)
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
        self.gait_phase = (self.gait_phase + self.cfg.gait_frequency * self.step_dt) % 1.0
        self._update_state()
        self._update_foot_motion()
        self._check_terminations()
        reward = self._compute_rewards()

        self.last_actions = self.actions.clone()
        self.last_joint_vel = self.joint_vel.clone()
        self.last_foot_pos = self.foot_pos.clone()
        commands.resample_on_timer(self)
        commands.steer_to_heading(self)
        events.push_robots(self)
        if self.depth_camera is not None:
            self.depth_camera.step(self.common_step_counter, self.cfg.noise.enabled)

        terms: dict[str, torch.Tensor] = {}
        obs = self._compute_observations(terms=terms)
        dones = self.terminated | self.truncated
        done_ids = dones.nonzero(as_tuple=False).flatten()
        extras = {"terminated": self.terminated.clone(), "truncated": self.truncated.clone()}
        extras["time_outs"] = extras["truncated"]
        if self.common_step_counter <= terminations.OneStepEpisodes.STEPS:
            self.one_step_episodes.update(self, done_ids)
        if len(done_ids) > 0:
            final = {name: torch.where(dones[:, None], value, 0.0) for name, value in obs.items()}
            extras["log"] = self._episode_log(done_ids)
            for function, params in self.curriculum_terms.values():  # before the reset clears their sums
                function(self, done_ids, **params)
            self.reset_idx(done_ids)
            self._update_state()  # the reset envs' state is new; the others' reads the same again
            if self.depth_camera is not None:  # their first view of the new episode, at once
                self.depth_camera.reset(done_ids, self.common_step_counter, self.cfg.noise.enabled)
            commands.steer_to_heading(self)  # the reset envs' new headings (the others' yaw rates are unchanged)
            # Again from the previous step's history (self.obs_bufs), so no env's history moves twice;
            # only the reset envs' terms are computed again, everyone's noise is drawn again.
            obs = self._compute_observations(reset_ids=done_ids, stale=terms)
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
        self.base_yaw = yaw  # rad, the base's heading in the world
        vx, vy = self.base_lin_vel_world[:, 0], self.base_lin_vel_world[:, 1]
        self.base_lin_vel_heading = torch.stack((cos_yaw * vx + sin_yaw * vy, -sin_yaw * vx + cos_yaw * vy), dim=1)
        self.joint_pos = qpos[:, self.joint_qpos_ids]
        self.joint_vel = qvel[:, self.joint_qvel_ids]
        self.joint_torque = read(sim.actuator_force)
        self.foot_pos = read(sim.site_xpos[:, self.foot_site_ids.to(sim.site_xpos.device)])
        if self.terrain_heights is None:  # the plane: heights are above z = 0, as they always were
            self.base_height = self.base_pos[:, 2]
            self.foot_height = self.foot_pos[:, :, 2] - self.cfg.robot.foot_radius
        else:
            # Against the ground under each foot; the base's ground is their mean: the ground the robot
            # stands on. The point under the base alone would jump by a whole step while the robot
            # straddles a stair edge (a 0.23 m step puts a standing robot's base "0.07 m high").
            self.foot_ground = self.terrain_heights(self.foot_pos[:, :, :2])
            self.base_ground = self.foot_ground.mean(dim=1)
            self.base_height = self.base_pos[:, 2] - self.base_ground
            self.foot_height = self.foot_pos[:, :, 2] - self.cfg.robot.foot_radius - self.foot_ground
        self.foot_force = sensors[:, self.foot_force_cols]
        self.undesired_contact_force = sensors[:, self.undesired_contact_cols]
        self.base_contact_force = sensors[:, self.base_contact_cols].sum(dim=1) if self.base_contact_cols is not None else None
        if self.angular_momentum_cols is not None:
            self.angular_momentum = sensors[:, self.angular_momentum_cols]  # kg m^2/s, world frame, about the CoM
            self.self_contacts = sensors[:, self.self_contact_cols].sum(dim=1)
        self.foot_contact = self.foot_force > self.cfg.rewards.contact_force_threshold
        self.is_moving_command = commands.is_moving(self.commands)

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
        self.terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        for name, (function, params) in self.termination_terms.items():
            self.terminated_by[name] = function(self, **params)
            self.terminated |= self.terminated_by[name]
        # A fall on the last step is a fall: terminated wins, so the two never overlap.
        self.truncated = terminations.time_out(self)

    def _compute_rewards(self) -> torch.Tensor:
        self.reward_terms = {}
        total = torch.zeros(self.num_envs, device=self.device)
        for name, weight in self.reward_weights.items():
            if name == "termination":
                continue
            value = rewards.REWARD_TERMS[name](self, **self.reward_params[name]) * (weight * self.step_dt)
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
        for name, fired in self.terminated_by.items():  # what ended them: a share per termination term
            log[f"terminated_{name}"] = fired[env_ids].float().mean()
        log["episode_length_s"] = self.episode_length_buf[env_ids].float().mean() * self.step_dt
        if "terrain_levels" in self.curriculum_terms:  # over all envs, as legged_gym logs it
            log["curriculum/terrain_level"] = self.terrain_levels.float().mean()
            for name, envs in self.terrain_type_envs.items():
                log[f"curriculum/terrain_level_{name}"] = self.terrain_levels[envs].float().mean()
        return log

    # ------------------------------------------------------------------------------ observations

    def _compute_observations(self, reset_ids: torch.Tensor | None = None, terms: dict | None = None,
                              stale: dict | None = None) -> dict[str, torch.Tensor]:
        """Every group's observation of the current state after its previous one; ``reset_ids``: envs
        whose episode starts now (their history is refilled). Noise from the env's generator.
        ``terms`` and ``stale``: as ``compute_groups``'s."""
        generator = self.generator if self.cfg.noise.enabled else None
        return compute_groups(self.obs_groups, self, self.obs_bufs, generator, reset_ids, terms, stale)

    def observation_layout(self) -> dict[str, list[tuple[str, int]]]:
        """``{group: [(term, width), ...]}``: the blocks of ONE step of each group, in order.

        A group with history length H > 1 (``observation_history()``) is H such steps side by side,
        oldest first: its width is H x the sum of these widths, and the newest step is in its last
        columns. Terms with a scale other than 1 are scaled (``deployment_info()`` lists the scales)."""
        return {name: list(zip(group.term_names, group.widths)) for name, group in self.obs_groups.items()}

    def observation_image_shapes(self) -> dict[str, dict[str, tuple[int, int, int]]]:
        """``{group: {term: (C, H, W)}}`` for the image terms (``depth_image``): each is flattened,
        row-major, into its block of ``observation_layout()``; groups without images are left out."""
        return {name: dict(group.image_shapes) for name, group in self.obs_groups.items() if group.image_shapes}

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
            if self.depth_camera is not None:
                self.depth_camera.reset(env_ids, self.common_step_counter, self.cfg.noise.enabled)
            self.obs_bufs = self._compute_observations(reset_ids=env_ids)
        return self.get_observations()

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        """Reset the given envs: new physics parameters, a new initial state, new commands (events
        and commands modules). Their observations (and history) are renewed by the caller: ``step`` or ``reset``."""
        if len(env_ids) == 0:
            return
        if self.cfg.domain_rand.enabled:
            events.randomize_physics(self, env_ids)
        reference = events.reset_robot_state(self, env_ids)
        sim, sim_ids = self.sim, env_ids.to(self.sim.qpos.device)

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
            commands.resample(self, env_ids)
            if reference is not None:  # the command the reference clip was made for: continue its motion
                chosen, clip_commands = reference
                self.commands[env_ids[chosen]] = clip_commands.to(self.commands)

    def set_reference_state_init(self, sampler, prob: float) -> None:
        """Start a share ``prob`` of episodes from reference frames: ``sampler(n)`` returns n rows of
        MuJoCo (qpos, qvel) of this robot's model and the velocity command each frame's clip
        follows (a motion library's ``sample_states``); those episodes start with that command."""
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"reference_state_init_prob={prob!r}: must be in [0, 1]")
        self.reference_state_sampler, self.reference_state_prob = sampler, prob

    def total_mass(self) -> torch.Tensor:
        """Mass of each env's robot (kg), randomization included."""
        return self.nominal_total_mass + self.added_base_mass

    def set_commands(self, commands: torch.Tensor, hold: bool = True) -> None:
        """Set every env's (forward m/s, lateral m/s, yaw rad/s) command; with hold, never resample."""
        commands = torch.as_tensor(commands, dtype=torch.float32, device=self.device)
        if commands.shape != (self.num_envs, 3):
            raise ValueError(f"set_commands: commands has shape {tuple(commands.shape)}; expected ({self.num_envs}, 3)")
        self.commands[:] = commands
        self.hold_commands = hold
        self.command_time_left[:] = self.cfg.commands.resampling_time

    def uniform(self, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        """Uniform in [low, high), from the env's generator: every random draw of the env goes through it."""
        return low + (high - low) * torch.rand(shape, generator=self.generator, device=self.device)

    # ----------------------------------------------------------------------- exact resume

    STATE_BUFFERS = resume.STATE_BUFFERS  # the names in checkpoints: keep them readable

    def state_dict(self) -> dict:
        """Everything the next steps depend on (see ``resume.env_state``): a checkpoint's env state."""
        return resume.env_state(self)

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly where ``state_dict()`` was taken (same task config and number of envs)."""
        resume.load_env_state(self, state)

    def symmetry(self):
        """The left-right mirror of this env's observation groups and actions (``envs/legged/symmetry.py``)."""
        from legged_train.envs.legged.symmetry import Symmetry

        return Symmetry(self)

    def make_eval_env(self, num_envs: int | None = None, seed: int = 0) -> LeggedVelocityEnv:
        """A separate env on nominal physics: no randomization, no pushes, the same sensing noise; on a
        terrain without the level curriculum (it measures; robots start on every level, as legged_gym's play)."""
        cfg = copy.deepcopy(self.cfg)
        cfg.num_envs = num_envs or self.num_envs
        cfg.seed = seed
        cfg.domain_rand.enabled = False
        cfg.curriculum.terms["terrain_levels"] = None
        return type(self)(cfg, device=self.device)

    def qpos_numpy(self, env_id: int = 0) -> np.ndarray:
        return self.sim.qpos[env_id].detach().cpu().numpy().astype(np.float64)

    def deployment_info(self) -> dict:
        """What a robot-side runtime needs to feed the exported policy and apply its actions."""
        return deployment_info(self)

    def close(self) -> None:
        self.sim = None


def make_legged_env(cfg: LeggedEnvConfig, device: str | torch.device = "cpu") -> LeggedVelocityEnv:
    return LeggedVelocityEnv(cfg, device=device)


def is_legged_env(env) -> bool:
    return isinstance(env, LeggedVelocityEnv)

