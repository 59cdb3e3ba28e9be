"""Shrink a robot's meshes for shipping: vertex clustering, written as Wavefront OBJ.

Vendor meshes (MuJoCo Menagerie's STL files) carry tens of thousands of triangles per link; a
training suite needs the link's shape, not its screw heads. Every vertex is snapped to a grid of
``--cell`` metres and the vertices of a grid cell merge into their mean; triangles that collapse
(two corners in one cell) or repeat are dropped. A 1 cm grid keeps a link's outline within about
half a centimetre and cuts a 2.5 MB link to tens of kB. MuJoCo collides a mesh as its convex hull, so
collision changes by at most that much too.

    python tools/decimate_mesh.py SRC.stl [SRC2.stl ...] --out envs/robots/g1/assets --cell 0.01
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def read_stl(path: str) -> np.ndarray:
    """(T, 3, 3) triangle corners of a binary or ASCII STL file."""
    with open(path, "rb") as f:
        data = f.read()
    count = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0]) if len(data) >= 84 else -1
    if len(data) == 84 + 50 * count:  # binary (its header may still start with "solid")
        records = np.frombuffer(data, dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), count=count, offset=84)
        return records["v"].astype(np.float64)
    words = data.decode("ascii").split()
    vertices = [[float(words[i + 1]), float(words[i + 2]), float(words[i + 3])] for i, w in enumerate(words) if w == "vertex"]
    return np.asarray(vertices, dtype=np.float64).reshape(-1, 3, 3)


def decimate(triangles: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex clustering: (vertices (V, 3), faces (F, 3) int) of the triangles on a ``cell`` grid."""
    corners = triangles.reshape(-1, 3)
    keys = np.floor(corners / cell).astype(np.int64)
    _, cluster, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    cluster = cluster.reshape(-1)
    vertices = np.zeros((len(counts), 3))
    np.add.at(vertices, cluster, corners)
    vertices /= counts[:, None]
    faces = cluster.reshape(-1, 3)
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    faces = faces[keep]
    # A face and its repeats (any rotation of the same corners) once.
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    faces = faces[np.sort(first)]
    used, faces = np.unique(faces, return_inverse=True)
    return vertices[used], faces.reshape(-1, 3)


def write_obj(path: str, vertices: np.ndarray, faces: np.ndarray, source: str) -> None:
    lines = [f"# {os.path.basename(source)}, decimated by tools/decimate_mesh.py"]
    lines += [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--out", required=True, help="folder for the .obj files (same base names)")
    parser.add_argument("--cell", type=float, default=0.01, help="grid cell (m)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for source in args.sources:
        triangles = read_stl(source)
        vertices, faces = decimate(triangles, args.cell)
        target = os.path.join(args.out, os.path.splitext(os.path.basename(source))[0] + ".obj")
        write_obj(target, vertices, faces, source)
        print(f"{os.path.basename(source)}: {len(triangles)} -> {len(faces)} triangles, {os.path.getsize(target)} bytes")


if __name__ == "__main__":
    main()
