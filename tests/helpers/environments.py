"""A real Python environment without some installed packages: for a test of what a user without them sees,
where this environment has them (CI installs every extra)."""

from __future__ import annotations

import fnmatch
import site
import subprocess
import sys
from pathlib import Path


def python_without(folder: Path, *patterns: str) -> Path:
    """A new virtual environment in `folder` that has every package of this one (its site-packages entries,
    linked) except the entries matching `patterns` (e.g. "llama_cpp*"); returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for source in site.getsitepackages():
        for entry in Path(source).iterdir():
            if any(fnmatch.fnmatch(entry.name, p) for p in patterns) or (target / entry.name).exists():
                continue
            (target / entry.name).symlink_to(entry)
    return python
