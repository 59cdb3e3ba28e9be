"""Reference motions made by the project: a gait's foot trajectories turned into joint angles.

No quadruped motion capture can be downloaded at run time, and the public dog clips are licensed
non-commercially, so AMP's references are designed here:

1. The base moves at a constant velocity command (forward, lateral, yaw rate) at a constant height.
   In a pace it also sways sideways over the pair of feet on the ground (see ``pace_sway``): with
   both supporting feet on one side, a base held on the centre line would fall towards the other.
2. Each foot follows the gait's contact schedule (trot: diagonal pairs together; pace: lateral
   pairs; bound: front pair, then rear pair), a cycle of ``period`` seconds of which it spends
   ``duty`` on the ground. A stance foot stays where it touched down: the point under its hip's
   neutral position at mid-stance. A swing foot travels on a cycloid from lift-off to the next
   touch-down (zero velocity at both ends), ``swing_height`` above the floor at mid-swing.
3. Inverse kinematics, numerically for any robot a ``RobotConfig`` describes: damped least squares
   on MuJoCo's foot Jacobians, leg by leg, warm-started from the previous frame, within the joint
   limits; the result is checked by forward kinematics to 1 mm.

Which foot is front/rear and left/right is read off the standing pose (foot positions in the base
frame), so the gaits do not depend on the feet's names or order.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from legged_train.envs.legged.gaits import FOUR_FEET
from legged_train.envs.robot import RobotConfig, build_model
from legged_train.envs.robot_pose import feet_on_floor
from legged_train.motions.clip import MotionClip, yaw_quat

GAITS = ("trot", "pace", "bound")
IK_TOLERANCE = 1e-5  # m: what the solver aims for; the clip is checked against FK_CHECK
FK_CHECK = 1e-3  # m: "the feet follow the designed trajectories within 1 mm"


@dataclasses.dataclass
class GaitSpec:
    gait: str = "trot"
    speed: float = 0.5  # m/s forward (base frame heading)
    lateral_speed: float = 0.0  # m/s to the left
    yaw_rate: float = 0.0  # rad/s
    period: float = 0.5  # s per gait cycle (2 Hz, the env's gait clock)
    duty: float = 0.5  # share of the cycle a foot is on the ground
    swing_height: float = 0.08  # m above the floor at mid-swing
    base_height: float | None = None  # m; None: the robot's standing height
    # m, amplitude of the base's side-to-side sway; None: the gait's own (pace: pace_sway, else 0)
    lateral_sway: float | None = None
    # m, each foot's distance from the base's centre line; None: the robot's standing stance
    stance_half_width: float | None = None
    duration: float = 4.0  # s
    fps: float = 50.0

    def validate(self) -> None:
        if self.gait not in GAITS:
            raise ValueError(f"gait={self.gait!r}: unknown gait; known gaits: {', '.join(GAITS)}")
        for name in ("period", "swing_height", "duration", "fps"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name}={value!r}: must be > 0")
        if self.lateral_sway is not None and not (isinstance(self.lateral_sway, (int, float)) and self.lateral_sway >= 0):
            raise ValueError(f"lateral_sway={self.lateral_sway!r}: must be >= 0 (m), or None for the gait's own")
        if self.stance_half_width is not None and not (isinstance(self.stance_half_width, (int, float)) and self.stance_half_width > 0):
            raise ValueError(f"stance_half_width={self.stance_half_width!r}: must be > 0 (m), or None for the standing stance")
        if not 0.0 < self.duty < 1.0:
            raise ValueError(f"duty={self.duty!r}: must be in (0, 1)")
        if self.duration * self.fps < 1.0:
            raise ValueError(f"duration={self.duration} s at fps={self.fps} makes fewer than two frames")


def phase_offsets(gait: str, foot_front: np.ndarray, foot_left: np.ndarray) -> np.ndarray:
    """Each foot's phase offset in the cycle (0 or 0.5) for a gait, from which side it is on: the
    env's gait tables (``legged_train.envs.legged.gaits``), so a clip steps as the gait clock does."""
    if gait not in GAITS:
        raise ValueError(f"gait={gait!r}: unknown gait; known gaits: {', '.join(GAITS)}")
    table = FOUR_FEET[gait]
    return np.array([table[("F" if front else "R") + ("L" if left else "R")] for front, left in zip(foot_front, foot_left)])


def base_trajectory(spec: GaitSpec, times: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray]:
    """World position (T, 3) and yaw (T,) of a base holding the velocity command from the origin."""
    vx, vy, w = spec.speed, spec.lateral_speed, spec.yaw_rate
    if abs(w) < 1e-9:
        x, y = vx * times, vy * times
    else:  # the command is in the turning heading frame: integrate it in closed form
        s, c = np.sin(w * times), np.cos(w * times)
        x = (vx * s + vy * (c - 1.0)) / w
        y = (vx * (1.0 - c) + vy * s) / w
    return np.stack((x, y, np.full_like(times, height)), axis=1), w * times


def pace_sway(period: float, height: float, half_width: float, gravity: float) -> float:
    """Sway amplitude (m) that balances a pace, by the linear inverted pendulum.

    Sideways, the base is a pendulum of height ``height`` on the line of the stance feet, which
    jumps between y = +half_width and -half_width every half cycle: y'' = (g/h) (y - support(t)),
    g = ``gravity`` (the model's, m/s^2). Keeping only the square wave's fundamental (amplitude
    4/pi half_width) and a sway y = A cos(wt) in phase with it gives
    -A w^2 = (g/h) (A - 4/pi half_width). For Go1 at 2 Hz that is about 3.5 cm, a side-to-side
    speed of up to about 0.45 m/s: without it the reference shows a level, centred base that the
    robot cannot hold on two feet of one side.
    """
    stiffness = gravity / height
    omega = 2.0 * np.pi / period
    return stiffness * 4.0 / np.pi * half_width / (omega**2 + stiffness)


def sway_offset(spec: GaitSpec, times: np.ndarray, amplitude: float, left_offset: float) -> np.ndarray:
    """World offset (T, 3) of the swaying base: ``amplitude`` towards the left feet at their
    mid-stance, towards the right feet half a cycle later, along the heading's left axis."""
    phase = times / spec.period + left_offset - 0.5 * spec.duty  # an integer at the left feet's mid-stance
    lateral = amplitude * np.cos(2.0 * np.pi * phase)
    yaw = spec.yaw_rate * times
    return np.stack((-np.sin(yaw) * lateral, np.cos(yaw) * lateral, np.zeros_like(times)), axis=1)


def foot_targets(spec: GaitSpec, times: np.ndarray, neutral: np.ndarray, offsets: np.ndarray, height: float,
                 foot_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, F, 3) of the feet's centres, and contact flags (T, F)."""
    cycle = spec.period
    stance = spec.duty * cycle
    swing = cycle - stance
    targets = np.zeros((len(times), len(neutral), 3))
    contact = np.zeros((len(times), len(neutral)), dtype=bool)

    def touchdown_point(foot: int, k: np.ndarray) -> np.ndarray:
        # Stance k of a foot spans [(k - offset) T, (k - offset) T + stance]: its foot rests under
        # the neutral point of the base's pose at mid-stance.
        mid = (k - offsets[foot]) * cycle + 0.5 * stance
        pos, yaw = base_trajectory(spec, mid, height)
        c, s = np.cos(yaw), np.sin(yaw)
        x, y = neutral[foot, 0], neutral[foot, 1]
        return np.stack((pos[:, 0] + c * x - s * y, pos[:, 1] + s * x + c * y, np.full_like(mid, foot_radius)), axis=1)

    for foot in range(len(neutral)):
        shifted = times / cycle + offsets[foot]  # cycles since the foot's first stance began
        k = np.floor(shifted)
        in_cycle = (shifted - k) * cycle  # s since this cycle's stance began
        on_ground = in_cycle < stance
        here = touchdown_point(foot, k)
        after = touchdown_point(foot, k + 1)
        u = np.clip((in_cycle - stance) / swing, 0.0, 1.0)[:, None]
        along = u - np.sin(2.0 * np.pi * u) / (2.0 * np.pi)  # cycloid: starts and ends at rest
        swinging = here + (after - here) * along
        swinging[:, 2] = foot_radius + spec.swing_height * 0.5 * (1.0 - np.cos(2.0 * np.pi * u[:, 0]))
        targets[:, foot] = np.where(on_ground[:, None], here, swinging)
        contact[:, foot] = on_ground
    return targets, contact


class LegIK:
    """Damped least-squares inverse kinematics of each foot on the joints of its own leg."""

    def __init__(self, model: mujoco.MjModel, robot: RobotConfig):
        self.model, self.robot = model, robot
        self.data = mujoco.MjData(model)
        self.site_ids = [model.site(f).id for f in robot.foot_names]
        joints = [model.joint(j) for j in robot.joint_names]
        self.joint_qpos = np.array([j.qposadr[0] for j in joints])
        self.joint_dof = np.array([j.dofadr[0] for j in joints])
        self.lower = np.array([j.range[0] for j in joints])
        self.upper = np.array([j.range[1] for j in joints])
        # A foot's leg: the robot joints on the path from the foot's body up to the base.
        self.leg_columns = []
        for site in self.site_ids:
            body, chain = model.site_bodyid[site], set()
            while body > 0:
                for j in range(model.body_jntadr[body], model.body_jntadr[body] + model.body_jntnum[body]):
                    chain.add(j)
                body = model.body_parentid[body]
            columns = [i for i, j in enumerate(joints) if j.id in chain]
            if not columns:
                raise ValueError(f"foot {model.site(site).name!r} has no robot joint between it and the base")
            self.leg_columns.append(np.array(columns))
        self.jacobian = np.zeros((3, model.nv))

    def solve(self, root_pos: np.ndarray, root_quat: np.ndarray, feet: np.ndarray, guess: np.ndarray,
              damping: float = 1e-3, iterations: int = 100) -> tuple[np.ndarray, float]:
        """Joint angles putting the feet at ``feet`` (F, 3, world) for the given base pose; and the
        largest remaining foot error (m)."""
        d, q = self.data, guess.copy()
        d.qpos[:3], d.qpos[3:7] = root_pos, root_quat
        error = np.inf
        for _ in range(iterations):
            d.qpos[self.joint_qpos] = q
            mujoco.mj_kinematics(self.model, d)
            mujoco.mj_comPos(self.model, d)
            residuals = feet - d.site_xpos[self.site_ids]
            error = float(np.abs(residuals).max())
            if error < IK_TOLERANCE:
                break
            for site, columns, residual in zip(self.site_ids, self.leg_columns, residuals):
                mujoco.mj_jacSite(self.model, d, self.jacobian, None, site)
                jac = self.jacobian[:, self.joint_dof[columns]]
                step = jac.T @ np.linalg.solve(jac @ jac.T + damping * np.eye(3), residual)
                q[columns] = np.clip(q[columns] + step, self.lower[columns], self.upper[columns])
        return q, error


def generate_gait_clip(robot: RobotConfig, spec: GaitSpec, timestep: float = 0.004) -> MotionClip:
    """A clip of ``robot`` walking with ``spec``'s gait and velocity command (see the module doc)."""
    spec.validate()
    if len(robot.foot_names) != 4:  # its gaits and the pace's sway are four-foot gaits
        raise ValueError(f"generate_gait_clip: RobotConfig.foot_names={list(robot.foot_names)!r} has {len(robot.foot_names)} feet; "
                         f"the gait generator makes four-foot gaits only ({', '.join(GAITS)})")
    robot = dataclasses.replace(robot, check_standing=False)
    model = build_model(robot, timestep, full_body_contacts=False)  # fills the copy's None fields (standing pose)
    data = mujoco.MjData(model)
    feet_on_floor(model, data, robot, 1.0)
    standing_height = float(data.qpos[2])
    height = standing_height if spec.base_height is None else spec.base_height
    site_ids = [model.site(f).id for f in robot.foot_names]
    # Neutral foot points: under the standing feet, in the base frame (x forward, y left).
    neutral = data.site_xpos[site_ids] - data.qpos[:3]
    if spec.stance_half_width is not None:
        neutral[:, 1] = np.sign(neutral[:, 1]) * spec.stance_half_width
    offsets = phase_offsets(spec.gait, neutral[:, 0] > 0.0, neutral[:, 1] > 0.0)

    sway = spec.lateral_sway
    if sway is None:
        half_width, gravity = float(np.abs(neutral[:, 1]).mean()), -float(model.opt.gravity[2])
        sway = pace_sway(spec.period, height, half_width, gravity) if spec.gait == "pace" else 0.0

    times = np.arange(round(spec.duration * spec.fps) + 1) / spec.fps
    root_pos, yaw = base_trajectory(spec, times, height)
    # The feet step on the unswayed path (foot_targets): the base moves over them.
    root_pos = root_pos + sway_offset(spec, times, sway, float(offsets[neutral[:, 1] > 0.0].mean()))
    root_quat = yaw_quat(yaw)
    feet, contact = foot_targets(spec, times, neutral, offsets, height, robot.foot_radius)

    ik = LegIK(model, robot)
    joint_pos = np.zeros((len(times), len(robot.joint_names)))
    guess = np.asarray(robot.default_joint_pos, dtype=np.float64)
    for i in range(len(times)):
        guess, error = ik.solve(root_pos[i], root_quat[i], feet[i], guess)
        if error > FK_CHECK:
            raise ValueError(
                f"inverse kinematics: at t={times[i]:.2f} s a foot stays {error * 1000:.1f} mm from its target "
                f"(gait {spec.gait}, speed {spec.speed} m/s): the stride or swing height is beyond the legs' reach"
            )
        joint_pos[i] = guess
    meta = {**dataclasses.asdict(spec), "base_height": height, "lateral_sway": sway, "robot": robot.mjcf_path,
            "foot_names": list(robot.foot_names), "phase_offsets": offsets.tolist()}
    return MotionClip(fps=spec.fps, joint_names=list(robot.joint_names), root_pos=root_pos, root_quat=root_quat,
                      joint_pos=joint_pos, name=f"{spec.gait}_{spec.speed:g}", meta=meta)


def forward_feet(robot: RobotConfig, clip: MotionClip, timestep: float = 0.004) -> np.ndarray:
    """World positions (T, F, 3) of the feet along a clip, by MuJoCo forward kinematics."""
    model = build_model(dataclasses.replace(robot, check_standing=False), timestep, full_body_contacts=False)
    clip = clip.with_joint_order(list(robot.joint_names))
    data = mujoco.MjData(model)
    qpos_ids = [model.joint(j).qposadr[0] for j in robot.joint_names]
    site_ids = [model.site(f).id for f in robot.foot_names]
    feet = np.zeros((clip.num_frames, len(site_ids), 3))
    for i in range(clip.num_frames):
        data.qpos[:3], data.qpos[3:7], data.qpos[qpos_ids] = clip.root_pos[i], clip.root_quat[i], clip.joint_pos[i]
        mujoco.mj_kinematics(model, data)
        feet[i] = data.site_xpos[site_ids]
    return feet


def gait_agreement(contact: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    """Share of frames in which each pair of feet is in the same contact state (averaged over pairs);
    NaN for no pairs (a robot without such feet)."""
    if not pairs:
        return float("nan")
    return float(np.mean([np.mean(contact[:, a] == contact[:, b]) for a, b in pairs]))


def foot_pairs(robot_neutral_front: np.ndarray, robot_neutral_left: np.ndarray) -> dict[str, list[tuple[int, int]]]:
    """Index pairs of feet, from which side each foot is on, for any number of feet: ``diagonal``
    (other end, other side), ``lateral`` (other end, same side) and ``transverse`` (same end, other
    side: a biped's two feet). A quadruped's diagonal pairs are (FR, RL) and (FL, RR)."""
    front, left = np.asarray(robot_neutral_front, bool), np.asarray(robot_neutral_left, bool)
    pairs: dict[str, list[tuple[int, int]]] = {"diagonal": [], "lateral": [], "transverse": []}
    for a in range(len(front)):
        for b in range(a + 1, len(front)):
            if front[a] != front[b]:
                pairs["diagonal" if left[a] != left[b] else "lateral"].append((a, b))
            elif left[a] != left[b]:
                pairs["transverse"].append((a, b))
    return pairs
