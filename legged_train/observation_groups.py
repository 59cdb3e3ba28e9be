"""Reading an env's named observation groups (``extras["observations"]``).

The env returns the "policy" group as its observations and every group, by name, in
``extras["observations"]``. Runners, algorithms, the evaluation and the video all pick groups the
same way, through these two functions; they sit below all of them so none imports another for it.
"""

from __future__ import annotations

import torch


def observation_group(obs: torch.Tensor, extras: dict, group: str) -> torch.Tensor:
    """The observations of ``group`` from what an env's ``reset`` / ``step`` / ``get_observations``
    returned: ``obs`` itself for "policy", else ``extras["observations"][group]``.

    Everything that runs a runner's policy on an env feeds it this way, with the runner's
    ``policy_obs_group`` (a teacher reads "teacher", a student "policy")."""
    if group == "policy":
        return obs
    groups = extras.get("observations") or {}
    if group not in groups:
        raise ValueError(f"the env has no observation group {group!r}; its groups: {sorted(groups) or ['policy']}")
    return groups[group]


def observation_group_width(env, group: str, field_name: str) -> int:
    """Width of the env's observation ``group`` (``extras["observations"]`` of ``get_observations()``).

    "policy" is ``env.num_obs``; a group the env does not have is a ValueError naming ``field_name``
    and listing the env's groups."""
    if group == "policy":
        return env.num_obs
    _, extras = env.get_observations()
    groups = extras.get("observations") or {}
    if group not in groups:
        raise ValueError(
            f"{field_name}={group!r}: {type(env).__name__} has no observation group {group!r}; "
            f"its groups: {sorted(groups) or ['policy']}"
        )
    return int(groups[group].shape[-1])


def image_layout(env, group: str) -> list[tuple[str, int, tuple[int, int, int]]]:
    """The image terms of ``group`` as ``(term, first column, (C, H, W))`` in its vector, one entry
    per step of its history (oldest first), from the env's ``observation_layout()``,
    ``observation_history()`` and ``observation_image_shapes()``; [] for an env or a group without images."""
    shapes = (env.observation_image_shapes() if hasattr(env, "observation_image_shapes") else {}).get(group, {})
    if not shapes:
        return []
    layout = env.observation_layout()[group]
    one_step = sum(width for _, width in layout)
    images = []
    for step in range(env.observation_history()[group]):
        column = step * one_step
        for term, width in layout:
            if term in shapes:
                images.append((term, column, tuple(shapes[term])))
            column += width
    return images


def image_columns(env, group: str) -> torch.Tensor | None:
    """A boolean mask over ``group``'s columns that hold images; None without images."""
    shapes = (env.observation_image_shapes() if hasattr(env, "observation_image_shapes") else {}).get(group, {})
    return term_columns(env, group, shapes) if shapes else None


def term_columns(env, group: str, terms) -> torch.Tensor | None:
    """A boolean mask over ``group``'s columns that hold any of ``terms`` (in every step of its
    history); None for an env without a layout or a group without those terms."""
    layout = env.observation_layout().get(group, []) if hasattr(env, "observation_layout") else []
    if not any(term in terms for term, _ in layout):
        return None
    one_step = torch.cat([torch.full((width,), term in terms, dtype=torch.bool) for term, width in layout])
    return one_step.repeat(env.observation_history()[group])
