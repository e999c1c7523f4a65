"""Where ftui keeps things: the packaged assets and the runs directory."""

from __future__ import annotations

import os
from pathlib import Path


def assets_dir() -> Path:
    """The assets folder: inside the wheel (ftui/assets) or, in a source checkout, the repo's assets/."""
    packaged = Path(__file__).resolve().parent.parent / "assets"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "assets"


def runs_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The runs directory: --runs-dir, then $FTUI_RUNS_DIR, then ~/.local/share/ftui/runs."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("FTUI_RUNS_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ftui" / "runs"
