"""Gait tables: each foot's phase offset in the gait cycle, for the gait clock and the ``gait_phase``
reward (``LeggedEnvConfig.gait``).

A foot is meant to be on the ground while ``sin(2 pi (phase + offset)) < 0``: half of each cycle,
feet of equal offset together, feet half a cycle apart in turn (as MuJoCo Playground's ``gait.py``).

A named gait says which feet step together by where the feet are, not by their names or order: the
feet's places in the standing pose (front or rear, left or right of their centre) pick each foot's
offset from the table below. A list of numbers is a table of the user's own, one offset in [0, 1)
per foot in ``robot.foot_names`` order.
"""

from __future__ import annotations

import numbers

import mujoco
import numpy as np

from legged_train.envs.robot_pose import feet_on_floor

# Offsets by the foot's place: F/R = front/rear, L/R = left/right. The front-right foot is at 0 in
# every four-foot gait, so a trot keeps the offsets the env always had (FR and RL 0, FL and RR 0.5).
FOUR_FEET = {
    "trot": {"FR": 0.0, "FL": 0.5, "RR": 0.5, "RL": 0.0},  # diagonal pairs together
    "pace": {"FR": 0.0, "FL": 0.5, "RR": 0.0, "RL": 0.5},  # the feet of one side together
    "bound": {"FR": 0.0, "FL": 0.0, "RR": 0.5, "RL": 0.5},  # front pair, then rear pair
    "pronk": {"FR": 0.0, "FL": 0.0, "RR": 0.0, "RL": 0.0},  # all four together
    # A quarter cycle apart, touching down in the order RL, FL, RR, FR: the lateral-sequence walk.
    "walk": {"FR": 0.0, "FL": 0.5, "RR": 0.25, "RL": 0.75},
}
TWO_FEET = {"alternating": {"R": 0.0, "L": 0.5}}
NAMED_GAITS = {4: FOUR_FEET, 2: TWO_FEET}


def allowed(num_feet: int) -> str:
    """What ``gait`` may be for a robot with ``num_feet`` feet, for error messages."""
    names = ", ".join(NAMED_GAITS.get(num_feet, {}))
    table = f"a list of {num_feet} phase offsets in [0, 1), one per foot in robot.foot_names order"
    return f"{names}, or {table}" if names else table


def validate_gait(gait, num_feet: int) -> None:
    """Raise ValueError naming ``LeggedEnvConfig.gait``, the value and what is allowed."""
    if isinstance(gait, str):
        if gait in NAMED_GAITS.get(num_feet, {}):
            return
        feet = [n for n, table in NAMED_GAITS.items() if gait in table]
        why = f"a gait for {feet[0]} feet, and robot.foot_names has {num_feet}" if feet else "unknown gait"
        raise ValueError(f"LeggedEnvConfig.gait={gait!r}: {why}; for {num_feet} feet it must be {allowed(num_feet)}")
    if not isinstance(gait, (list, tuple)):
        raise ValueError(f"LeggedEnvConfig.gait={gait!r}: must be {allowed(num_feet)}")
    if len(gait) != num_feet:
        raise ValueError(f"LeggedEnvConfig.gait={list(gait)!r} has {len(gait)} offsets; robot.foot_names has {num_feet} feet: "
                         f"it must be {allowed(num_feet)}")
    for i, x in enumerate(gait):
        ok = isinstance(x, numbers.Real) and not isinstance(x, bool) and 0.0 <= x < 1.0
        if not ok:
            raise ValueError(f"LeggedEnvConfig.gait[{i}]={x!r}: a phase offset must be a number in [0, 1) (a share of the cycle)")


def phase_offsets(gait, foot_xy: np.ndarray) -> np.ndarray:
    """Each foot's offset (F,) for ``gait`` (validated), given the feet's (x forward, y left)
    positions (F, 2) in the base frame in the standing pose."""
    if not isinstance(gait, str):
        return np.asarray(gait, dtype=np.float64)
    xy = np.asarray(foot_xy, dtype=np.float64)
    centre = xy.mean(axis=0)  # of the feet, not the base: a base off the feet's centre does not matter
    left = xy[:, 1] > centre[1]
    if len(xy) == 2:
        places = ["L" if is_left else "R" for is_left in left]
    else:
        front = xy[:, 0] > centre[0]
        places = [("F" if f else "R") + ("L" if lft else "R") for f, lft in zip(front, left)]
    table = NAMED_GAITS[len(xy)][gait]
    if sorted(places) != sorted(table):
        raise ValueError(f"LeggedEnvConfig.gait={gait!r}: the feet's places in the standing pose are {places}, not one "
                         f"foot at each of {sorted(table)}; give a list of {len(xy)} phase offsets instead")
    return np.array([table[place] for place in places])


def standing_foot_xy(model: mujoco.MjModel, robot) -> np.ndarray:
    """The feet's (x forward, y left) positions (F, 2) in the base frame, the robot upright in its
    default pose (``robot``: a RobotConfig that ``build_model`` resolved)."""
    data = mujoco.MjData(model)
    feet_on_floor(model, data, robot, robot.base_init_height)  # upright: the world axes are the base's
    sites = [model.site(foot).id for foot in robot.foot_names]
    return data.site_xpos[sites, :2] - data.qpos[:2]


def gait_pairs(offsets) -> dict[str, list[tuple[int, int]]]:
    """Pairs of feet (indices) that a gait table puts together (equal offsets) and in turn (half a
    cycle apart): what the contact-agreement measures compare, for any number of feet."""
    offsets = list(offsets)
    pairs: dict[str, list[tuple[int, int]]] = {"together": [], "in_turn": []}
    for a in range(len(offsets)):
        for b in range(a + 1, len(offsets)):
            gap = (offsets[a] - offsets[b]) % 1.0
            if min(gap, 1.0 - gap) < 1e-6:
                pairs["together"].append((a, b))
            elif abs(gap - 0.5) < 1e-6:
                pairs["in_turn"].append((a, b))
    return pairs


def gait_agreement(contact: np.ndarray, offsets) -> float:
    """How well contacts (T, F) follow a gait table: the share of steps in which feet meant to be
    together share their contact state and feet meant to step in turn do not, averaged over those
    pairs (1: the gait exactly; about 0.5: unrelated to it). NaN when the table has no such pair."""
    contact = np.asarray(contact, dtype=bool)
    pairs = gait_pairs(offsets)
    scores = [np.mean(contact[:, a] == contact[:, b]) for a, b in pairs["together"]]
    scores += [np.mean(contact[:, a] != contact[:, b]) for a, b in pairs["in_turn"]]
    return float(np.mean(scores)) if scores else float("nan")
