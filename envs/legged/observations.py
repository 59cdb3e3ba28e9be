"""Observation terms and groups of the legged env.

A term is a named, plain function of a *state*: any object with the named attributes it reads,
returning one row per env, ``(N, width)`` float32. The env is such a state (it computes the
attributes once per step in ``_update_state``), and so can be a frame of reference motion, which is
why no term reaches into the simulator: the same functions give a demonstration's observations.

Attributes read (all tensors over N envs, float32 unless said; "base frame" = the trunk's frame):

====================  =====================================================================
``base_pos``          (N, 3) world position of the base (m)
``base_quat``         (N, 4) world orientation of the base, (w, x, y, z)
``base_lin_vel``      (N, 3) base linear velocity in the base frame (m/s)
``base_ang_vel``      (N, 3) base angular velocity in the base frame (rad/s), the gyro
``projected_gravity`` (N, 3) unit gravity direction in the base frame
``joint_pos``         (N, J) joint angles (rad); ``default_joint_pos`` (J,) the standing pose
``joint_vel``         (N, J) joint velocities (rad/s)
``foot_pos``          (N, F, 3) world positions of the feet (m)
====================  =====================================================================

and, for terms that only the env has: ``actions``, ``commands``, ``gait_phase``,
``is_moving_command``, ``foot_force``, ``foot_contact`` (bool), ``foot_height``, ``feet_air_time``,
``friction_coeff``, ``added_base_mass``, ``base_com_offset``, ``motor_strength``, ``push_vel``.

Terrain (``envs/terrain/``): ``base_height`` (N,) and ``foot_height`` (N, F) are measured against
the ground (on a terrain, the ground under the feet); a state without ``base_height`` (a motion
frame) is on flat ground. ``height_scan`` and ``foot_terrain_height`` read ``terrain_heights`` (the
env's ``TerrainHeights``, None on the plane), ``height_scan_points`` and ``height_scan_cfg``, and
look the ground up only when a group uses them: a task without them pays nothing.

A group (``ObservationGroup``) is an ordered list of terms compiled once from its config
(``legged_train.envs.legged.config.ObservationGroupConfig``): widths, noise and scale vectors and column slices
are found at build, so computing a group is one ``torch.cat``, at most one noise draw and one
multiply. Add a term by adding a function to ``OBSERVATION_TERMS`` (like ``rewards.REWARD_TERMS``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

# ------------------------------------------------------------------------------ proprioception


def base_lin_vel(state) -> torch.Tensor:
    """(N, 3) m/s, base frame. Privileged on a real robot (no sensor measures it well)."""
    return state.base_lin_vel


def base_ang_vel(state) -> torch.Tensor:
    """(N, 3) rad/s, base frame: the gyro."""
    return state.base_ang_vel


def projected_gravity(state) -> torch.Tensor:
    """(N, 3) gravity's direction in the base frame: (0, 0, -1) when level. The IMU's tilt."""
    return state.projected_gravity


def base_pos(state) -> torch.Tensor:
    """(N, 3) m, the base's world position (for recording motion, not for a policy)."""
    return state.base_pos


def base_quat(state) -> torch.Tensor:
    """(N, 4) the base's world orientation, (w, x, y, z) (for recording motion, not for a policy)."""
    return state.base_quat


def base_height(state) -> torch.Tensor:
    """(N, 1) m, the base's height above the ground: on a terrain the mean ground under the feet, so
    that standing on a plateau reads as on flat ground (Isaac Lab #1698); a motion frame's is above z = 0."""
    height = getattr(state, "base_height", None)
    return state.base_pos[:, 2:3] if height is None else height[:, None]


def joint_pos(state) -> torch.Tensor:
    """(N, J) rad, relative to the default pose (what the policy sees; zero when standing)."""
    return state.joint_pos - state.default_joint_pos


def joint_pos_abs(state) -> torch.Tensor:
    """(N, J) rad, absolute joint angles."""
    return state.joint_pos


def joint_vel(state) -> torch.Tensor:
    """(N, J) rad/s."""
    return state.joint_vel


def foot_pos_base(state) -> torch.Tensor:
    """(N, 3 F) m, each foot's position relative to the base, in the base frame: x, y, z of the
    first foot, then of the second... Independent of where the robot is and which way it faces."""
    offset = state.foot_pos - state.base_pos[:, None, :]
    return quat_rotate_inverse(state.base_quat[:, None, :], offset).flatten(1)


def foot_contact(state) -> torch.Tensor:
    """(N, F) 1.0 for a foot touching the ground (force above the contact threshold), else 0.0."""
    return state.foot_contact.float()


# ------------------------------------------------------------------------------ controller state


def last_action(state) -> torch.Tensor:
    """(N, J) the action applied in the step that led here (zero at an episode's start)."""
    return state.actions


def command(state) -> torch.Tensor:
    """(N, 3) the velocity command: forward m/s, lateral m/s, yaw rad/s."""
    return state.commands


def gait_clock(state) -> torch.Tensor:
    """(N, 2) sin, cos of the gait clock's phase; zeros under a standing command (no stepping wanted)."""
    angle = 2.0 * math.pi * state.gait_phase[:, None]
    return torch.cat((torch.sin(angle), torch.cos(angle)), dim=1) * state.is_moving_command[:, None]


# ---------------------------------------------------------------------------------- privileged


def foot_contact_force(state) -> torch.Tensor:
    """(N, F) N, the feet's touch sensors."""
    return state.foot_force


def foot_height(state) -> torch.Tensor:
    """(N, F) m, the sole's height above the floor."""
    return state.foot_height


def height_scan(state) -> torch.Tensor:
    """(N, P) m, the ground at a grid of points around the base (``LeggedEnvConfig.height_scan``,
    17 x 11 by default, x fastest) in its yaw frame: clip(base_z - offset - ground, -clip, clip), as
    legged_gym's measured heights. The ground is MuJoCo's own surface (``TerrainHeights``), so a gap
    reads its floor (a drop, not a wall) and no ray origin can sit inside an obstacle. On the plane
    the ground is 0 everywhere."""
    cfg, base = state.height_scan_cfg, state.base_pos
    return torch.clamp(base[:, 2:3] - cfg.offset - scan_ground(state), -cfg.clip, cfg.clip)


def terrain_scan(state) -> torch.Tensor:
    """(N, P) m, the ground at the height scan's points (its grid, as ``height_scan``) relative to the
    ground the robot stands on (the mean ground under its feet), clipped to +-clip: 0 everywhere on
    flat ground whatever the base does, + for a step up, - for a step down or a gap. For a policy's
    input: ``height_scan`` repeats the base's bobbing in every one of its points, 187 copies of one
    signal that the observation normalizer scales up; here the terrain alone (``base_height`` gives
    the base's height)."""
    cfg = state.height_scan_cfg
    standing = 0.0 if state.base_ground is None else state.base_ground[:, None]
    return torch.clamp(scan_ground(state) - standing, -cfg.clip, cfg.clip)


def scan_ground(state) -> torch.Tensor:
    """(N, P) m, the ground's height at the scan's points around the base, in its yaw frame (0 on the plane)."""
    base = state.base_pos
    if state.terrain_heights is None:
        return torch.zeros(base.shape[0], state.height_scan_points.shape[0], device=base.device)
    w, x, y, z = state.base_quat.unbind(1)
    yaw = torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    cos_yaw, sin_yaw = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    px, py = state.height_scan_points.unbind(1)  # (P,) each, in the yaw frame
    world = torch.stack((base[:, 0:1] + cos_yaw * px - sin_yaw * py, base[:, 1:2] + sin_yaw * px + cos_yaw * py), dim=2)
    return state.terrain_heights(world)


def foot_terrain_height(state) -> torch.Tensor:
    """(N, F) m, how far the ground under each foot lies below the base: base_z - ground(foot). With
    ``foot_height`` (the sole above that ground) it tells the critic the step each foot stands on;
    the ground relative to the foot itself would only repeat ``foot_height``. On the plane: base_z."""
    base_z = state.base_pos[:, 2:3]
    return base_z.expand(-1, state.foot_pos.shape[1]) if state.foot_ground is None else base_z - state.foot_ground


def depth_image(state) -> torch.Tensor:
    """(N, 1, H, W) the depth camera's image (``envs/sensors/depth_camera.py``), scaled to [0, 1]:
    (depth - near) / (far - near), a lost pixel 0; latency and noise as configured. An image term:
    its group's vector holds it flattened (``ObservationGroup.image_shapes``)."""
    return state.depth_image


def feet_air_time(state) -> torch.Tensor:
    """(N, F) s since each foot left the ground (zero in stance)."""
    return state.feet_air_time


def friction(state) -> torch.Tensor:
    """(N, 1) the floor friction coefficient drawn for the episode."""
    return state.friction_coeff[:, None]


def added_base_mass(state) -> torch.Tensor:
    """(N, 1) kg added to the base for the episode."""
    return state.added_base_mass[:, None]


def base_com_offset(state) -> torch.Tensor:
    """(N, 3) m, the base's centre-of-mass offset for the episode."""
    return state.base_com_offset


def motor_strength(state) -> torch.Tensor:
    """(N, 1) the factor on every motor's gains for the episode."""
    return state.motor_strength[:, None]


def push_vel(state) -> torch.Tensor:
    """(N, 2) m/s, the last push's planar velocity kick (zero until the first push of an episode)."""
    return state.push_vel


OBSERVATION_TERMS: dict[str, Callable[[Any], torch.Tensor]] = {
    fn.__name__: fn
    for fn in (
        base_lin_vel,
        base_ang_vel,
        projected_gravity,
        base_pos,
        base_quat,
        base_height,
        joint_pos,
        joint_pos_abs,
        joint_vel,
        foot_pos_base,
        foot_contact,
        last_action,
        command,
        gait_clock,
        foot_contact_force,
        foot_height,
        feet_air_time,
        height_scan,
        terrain_scan,
        foot_terrain_height,
        depth_image,
        friction,
        added_base_mass,
        base_com_offset,
        motor_strength,
        push_vel,
    )
}


def quat_rotate_inverse(quat: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    """Rotate ``vec`` (..., 3) by the inverse of the unit quaternion ``quat`` (..., 4), (w, x, y, z):
    world-frame vectors into the body frame. Broadcasts over leading dimensions."""
    w, xyz = quat[..., :1], quat[..., 1:].expand_as(vec)
    # v' = v + w t + u x t with t = 2 u x v, for the conjugate (w, -u): two cross products.
    t = 2.0 * torch.linalg.cross(xyz, vec, dim=-1)
    return vec - w * t + torch.linalg.cross(xyz, t, dim=-1)


# -------------------------------------------------------------------------------------- groups


# The env's per-env state that observation terms read. After resets a step recomputes its groups for
# the reset envs only: a term then reads these through ``EnvRows`` (those envs' rows); everything else
# a term reads (the default pose, the scan's grid, the terrain) is shared by all envs. A term reading
# per-env state missing here gets all rows and fails the shape check in ``ObservationGroup.compute``.
PER_ENV_STATE = frozenset({
    "actions", "added_base_mass", "base_ang_vel", "base_com_offset", "base_height", "base_lin_vel", "base_pos",
    "base_ground", "base_quat", "commands", "depth_image", "feet_air_time", "foot_contact", "foot_force", "foot_ground", "foot_height", "foot_pos",
    "friction_coeff", "gait_phase", "is_moving_command", "joint_pos", "joint_vel", "motor_strength",
    "projected_gravity", "push_vel",
})


class EnvRows:
    """``state`` seen through the envs ``ids``: its PER_ENV_STATE tensors indexed by them, the rest as is."""

    def __init__(self, state, ids: torch.Tensor):
        self._state, self._ids = state, ids

    def __getattr__(self, name: str):
        value = getattr(self._state, name)
        return value[self._ids] if name in PER_ENV_STATE and value is not None else value


class ObservationGroup:
    """One group compiled for a state: its terms' functions, widths, noise and scale.

    The group's vector for one step is its terms' values side by side, in order. Each noisy term
    gets uniform noise of its half-width, added to the raw value; then each term is multiplied by its
    scale (so noise is in the term's own units, as a sensor's datasheet gives it). All the noisy
    terms of a group share ONE draw of shape (N, their total width) per computation, taken in term
    order: the generator advances the same way whatever the other groups are.

    With ``history_length`` H > 1 the group's vector is its last H one-step vectors side by side,
    oldest first (width H x the one-step width; the newest step in the last columns). The caller
    keeps the previous stacked vector and passes it in; ``refill`` restarts the history of envs whose
    episode just began by repeating their first observation H times.

    Args:
        name: the group's name (for messages).
        terms: ``ObservationTermConfig``-like objects with ``name`` and ``scale``.
        noise: each term's noise half-width, resolved (0 = clean).
        history_length: H >= 1.
        state: a state to evaluate each term on once, to learn its width.
    """

    def __init__(self, name: str, terms: list, noise: list[float], history_length: int, state) -> None:
        self.name = name
        self.term_names = [term.name for term in terms]
        self.functions = [OBSERVATION_TERMS[term.name] for term in terms]
        self.history_length = history_length
        values = [function(state) for function in self.functions]
        rows = values[0].shape[0] if isinstance(values[0], torch.Tensor) and values[0].dim() > 0 else None
        # Image terms ((N, H, W) or (N, C, H, W)): flattened into the vector, their (C, H, W) kept here.
        self.image_shapes: dict[str, tuple[int, int, int]] = {}
        for term_name, value in zip(self.term_names, values):
            if not (isinstance(value, torch.Tensor) and 2 <= value.dim() <= 4 and value.is_floating_point() and value.shape[0] == rows):
                got = f"shape {tuple(value.shape)}, {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"observation term {term_name!r} (group {name!r}) returned {got}; expected a float tensor "
                                 "(num_envs, width), or an image (num_envs, H, W) or (num_envs, C, H, W)")
            if value.dim() > 2:
                self.image_shapes[term_name] = tuple((1, *value.shape[1:]) if value.dim() == 3 else value.shape[1:])
        self.widths = [math.prod(value.shape[1:]) for value in values]
        self.width = sum(self.widths)  # one step
        self.stacked_width = self.width * history_length
        device = value.device
        # The newest step sits in the last `width` columns of the stacked vector.
        first = self.stacked_width - self.width
        self.step_columns = slice(first, self.stacked_width)

        # Noise: the noisy terms' columns, adjacent terms merged into one run (the default policy
        # group's four noisy terms are one slice and one add). Each run: (columns of the vector,
        # columns of the draw, half-widths).
        self.noise_runs: list[tuple[slice, slice, torch.Tensor]] = []
        column, drawn = first, 0
        for width, half_width in zip(self.widths, noise):
            if half_width > 0.0:
                values = torch.full((width,), float(half_width), device=device)
                if self.noise_runs and self.noise_runs[-1][0].stop == column:
                    out, draw, previous = self.noise_runs.pop()
                    values = torch.cat((previous, values))
                    self.noise_runs.append((slice(out.start, column + width), slice(draw.start, drawn + width), values))
                else:
                    self.noise_runs.append((slice(column, column + width), slice(drawn, drawn + width), values))
                drawn += width
            column += width
        self.noise_width = drawn
        self.scales = [float(term.scale) for term in terms]
        self.scale = None  # multiplying by ones would only cost time
        if any(s != 1.0 for s in self.scales):
            self.scale = torch.cat([torch.full((w,), s, device=device) for s, w in zip(self.scales, self.widths)])

    def compute(
        self,
        state,
        previous: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        cache: dict[str, torch.Tensor] | None = None,
        stale: tuple[dict[str, torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The group's vector for ``state``: (N, stacked_width), a new tensor.

        ``previous``: the group's vector of the step before (needed when history_length > 1).
        ``generator``: draws the noise; None gives clean values and draws nothing.
        ``cache``: term values of this state already computed by other groups (the critic repeats
        the policy's terms), filled with this group's.
        ``stale``: (term values, ids): values computed earlier that still hold for every env but
        ``ids`` (after those envs were reset): only their rows are computed again."""
        if cache is None:
            cache = {}
        values = []
        for name, function in zip(self.term_names, self.functions):
            value = cache.get(name)
            if value is None:
                if stale is not None and name in stale[0]:
                    earlier, ids = stale
                    value = earlier[name].clone()
                    rows = function(EnvRows(state, ids)).flatten(1)
                    if rows.shape != (len(ids), value.shape[1]):
                        raise RuntimeError(f"observation term {name!r} gave shape {tuple(rows.shape)} for {len(ids)} envs: "
                                           "it reads per-env state missing from observations.PER_ENV_STATE")
                    value[ids] = rows
                else:
                    value = function(state)
                if name in self.image_shapes:
                    value = value.flatten(1)
                cache[name] = value
            values.append(value)
        if self.history_length > 1:
            values.insert(0, previous[:, self.width :])  # drop the oldest step
        obs = torch.cat(values, dim=1)  # always a copy: the in-place edits below never touch the state
        if generator is not None and self.noise_width > 0:
            uniform = 2.0 * torch.rand((obs.shape[0], self.noise_width), generator=generator, device=obs.device) - 1.0
            for columns, drawn, half_width in self.noise_runs:
                obs[:, columns].add_(half_width * uniform[:, drawn])
        if self.scale is not None:
            obs[:, self.step_columns].mul_(self.scale)
        return obs

    def refill(self, obs: torch.Tensor, env_ids: torch.Tensor) -> None:
        """Restart the history of ``env_ids`` (whose episode just began): every one of their H slots
        becomes their newest observation, so the policy never sees the last episode's end."""
        if self.history_length > 1 and len(env_ids) > 0:
            obs[env_ids] = obs[env_ids, self.step_columns].repeat(1, self.history_length)


def build_groups(cfg, state) -> dict[str, ObservationGroup]:
    """Each group of a ``LeggedEnvConfig`` compiled once (term functions, widths, noise, scale) on
    ``state``; ``gait_clock`` terms are dropped when ``cfg.gait_clock`` is off."""
    groups = {}
    for name, group in cfg.observations.items():
        terms = [term for term in group.terms if cfg.gait_clock or term.name != "gait_clock"]
        if not terms:
            raise ValueError(f"LeggedEnvConfig.observations.{name} has no terms left: its only one, gait_clock, is off (gait_clock=False)")
        noise = [cfg.term_noise(term) for term in terms]
        groups[name] = ObservationGroup(name, terms, noise, group.history_length, state)
    return groups


def compute_groups(groups: dict[str, ObservationGroup], state, previous: dict[str, torch.Tensor],
                   generator: torch.Generator | None, reset_ids: torch.Tensor | None = None,
                   terms: dict[str, torch.Tensor] | None = None,
                   stale: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Every group's observation of ``state``, each after its ``previous`` one (history).

    Groups are computed in config order, each drawing its noise (one draw over its noisy terms)
    from ``generator`` (None: clean). ``reset_ids``: envs whose episode starts now; their history is
    refilled with this first observation. ``terms``: filled with each term's clean value. ``stale``:
    term values of this step from before ``reset_ids`` were reset: only those envs' rows are
    computed again (the same numbers as computing all rows)."""
    obs = {}
    terms = {} if terms is None else terms  # each term's value, computed once for all the groups that use it
    stale_rows = None if stale is None or reset_ids is None else (stale, reset_ids)
    for name, group in groups.items():
        value = group.compute(state, previous[name], generator, terms, stale_rows)
        if reset_ids is not None:
            group.refill(value, reset_ids)
        obs[name] = value
    return obs
