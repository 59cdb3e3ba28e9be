"""Typed configuration of the legged velocity-tracking env. Every default works; tasks override."""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass, field

from legged_train.envs.legged import legacy
from legged_train.envs.legged.gaits import validate_gait
from legged_train.envs.robot import RobotConfig
from legged_train.envs.sensors.config import DepthCameraConfig
from legged_train.envs.terrain.config import TerrainConfig


SIM_BACKENDS = ("auto", "mjbatch", "warp")


@dataclass
class SimConfig:
    timestep: float = 0.004  # s, physics step
    substeps: int = 5  # physics steps per policy step: 4 ms x 5 = 50 Hz control
    full_body_contacts: bool = False  # True: thighs, calves and trunk collide with the floor too
    num_threads: int = 0  # mjbatch worker threads; 0 = every logical CPU
    # "mjbatch": CPU threads; "warp": MuJoCo Warp on the env's device (the `gpu` extra);
    # "auto": warp when the env's device is CUDA, else mjbatch.
    backend: str = "auto"


@dataclass
class CommandsConfig:
    resampling_time: float = 10.0  # s between new commands
    lin_vel_x: tuple[float, float] = (-1.0, 1.0)  # m/s, forward
    lin_vel_y: tuple[float, float] = (-0.5, 0.5)  # m/s, left
    ang_vel_yaw: tuple[float, float] = (-1.0, 1.0)  # rad/s
    standing_fraction: float = 0.1  # share of commands that are exactly zero: learn to stand still
    # legged_gym's heading commands: instead of a yaw rate, a heading in the world is drawn, and each
    # step the yaw-rate command steers towards it (heading_stiffness x the heading error, within
    # ang_vel_yaw's range). Robots then walk straight once turned, which the terrain-level curriculum's
    # distance rule assumes (under a yaw-rate command a robot walks in circles and never leaves its tile).
    heading_command: bool = False
    heading_stiffness: float = 0.5  # 1/s


@dataclass
class NoiseConfig:
    """The robot's sensor noise: uniform half-widths used by observation terms whose ``noise`` is
    None (the default policy group's; the critic's are clean). ``enabled=False`` makes every group
    of every observation clean, whatever its terms say (and draws no random numbers)."""

    enabled: bool = True
    gyro: float = 0.2  # rad/s
    projected_gravity: float = 0.05
    joint_pos: float = 0.01  # rad
    joint_vel: float = 1.5  # rad/s


# The NoiseConfig field a term with noise=None takes its half-width from: the sensor it reads.
SENSOR_NOISE = {
    "base_ang_vel": "gyro",
    "projected_gravity": "projected_gravity",
    "joint_pos": "joint_pos",
    "joint_pos_abs": "joint_pos",
    "joint_vel": "joint_vel",
}


@dataclass
class ObservationTermConfig:
    """One block of an observation group: a term of ``legged_train.envs.legged.observations`` by name.

    ``noise``: half-width of the uniform noise added to the raw value, in the term's units; 0 is
    clean; None takes the sensor's from ``LeggedEnvConfig.noise`` (see ``SENSOR_NOISE``).
    ``scale``: multiplies the (noisy) value."""

    name: str = ""  # a default only so that a mapping ({name: ..., noise: ...}) can fill it in
    noise: float | None = 0.0
    scale: float = 1.0


@dataclass
class ObservationGroupConfig:
    """An observation group: its terms in order, and how many steps it stacks.

    With ``history_length`` H > 1 the group's vector is its last H one-step vectors, oldest first.
    At an episode's start the history is refilled with the new episode's first observation (H
    copies), so it never mixes two episodes. Terms may be given as names: ``terms=["joint_vel"]``."""

    terms: list[ObservationTermConfig | str] = field(default_factory=list)
    history_length: int = 1

    def __post_init__(self) -> None:
        # Names and mappings (from the command line or config.yaml) become term configs.
        if isinstance(self.terms, (list, tuple)):
            self.terms = [_as_term(term) for term in self.terms]


def default_observations() -> dict[str, ObservationGroupConfig]:
    """``policy``: what the robot measures (noisy), its last action, the command and the gait clock.
    ``critic``: the same, clean, plus privileged state (velocity, contacts, randomized physics)."""
    measured = ["base_ang_vel", "projected_gravity", "joint_pos", "joint_vel"]
    controller = ["last_action", "command", "gait_clock"]
    privileged = [
        "base_lin_vel", "foot_contact_force", "foot_height", "feet_air_time",
        "friction", "added_base_mass", "base_com_offset", "motor_strength", "push_vel",
    ]
    policy = [ObservationTermConfig(name, noise=None) for name in measured] + [ObservationTermConfig(name) for name in controller]
    critic = [ObservationTermConfig(name) for name in measured + controller + privileged]
    return {"policy": ObservationGroupConfig(policy), "critic": ObservationGroupConfig(critic)}


@dataclass
class RewardsConfig:
    """Reward terms of ``legged_train.envs.legged.rewards`` by name: their weights and parameters.

    Weights are per second of simulated time: each term is scaled by the policy dt. A weight of 0
    turns a term off (it is then not even computed); an unknown name is an error that lists the
    known ones. ``params`` holds each term's keyword arguments (``--set
    env.rewards.params.track_lin_vel.sigma=0.3``); a term without an entry uses its function's defaults."""

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
    params: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "track_lin_vel": {"sigma": 0.25},  # (m/s)^2 in the exp() of the error
            "track_ang_vel": {"sigma": 0.25},  # (rad/s)^2
            "feet_air_time": {"target": 0.25},  # s; steps longer than this earn reward (half a 2 Hz trot)
            "joint_pos_limits": {"soft_limit": 0.95},  # fraction of the joint range before it bites
        }
    )
    contact_force_threshold: float = 1.0  # N, a foot (or knee, or the base) touches above this
    only_positive_rewards: bool = True  # clip the step's total at 0: early falls are not a way out

    def __setattr__(self, name, value):  # the old spellings, from Python (LEGACY_FIELDS)
        legacy.set_old_field(self, "rewards", name, value) or super().__setattr__(name, value)


@dataclass
class TerminationConfig:
    """Termination terms of ``legged_train.envs.legged.terminations`` by name -> their keyword
    arguments. Any term that fires ends the episode (``terminated``); the time limit is separate
    (``truncated``). None turns a term off: ``--set env.terminations.terms.base_contact=null``."""

    terms: dict[str, dict[str, float] | None] = field(
        default_factory=lambda: {
            "bad_orientation": {"max_tilt": 1.0},  # rad between the base's up axis and the world's
            "base_too_low": {"min_height": 0.12},  # m
            "base_contact": {},  # the base touching the floor (full-body contacts only)
        }
    )

    def __setattr__(self, name, value):  # the old spellings, from Python (LEGACY_FIELDS)
        legacy.set_old_field(self, "terminations", name, value) or super().__setattr__(name, value)


@dataclass
class CurriculumConfig:
    """Curriculum terms of ``legged_train.envs.legged.curriculum`` by name -> their keyword arguments;
    None is off (all are, by default). ``--set 'env.curriculum.terms.command_range={}'`` turns one on
    with its function's defaults."""

    terms: dict[str, dict[str, float] | None] = field(default_factory=lambda: {"command_range": None, "terrain_levels": None})


@dataclass
class DomainRandConfig:
    """The events of ``legged_train.envs.legged.events``: physics randomization drawn per env at every
    reset (each field below the switch is the parameter of the event of the same name), the initial
    state's noise and pushes on a timer. All seeded."""

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
class HeightScanConfig:
    """The ``height_scan`` observation term's grid (legged_gym's and Isaac Lab's default): points
    every ``spacing`` m over ``size`` = (forward, sideways) m centred on the base, in its yaw frame
    (17 x 11 points by default). Each reads clip(base_z - offset - ground, -clip, +clip) m; the
    group's ``scale`` multiplies it (legged_gym: 5)."""

    size: tuple[float, float] = (1.6, 1.0)  # m, (x, y) extent in the base's yaw frame
    spacing: float = 0.1  # m between points
    offset: float = 0.5  # m, subtracted so that standing on flat ground reads about base height - 0.5
    clip: float = 1.0  # m

    def points(self) -> list[tuple[float, float]]:
        """The grid's (x, y) in the yaw frame, x fastest (row-major over y)."""
        nx, ny = (int(round(extent / self.spacing)) + 1 for extent in self.size)
        xs = [self.spacing * i - self.size[0] / 2 for i in range(nx)]
        ys = [self.spacing * j - self.size[1] / 2 for j in range(ny)]
        return [(x, y) for y in ys for x in xs]


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
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    clip_actions: float = 100.0
    # The ground: "plane" (the default, a flat floor at z = 0), or a generated / file heightfield
    # (envs/terrain/). All envs share one terrain and start on its tiles' centres.
    terrain: TerrainConfig = field(default_factory=TerrainConfig)
    height_scan: HeightScanConfig = field(default_factory=HeightScanConfig)
    # A depth camera on every robot (envs/sensors/depth_camera.py), off by default; groups read it
    # through the `depth_image` term.
    depth_camera: DepthCameraConfig = field(default_factory=DepthCameraConfig)
    # Observation groups by name, each an ordered list of terms of envs/legged/observations.py. `policy` is
    # what the actor sees (required); `critic` (optional) is the privileged group of an asymmetric
    # critic; a task may add others (teacher, student, amp...). See default_observations().
    observations: dict[str, ObservationGroupConfig] = field(default_factory=default_observations)
    # A 2 Hz gait clock (sin, cos of its phase) in the policy observations. With the gait_phase
    # reward it is what makes a walk appear in ~100 PPO iterations instead of a long stand-still
    # plateau (measured on go1_flat; needs no sensor a real robot lacks: it is the controller's clock).
    # False drops the gait_clock term from every observation group.
    gait_clock: bool = True
    # Which feet step together on that clock (the gait_phase reward): a named gait (four feet: trot,
    # pace, bound, pronk, walk; two feet: alternating), matched to the feet by where they stand, or
    # one phase offset in [0, 1) per foot in robot.foot_names order. See envs/legged/gaits.py.
    gait: str | list[float] = "trot"
    # Hz, of the gait clock (observation and gait_phase reward): 2 for a Go1-sized trot; a humanoid
    # steps slower (unitree_rl_gym's G1: a 0.8 s cycle, 1.25 Hz).
    gait_frequency: float = 2.0

    def validate(self) -> None:
        """Raise ValueError naming the field, its value and what is allowed, for the first bad value."""

        def need(ok: bool, name: str, value, allowed: str) -> None:
            if not ok:
                raise ValueError(f"LeggedEnvConfig.{name}={value!r}: {allowed}")

        def number(name: str, low: float, allowed: str, strict: bool = False, integer: bool = False) -> None:
            value = _get(self, name)
            ok = _is_number(value) and (isinstance(value, numbers.Integral) or not integer)
            need(ok and (value > low if strict else value >= low), name, value, allowed)

        def pair(name: str) -> tuple[float, float]:
            value = _get(self, name)
            # Checked before unpacking: a 1- or 3-element list would otherwise fail with Python's own
            # "not enough values to unpack", which names neither the field nor the value.
            ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(x) for x in value)
            need(ok, name, value, "must be a (low, high) pair with low <= high")
            need(value[0] <= value[1], name, value, "needs low <= high; must be a (low, high) pair with low <= high")
            return value

        number("num_envs", 1, "must be an int >= 1", integer=True)
        need(isinstance(self.seed, numbers.Integral) and not isinstance(self.seed, bool), "seed", self.seed, "must be an int")
        number("episode_length_s", 0, "must be > 0", strict=True)
        number("clip_actions", 0, "must be > 0", strict=True)
        number("sim.timestep", 0, "must be > 0", strict=True)
        number("sim.substeps", 1, "must be an int >= 1", integer=True)
        number("sim.num_threads", 0, "must be an int >= 0 (0 = every logical CPU)", integer=True)
        need(self.sim.backend in SIM_BACKENDS, "sim.backend", self.sim.backend, f"must be one of {', '.join(SIM_BACKENDS)}")
        number("commands.resampling_time", 0, "must be > 0", strict=True)
        value = self.commands.standing_fraction
        need(_is_number(value) and 0.0 <= value <= 1.0, "commands.standing_fraction", value, "must be in [0, 1]")
        need(isinstance(self.commands.heading_command, bool), "commands.heading_command", self.commands.heading_command, "must be true or false")
        number("commands.heading_stiffness", 0, "must be > 0 (1/s)", strict=True)
        for name in ("lin_vel_x", "lin_vel_y", "ang_vel_yaw"):
            pair(f"commands.{name}")
        for name in ("gyro", "projected_gravity", "joint_pos", "joint_vel"):
            number(f"noise.{name}", 0, "must be >= 0")
        number("rewards.contact_force_threshold", 0, "must be >= 0 (N)")
        self._validate_terms(need)
        friction, _ = pair("domain_rand.friction")
        need(friction >= 0, "domain_rand.friction", self.domain_rand.friction, "low must be >= 0")
        pair("domain_rand.added_base_mass")
        strength, _ = pair("domain_rand.motor_strength")
        need(strength > 0, "domain_rand.motor_strength", self.domain_rand.motor_strength, "low must be > 0")
        for name in ("base_com_offset", "push_max_vel", "init_joint_pos_noise", "init_base_vel_noise"):
            number(f"domain_rand.{name}", 0, "must be >= 0")
        number("domain_rand.push_interval", 0, "must be >= 0 (0 disables)")
        need(isinstance(self.depth_camera, DepthCameraConfig), "depth_camera", self.depth_camera, "must be a DepthCameraConfig")
        try:
            self.depth_camera.validate()
        except ValueError as error:  # its message names "DepthCameraConfig.<field>": name it from here
            raise ValueError(f"LeggedEnvConfig.depth_camera.{str(error).removeprefix('DepthCameraConfig.')}") from None
        self._validate_observations(need)
        self._validate_terrain(need)
        self.robot.validate()
        number("gait_frequency", 0, "must be a number > 0 (Hz)", strict=True)
        validate_gait(self.gait, len(self.robot.foot_names))  # after the robot: its feet are a list

    def _validate_terrain(self, need) -> None:
        need(isinstance(self.terrain, TerrainConfig), "terrain", self.terrain, "must be a TerrainConfig")
        try:
            self.terrain.validate()
        except ValueError as error:  # its message names "TerrainConfig.<field>": name it from here
            raise ValueError(f"LeggedEnvConfig.terrain.{str(error).removeprefix('TerrainConfig.')}") from None
        scan = self.height_scan
        ok = isinstance(scan.size, (list, tuple)) and len(scan.size) == 2 and all(_is_number(v) and v >= 0 for v in scan.size)
        need(ok, "height_scan.size", scan.size, "must be a pair of finite numbers >= 0 (m)")
        need(_is_number(scan.spacing) and scan.spacing > 0, "height_scan.spacing", scan.spacing, "must be > 0 (m)")
        need(_is_number(scan.offset), "height_scan.offset", scan.offset, "must be a finite number (m)")
        need(_is_number(scan.clip) and scan.clip > 0, "height_scan.clip", scan.clip, "must be > 0 (m)")
        if self.terrain.kind != "plane":
            # A scan reaching past the tile it starts on would read the neighbouring tile's terrain as
            # this one's (and past the border at the edge): refused rather than silently mixed.
            need(max(scan.size) <= self.terrain.tile_size, "height_scan.size", scan.size,
                 f"is wider than a terrain tile (terrain.tile_size={self.terrain.tile_size} m): shrink the scan or enlarge the tiles")
        terrain_curriculum = self.curriculum.terms.get("terrain_levels") is not None
        need(not terrain_curriculum or self.terrain.kind != "plane", "curriculum.terms.terrain_levels",
             self.curriculum.terms.get("terrain_levels"), "needs a terrain (terrain.kind generated or file), or None (off)")
        # Envs are spread over the tile columns (one sub-terrain type each); with fewer envs than
        # columns, some types would never be trained, and their level logs would be empty means.
        need(not terrain_curriculum or self.num_envs >= self.terrain.num_cols, "num_envs", self.num_envs,
             f"is fewer than the terrain's tile columns (terrain.num_cols={self.terrain.num_cols}) with the terrain_levels "
             "curriculum on: a column without a robot is a sub-terrain type never trained; raise num_envs or lower terrain.num_cols")

    def _validate_terms(self, need) -> None:
        """Reward weights, and every term's parameters, against the term functions' signatures."""
        # Here, not at the top: the config needs no torch.
        from legged_train.envs.legged.curriculum import CURRICULUM_TERMS, NEEDS_REWARDS
        from legged_train.envs.legged.rewards import REWARD_TERMS
        from legged_train.envs.legged.terminations import TERMINATION_TERMS

        weights = self.rewards.weights
        need(isinstance(weights, dict), "rewards.weights", weights, "must map reward term names to weights")
        unknown = sorted(set(weights) - set(REWARD_TERMS))
        if unknown:
            raise ValueError(f"LeggedEnvConfig.rewards.weights names unknown terms {unknown}; known terms: {sorted(REWARD_TERMS)}")
        for name, weight in weights.items():
            need(_is_number(weight), f"rewards.weights.{name}", weight, "must be a finite number (0 turns the term off)")
        for path, terms, known in (("rewards.params", self.rewards.params, REWARD_TERMS),
                                   ("terminations.terms", self.terminations.terms, TERMINATION_TERMS),
                                   ("curriculum.terms", self.curriculum.terms, CURRICULUM_TERMS)):
            need(isinstance(terms, dict), path, terms, "must map term names to their parameters")
            for name, params in terms.items():
                need(name in known, f"{path}.{name}", params, f"unknown term; known terms: {sorted(known)}")
                if params is None and path != "rewards.params":
                    continue  # off
                need(isinstance(params, dict), f"{path}.{name}", params,
                     "must be a mapping of the term's parameters ({} for its defaults)" + (", or None (off)" if path != "rewards.params" else ""))
                allowed = term_parameters(known[name])
                for key, value in params.items():
                    need(key in allowed, f"{path}.{name}.{key}", value, f"unknown parameter of {name}; it takes {allowed or 'none'}")
                    check, rule = PARAM_BOUNDS.get(key, (lambda v: True, ""))
                    need(_is_number(value) and check(value), f"{path}.{name}.{key}", value, f"must be a finite number{rule}")
        for name, params in self.curriculum.terms.items():
            missing = [r for r in NEEDS_REWARDS.get(name, ()) if params is not None and not weights.get(r)]
            need(not missing, f"curriculum.terms.{name}", params,
                 f"needs the reward terms {missing} (a non-zero weight in rewards.weights), or None (off)")

    def _validate_observations(self, need) -> None:
        from legged_train.envs.legged.observations import OBSERVATION_TERMS  # here, not at the top: the config needs no torch

        groups = self.observations
        need(isinstance(groups, dict), "observations", groups, "must map group names to ObservationGroupConfig")
        need("policy" in groups, "observations", sorted(groups), "needs a 'policy' group (what the actor sees)")
        for name in list(groups):
            path = f"observations.{name}"
            need(isinstance(name, str) and name.isidentifier(), "observations", name,
                 "group names must be identifiers (letters, digits, _), as they appear in dotted config paths")
            group = groups[name] = _as_group(groups[name])  # mappings and lists from the command line
            need(isinstance(group, ObservationGroupConfig), path, group,
                 "must be an ObservationGroupConfig(terms=[...], history_length=1), a mapping of its fields or a list of terms")
            history = group.history_length
            need(isinstance(history, numbers.Integral) and not isinstance(history, bool) and history >= 1,
                 f"{path}.history_length", history, "must be an int >= 1 (1 = no history)")
            need(isinstance(group.terms, list) and len(group.terms) > 0, f"{path}.terms", group.terms, "must be a non-empty list of terms")
            seen = set()
            for i, term in enumerate(group.terms):
                where = f"{path}.terms[{i}]"
                need(isinstance(term, ObservationTermConfig), where, term,
                     "must be an ObservationTermConfig(name, noise, scale) or a term name")
                need(isinstance(term.name, str) and term.name in OBSERVATION_TERMS, f"{where}.name", term.name,
                     f"unknown observation term; known terms: {sorted(OBSERVATION_TERMS)}")
                need(term.name not in seen, f"{where}.name", term.name, f"appears twice in group {name!r}")
                seen.add(term.name)
                if term.noise is None:
                    need(term.name in SENSOR_NOISE, f"{where}.noise", None,
                         f"None (the sensor's noise from LeggedEnvConfig.noise) exists only for {sorted(SENSOR_NOISE)}; give a half-width")
                else:
                    need(_is_number(term.noise) and term.noise >= 0, f"{where}.noise", term.noise,
                         "must be >= 0 (a uniform half-width) or None")
                need(_is_number(term.scale), f"{where}.scale", term.scale, "must be a finite number")
                need(term.name != "depth_image" or self.depth_camera.enabled, f"{where}.name", term.name,
                     "needs the depth camera: set LeggedEnvConfig.depth_camera.enabled=true")
                need(term.name != "depth_image" or term.noise == 0.0, f"{where}.noise", term.noise,
                     "must be 0 for an image term: the camera's own model adds its noise (depth_camera.noise)")

    @staticmethod
    def upgrade_overrides(overrides: dict) -> dict:
        """``{dotted path: value}`` with the old spellings replaced by the new fields (see ``legacy``)."""
        return legacy.upgrade_overrides(overrides)

    def term_noise(self, term: ObservationTermConfig) -> float:
        """The half-width of a term's noise: its own, or its sensor's (``noise.<field>``) when None.
        ``noise.enabled`` is not applied here: the env reads it at every step."""
        return float(getattr(self.noise, SENSOR_NOISE[term.name]) if term.noise is None else term.noise)


# Bounds of term parameters, by parameter name (every parameter must be a finite number).
PARAM_BOUNDS = {
    "sigma": (lambda v: v > 0, " > 0"),
    "target": (lambda v: v >= 0, " >= 0"),
    "soft_limit": (lambda v: 0 < v <= 1, " in (0, 1]"),
    "max_tilt": (lambda v: v > 0, " > 0 (rad)"),
    "min_height": (lambda v: v >= 0, " >= 0 (m)"),
    "swing_height": (lambda v: v > 0, " > 0 (m)"),
    "step": (lambda v: v >= 0, " >= 0"),
    "max_lin_vel_x": (lambda v: v > 0, " > 0 (m/s)"),
}


def term_parameters(function) -> list[str]:
    """The keyword parameters of a term function: those after the env (and env_ids)."""
    skip = ("env", "state", "env_ids")
    return [name for name in inspect.signature(function).parameters if name not in skip]


def _as_term(value):
    """A term config from a name or a mapping of its fields; anything else as it is (validate names it)."""
    if isinstance(value, str):
        return ObservationTermConfig(value)
    if isinstance(value, dict) and set(value) <= {"name", "noise", "scale"}:
        return ObservationTermConfig(**value)
    return value


def _as_group(value):
    """A group config from a mapping of its fields or a list of terms; anything else as it is."""
    if isinstance(value, dict) and set(value) <= {"terms", "history_length"}:
        return ObservationGroupConfig(**value)
    if isinstance(value, (list, tuple)):
        return ObservationGroupConfig(terms=list(value))
    return value


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg
