"""Where ftui keeps things: the packaged assets, the runs directory and its own cache.

The user's data and cache directories are the platform's, as platformdirs knows them (on Linux the XDG
ones: ~/.local/share/ftui and ~/.cache/ftui, or under $XDG_DATA_HOME and $XDG_CACHE_HOME). platformdirs
is imported only when one is asked for: the catalog's assets are found on every call of the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "ftui"


def assets_dir() -> Path:
    """The assets folder: inside the wheel (ftui/assets) or, in a source checkout, the repo's assets/."""
    packaged = Path(__file__).resolve().parent.parent / "assets"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "assets"


def runs_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The runs directory: --runs-dir, then $FTUI_RUNS_DIR, then runs/ in the user's data directory
    (~/.local/share/ftui/runs on Linux)."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("FTUI_RUNS_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "runs"


def cache_dir() -> Path:
    """ftui's own cache (the checked catalog): ~/.cache/ftui on Linux. Anything in it can be deleted."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
