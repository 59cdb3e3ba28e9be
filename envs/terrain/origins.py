"""Where envs start on the terrain: legged_gym's spread of envs over the tiles."""

from __future__ import annotations

import numbers

import torch

from legged_train.envs.terrain.generator import Terrain


def env_origins(num_envs: int, max_init_level: int, terrain: Terrain, generator: torch.Generator | None = None,
                device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each env's tile: its column (sub-terrain type) by index, envs in equal contiguous blocks over
    the columns; its level drawn uniformly in [0, max_init_level] with ``generator``.
    Returns (origins (N, 3) m, levels (N,), columns (N,)); the curriculum moves levels later and
    reads origins from ``terrain.tile_origins[level, column]``."""
    if not (isinstance(num_envs, numbers.Integral) and num_envs >= 1):
        raise ValueError(f"num_envs={num_envs!r}: must be an int >= 1")
    if not (isinstance(max_init_level, numbers.Integral) and 0 <= max_init_level < terrain.num_rows):
        raise ValueError(f"max_init_level={max_init_level!r}: the terrain has only {terrain.num_rows} levels, "
                         f"so it must be an int in [0, {terrain.num_rows - 1}] (raise terrain.num_rows or lower it)")
    columns = torch.arange(num_envs, device=device) * terrain.num_cols // num_envs
    levels = torch.randint(0, max_init_level + 1, (num_envs,), generator=generator, device=device)
    tiles = torch.as_tensor(terrain.tile_origins, device=device)
    return tiles[levels, columns], levels, columns
