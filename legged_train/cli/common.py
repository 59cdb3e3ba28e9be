"""What every command line shares: one-line user errors, argument helpers, the headless GL
preamble and Ctrl-C / SIGTERM handling.

A user error is anything wrong with what the user typed or pointed at: it is reported in one line
(``<prog>: error: ...``, no usage block, no traceback) with exit status 2, and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from contextlib import contextmanager

HAS_DISPLAY = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def use_headless_gl() -> None:
    """Offscreen rendering needs a GL backend chosen before mujoco is first imported; EGL works headless."""
    if not HAS_DISPLAY:
        os.environ.setdefault("MUJOCO_GL", "egl")


def one_line_warnings() -> None:
    """On the command line a library's warning is one line, ``warning: <message>``: Python's default
    format adds the file, the line number and that line's source, which say nothing to a user.
    Called by the programs (the scripts, ``legged-train``), not on import: a library user who imports
    the CLI modules keeps Python's format."""
    warnings.formatwarning = lambda message, _category, *_args, **_kwargs: f"warning: {' '.join(str(message).split())}\n"


# Every CLI module imports this one before anything that imports mujoco.
use_headless_gl()


class UserError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "what you gave cannot work" rather than "the program failed"."""
    from legged_train.checkpoint import CheckpointError

    return (UserError, CheckpointError, KeyError, ValueError, TypeError, FileNotFoundError, ImportError)


def fail(parser: argparse.ArgumentParser, err: BaseException | str) -> None:
    """Report a user error in one line (no usage block, no traceback) and exit with status 2."""
    print(f"{parser.prog}: error: {one_line(err) if isinstance(err, BaseException) else err}", file=sys.stderr)
    sys.exit(2)


def one_line(err: BaseException) -> str:
    message = " ".join(str(err).split()) or type(err).__name__
    return message.strip("'\"") if isinstance(err, KeyError) else message


def make_parser(doc: str | None, prog: str | None) -> argparse.ArgumentParser:
    """A parser that prints the command's docstring as its help."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_argument(parser: argparse.ArgumentParser, name: str, *more: str, **kwargs) -> None:
    """``--num-envs`` also answers to legged_gym's ``--num_envs``."""
    aliases = [name] + (["--" + name[2:].replace("-", "_")] if "-" in name[2:] else []) + list(more)
    parser.add_argument(*aliases, **kwargs)


def check_at_least(args: argparse.Namespace, lows: dict[str, float]) -> None:
    """``--flag`` values below their lowest allowed value (None means "not given" and passes)."""
    for flag, low in lows.items():
        value = getattr(args, flag)
        if value is not None and not value >= low:  # "not >=" also catches NaN
            raise UserError(f"--{flag.replace('_', '-')}={value}: must be >= {low}")


def check_above(args: argparse.Namespace, flags: tuple[str, ...]) -> None:
    """``--flag`` values that must be strictly positive (seconds, frames per second, scales)."""
    for flag in flags:
        value = getattr(args, flag)
        if value is not None and not value > 0:
            raise UserError(f"--{flag.replace('_', '-')}={value}: must be > 0")


def check_writable_folder(path: str, flag: str, given: str | None = None) -> None:
    """``path`` is (or can be made as) a folder we can write: checked before anything is written.

    The nearest existing ancestor decides: a file there, or a folder we cannot write, fails now
    rather than as a PermissionError / NotADirectoryError traceback in the middle of a run.
    ``given``: what the user typed, when ``path`` is the folder of an output file."""
    path = os.path.abspath(path)
    given = os.path.abspath(given) if given is not None else path
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is a file" if existing == given else f"lies under the file {existing!r}"
        raise UserError(f"{flag}={given!r} {where}, not a folder: give a path in a folder you can write")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{flag}={given!r}: no permission to write in {existing!r}: give a path in a folder you can write")


def check_writable_file(path: str, flag: str) -> None:
    """An output file's folder can be made and written (see check_writable_folder)."""
    if os.path.isdir(path):
        raise UserError(f"{flag}={path!r} is a folder: give a file path")
    check_writable_folder(os.path.dirname(os.path.abspath(path)), flag, given=path)


@contextmanager
def stop_on_signals(runner, stopping: str = "stopping after this iteration and saving a checkpoint"):
    """First Ctrl-C / SIGTERM: ``runner.request_stop()`` (it finishes its step, saves, ends cleanly).
    A second one: abort at once. ``runner`` is anything with ``request_stop()`` and ``stop_requested``."""

    def handle(signum, _frame):
        if runner.stop_requested:
            raise KeyboardInterrupt
        runner.request_stop()
        print(f"\n{signal.Signals(signum).name}: {stopping} (Ctrl-C again to abort)", file=sys.stderr)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_video_rendering() -> None:
    """A video needs offscreen GL: try it now (a fraction of a second) rather than fail mid-run."""
    from legged_train.video import check_offscreen_rendering

    try:
        check_offscreen_rendering()
    except RuntimeError as err:
        raise UserError(f"--video: {err}") from None
