"""Questions about a path that a user typed, answered without raising.

A name longer than the file system allows, a component over 255 bytes, a path through a file: the
standard predicates raise OSError for some of these; here the answer is just "no", and the caller's
sentence ("there is no file ...") follows. A special file (a FIFO, a device) is not a regular file: a
reader that opened it could block forever or read without end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def expand(path: str | os.PathLike[str]) -> Path:
    """`~` and `~user` expanded; a `~name` of no user stays as typed (Path.expanduser raises for it)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def _mode(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.stat(expand(path)).st_mode
    except (OSError, ValueError):
        return None


def exists(path: str | os.PathLike[str]) -> bool:
    return _mode(path) is not None


def is_dir(path: str | os.PathLike[str]) -> bool:
    mode = _mode(path)
    return mode is not None and stat.S_ISDIR(mode)


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    mode = _mode(path)
    return mode is not None and stat.S_ISREG(mode)


def is_special(path: str | os.PathLike[str]) -> bool:
    """There, but neither a folder nor a regular file (a FIFO, a socket, a device)."""
    mode = _mode(path)
    return mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
