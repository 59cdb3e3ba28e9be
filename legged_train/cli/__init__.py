"""The command lines: ``legged-train train|play|collect|dagger-collect|tune ...``.

Each command is one module with a ``main(argv, prog)`` (``legged_train.cli.train`` ...); the
repository's ``train.py``, ``play.py``, ``collect.py``, ``dagger_collect.py`` and ``tune.py`` are
thin scripts that call the same functions. Shared code: ``common`` (one-line user errors,
argument helpers, signals) and ``runs`` (run folders and their recorded configs).
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": ("legged_train.cli.train", "train a registered task"),
    "play": ("legged_train.cli.play", "replay, evaluate and export a run"),
    "collect": ("legged_train.cli.collect", "collect demonstrations from a run"),
    "dagger-collect": ("legged_train.cli.dagger_collect", "the collector of two-process DAgger"),
    "tune": ("legged_train.cli.tune", "Optuna search over a task's search space"),
}


def main(argv: list[str] | None = None) -> int:
    """``legged-train COMMAND ...``: the command's own ``main`` with the rest of the arguments."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<16}{summary}" for name, (_, summary) in COMMANDS.items()]
        usage = "usage: legged-train COMMAND [options]  (legged-train COMMAND --help for its options)\n\ncommands:\n"
        if argv and argv[0] not in ("-h", "--help"):
            print(f"legged-train: error: unknown command {argv[0]!r}; allowed: {', '.join(COMMANDS)}", file=sys.stderr)
            return 2
        print(usage + "\n".join(lines), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    from legged_train.cli.common import one_line_warnings

    one_line_warnings()
    return module.main(argv[1:], prog=f"legged-train {argv[0]}")
