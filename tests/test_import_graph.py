"""The package's import graph has no cycle.

Nodes are the files under legged_train/, envs/ and tasks/ (installed as legged_train.envs and
legged_train.tasks); an edge is any import of one of them, at module level or inside a function,
except imports under ``if TYPE_CHECKING:`` (never executed). A cycle means two modules that cannot
be understood, tested or moved one without the other, even where a function-level import keeps it
from failing at import time.
"""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folder -> the package name it installs as (setup.py's package-dir mapping).
PACKAGES = {"legged_train": "legged_train", "envs": "legged_train.envs", "tasks": "legged_train.tasks"}


def module_files() -> dict[str, str]:
    """Module name -> file path, for every .py file of the three folders."""
    modules = {}
    for folder, package in PACKAGES.items():
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            relative = os.path.relpath(dirpath, os.path.join(ROOT, folder))
            parts = package.split(".") + ([] if relative == "." else relative.split(os.sep))
            for filename in filenames:
                if filename.endswith(".py"):
                    name = parts if filename == "__init__.py" else parts + [filename[:-3]]
                    modules[".".join(name)] = os.path.join(dirpath, filename)
    return modules


def is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def import_nodes(tree: ast.AST):
    """Every Import / ImportFrom in the tree, skipping ``if TYPE_CHECKING:`` bodies (not their else)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        children = list(ast.iter_child_nodes(node))
        if is_type_checking_block(node):
            children = list(node.orelse)
        stack.extend(children)


def imported_modules(name: str, path: str, modules: dict[str, str]) -> set[str]:
    """The project modules that the file of module ``name`` imports."""
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), filename=path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in import_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the module pkg.sub when there is one, else a name of pkg.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in targets:
            # `import a.b.c` of a name that is not a file (an attribute): the nearest module above it.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert "legged_train.runners.on_policy_runner" in graph and "legged_train.envs" in graph and "legged_train.tasks" in graph
    assert "legged_train.algorithms.ppo" in graph["legged_train.runners.on_policy_runner"]


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


if __name__ == "__main__":  # python tests/test_import_graph.py: every cycle, one per line
    graph = import_graph()
    while (cycle := find_cycle(graph)) is not None:
        print(" -> ".join(cycle))
        graph[cycle[-2]].discard(cycle[-1])
