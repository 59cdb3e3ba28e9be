"""Terrain height at any (x, y), in torch: the height scan's and the terrain-relative terms' core.

The rule: the height of MuJoCo's own surface, interpolated linearly on the same two triangles per
cell that MuJoCo collides with (split along the diagonal from vertex (iy, ix) to (iy+1, ix+1)). Not
legged_gym's min of the neighbouring vertices, not their max, not bilinear:

- min (legged_gym) reads the floor up to a cell inside an obstacle's top: a scan origin or base
  height built on it sits inside the obstacle (mjlab #775's failure, reached another way);
- max reads an obstacle's top up to a cell before it, and a gap's edge instead of its floor near the
  edge (Isaac Lab #5137's wall, on a smaller scale);
- bilinear is a different surface from MuJoCo's wherever a cell's four vertices are not coplanar.

The triangles are the ground the robot stands on, so a lookup is never below it (no origin inside an
obstacle) nor above it (a gap reads its floor, a drop), matches mj_ray straight down to float
precision, and needs no ray origin at all: there is no origin that could start below a tall obstacle.
Points outside the terrain read the nearest border vertex's height (clamped).
"""

from __future__ import annotations

import torch

from legged_train.envs.terrain.generator import Terrain


class TerrainHeights:
    """``TerrainHeights(terrain, device)(points_xy)``: (..., 2) world x, y -> (...) ground heights (m)."""

    def __init__(self, terrain: Terrain, device: str | torch.device = "cpu"):
        self.heights = torch.as_tensor(terrain.heights, dtype=torch.float32, device=device)
        self.flat = self.heights.reshape(-1)
        self.rows, self.cols = self.heights.shape
        self.origin = torch.tensor(terrain.origin, dtype=torch.float32, device=device)
        self.spacing = torch.tensor(terrain.spacing, dtype=torch.float32, device=device)

    def __call__(self, points_xy: torch.Tensor) -> torch.Tensor:
        # Position in cells, clamped to the array: outside points read the border.
        grid = (points_xy - self.origin) / self.spacing
        gx = grid[..., 0].clamp(0, self.cols - 1)
        gy = grid[..., 1].clamp(0, self.rows - 1)
        # The cell's lower vertex; the last row/column belongs to the cell before it.
        ix = gx.floor().long().clamp(max=self.cols - 2)
        iy = gy.floor().long().clamp(max=self.rows - 2)
        tx, ty = gx - ix, gy - iy
        # The cell's two triangles share the diagonal (iy, ix)-(iy+1, ix+1); the third vertex of the
        # point's triangle is (iy, ix+1) when tx >= ty, else (iy+1, ix). Barycentric weights with
        # a = max(tx, ty), b = min(tx, ty): 1 - a on (iy, ix), a - b on the third, b on (iy+1, ix+1).
        base = iy * self.cols + ix
        right = tx >= ty
        third = torch.where(right, base + 1, base + self.cols)
        a, b = torch.maximum(tx, ty), torch.minimum(tx, ty)
        h00, h11, h_third = self.flat[base], self.flat[base + self.cols + 1], self.flat[third]
        return h00 + (h_third - h00) * a + (h11 - h_third) * b
