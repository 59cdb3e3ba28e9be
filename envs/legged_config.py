"""Typed configuration of the legged velocity-tracking env. Every default works; tasks override."""

from __future__ import annotations

from dataclasses import dataclass, field

from envs.robot import RobotConfig


@dataclass
class SimConfig:
    timestep: float = 0.004  # s, physics step
    substeps: int = 5  # physics steps per policy step: 4 ms x 5 = 50 Hz control
    full_body_contacts: bool = False  # True: thighs, calves and trunk collide with the floor too
    num_threads: int = 0  # mjbatch worker threads; 0 = every logical CPU


@dataclass
class CommandsConfig:
    resampling_time: float = 10.0  # s between new commands
    lin_vel_x: tuple[float, float] = (-1.0, 1.0)  # m/s, forward
    lin_vel_y: tuple[float, float] = (-0.5, 0.5)  # m/s, left
    ang_vel_yaw: tuple[float, float] = (-1.0, 1.0)  # rad/s
    standing_fraction: float = 0.1  # share of commands that are exactly zero: learn to stand still


@dataclass
class NoiseConfig:
    """Uniform noise added to the policy observations (the critic's are clean)."""

    enabled: bool = True
    gyro: float = 0.2  # rad/s
    projected_gravity: float = 0.05
    joint_pos: float = 0.01  # rad
    joint_vel: float = 1.5  # rad/s


@dataclass
class RewardsConfig:
    """Weights are per second of simulated time: each term is scaled by the policy dt.

    A weight of 0 turns a term off (it is then not even computed). Names are those of
    `envs.rewards`; an unknown name is an error that lists the known ones."""

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "track_lin_vel": 1.5,
            "track_ang_vel": 0.75,
            "lin_vel_z": -2.0,
            "ang_vel_xy": -0.05,
            "orientation": -5.0,
            "torques": -2e-4,
            "joint_acc": -2.5e-7,
            "action_rate": -0.01,
            "joint_pos_limits": -10.0,
            "feet_air_time": 1.0,
            "gait_phase": 1.0,
            "foot_slip": -0.1,
            "undesired_contacts": -1.0,
            "stand_still": -0.5,
            "termination": -100.0,
        }
    )
    tracking_sigma: float = 0.25  # (m/s)^2 and (rad/s)^2 in the exp() of the tracking terms
    feet_air_time_target: float = 0.25  # s; steps longer than this earn reward at touch-down (half a 2 Hz trot)
    soft_joint_pos_limit: float = 0.95  # fraction of the joint range before joint_pos_limits bites
    contact_force_threshold: float = 1.0  # N, a foot (or knee) touches above this
    only_positive_rewards: bool = True  # clip the step's total at 0: early falls are not a way out


@dataclass
class TerminationConfig:
    max_tilt: float = 1.0  # rad between the base's up axis and the world's
    min_base_height: float = 0.12  # m
    base_contact: bool = True  # base touching the floor ends the episode (full-body contacts only)


@dataclass
class DomainRandConfig:
    """Physics randomization, drawn per env at every reset (pushes on a timer). All seeded."""

    enabled: bool = True
    friction: tuple[float, float] = (0.4, 1.25)
    added_base_mass: tuple[float, float] = (-1.0, 2.0)  # kg
    base_com_offset: float = 0.03  # m, uniform in each axis
    motor_strength: tuple[float, float] = (0.9, 1.1)  # scales Kp and Kd
    push_interval: float = 8.0  # s; 0 disables pushes
    push_max_vel: float = 0.5  # m/s added to the planar base velocity
    init_joint_pos_noise: float = 0.1  # rad, uniform around the default pose
    init_base_vel_noise: float = 0.2  # m/s and rad/s


@dataclass
class LeggedEnvConfig:
    num_envs: int = 1024
    seed: int = 0
    episode_length_s: float = 20.0
    robot: RobotConfig = field(default_factory=RobotConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    rewards: RewardsConfig = field(default_factory=RewardsConfig)
    terminations: TerminationConfig = field(default_factory=TerminationConfig)
    domain_rand: DomainRandConfig = field(default_factory=DomainRandConfig)
    clip_actions: float = 100.0
    # A 2 Hz gait clock (sin, cos of its phase) in the policy observations. With the gait_phase
    # reward it is what makes a walk appear in ~100 PPO iterations instead of a long stand-still
    # plateau (measured on go1_flat; needs no sensor a real robot lacks: it is the controller's clock).
    gait_clock: bool = True

    def validate(self) -> None:
        def need(ok: bool, name: str, value, allowed: str) -> None:
            if not ok:
                raise ValueError(f"LeggedEnvConfig.{name}={value!r}: {allowed}")

        need(isinstance(self.num_envs, int) and self.num_envs >= 1, "num_envs", self.num_envs, "must be an int >= 1")
        need(self.episode_length_s > 0, "episode_length_s", self.episode_length_s, "must be > 0")
        need(self.sim.timestep > 0, "sim.timestep", self.sim.timestep, "must be > 0")
        need(isinstance(self.sim.substeps, int) and self.sim.substeps >= 1, "sim.substeps", self.sim.substeps, "must be an int >= 1")
        need(self.commands.resampling_time > 0, "commands.resampling_time", self.commands.resampling_time, "must be > 0")
        need(0.0 <= self.commands.standing_fraction <= 1.0, "commands.standing_fraction", self.commands.standing_fraction, "must be in [0, 1]")
        for name in ("lin_vel_x", "lin_vel_y", "ang_vel_yaw"):
            low, high = getattr(self.commands, name)
            need(low <= high, f"commands.{name}", (low, high), "needs low <= high")
        for name in ("friction", "added_base_mass", "motor_strength"):
            low, high = getattr(self.domain_rand, name)
            need(low <= high, f"domain_rand.{name}", (low, high), "needs low <= high")
        need(self.domain_rand.friction[0] >= 0, "domain_rand.friction", self.domain_rand.friction, "must be >= 0")
        need(self.domain_rand.motor_strength[0] > 0, "domain_rand.motor_strength", self.domain_rand.motor_strength, "must be > 0")
        need(self.domain_rand.push_interval >= 0, "domain_rand.push_interval", self.domain_rand.push_interval, "must be >= 0 (0 disables)")
        need(self.terminations.max_tilt > 0, "terminations.max_tilt", self.terminations.max_tilt, "must be > 0 rad")
        need(self.clip_actions > 0, "clip_actions", self.clip_actions, "must be > 0")
        self.robot.validate()
