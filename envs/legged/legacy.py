"""The old spellings of the legged env's config, mapped onto the new fields in this one place."""

from __future__ import annotations

import yaml

# Until the terms had their own parameters (issue 19) these were fields of
# RewardsConfig and TerminationConfig; the README, users' commands and the config.yaml of runs
# written then still use them. This is the one place they are mapped onto the new fields: old
# dotted path -> {new path: value} (``upgrade_overrides``, which apply_overrides calls through
# ``LeggedEnvConfig.upgrade_overrides`` for --set and a run's recorded config alike, and
# ``set_old_field`` for assignments from Python).
LEGACY_FIELDS = {
    "rewards.tracking_sigma": lambda v: {"rewards.params.track_lin_vel.sigma": v, "rewards.params.track_ang_vel.sigma": v},
    "rewards.feet_air_time_target": lambda v: {"rewards.params.feet_air_time.target": v},
    "rewards.soft_joint_pos_limit": lambda v: {"rewards.params.joint_pos_limits.soft_limit": v},
    "terminations.max_tilt": lambda v: {"terminations.terms.bad_orientation.max_tilt": v},
    "terminations.min_base_height": lambda v: {"terminations.terms.base_too_low.min_height": v},
    "terminations.base_contact": lambda v: {"terminations.terms.base_contact": {} if _flag(v) else None},
}


def _flag(value) -> bool:
    return bool(yaml.safe_load(value)) if isinstance(value, str) else bool(value)


def upgrade_overrides(overrides: dict) -> dict:
    """``{dotted path: value}`` with the old spellings (``LEGACY_FIELDS``) replaced by the new fields."""
    upgraded = {}
    for path, value in overrides.items():
        upgraded.update(LEGACY_FIELDS[path](value) if path in LEGACY_FIELDS else {path: value})
    return upgraded


def set_old_field(section_cfg, section: str, name: str, value) -> bool:
    """``cfg.<section>.<old name> = value`` from Python: set the new fields instead; False if not an old name."""
    mapping = LEGACY_FIELDS.get(f"{section}.{name}")
    if mapping is None:
        return False
    for path, new_value in mapping(value).items():
        *parents, last = path.split(".")[1:]  # relative to the section
        target = section_cfg
        for part in parents:
            target = target[part] if isinstance(target, dict) else getattr(target, part)
        if isinstance(target, dict):
            target[last] = new_value
        else:
            setattr(target, last, new_value)
    return True
