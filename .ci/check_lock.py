"""Fail when a lock and pyproject.toml disagree, or when this environment is not what the lock says.

Usage: python .ci/check_lock.py requirements/test.lock:train,test requirements/app.lock:train

For each LOCK:EXTRAS pair:
- every requirement of pyproject.toml (base and those extras) is in the lock, at a version inside its range;
- every package in the lock is there because of pyproject.toml: the resolver's `# via` notes lead from it
  back to a requirement of pyproject.toml (a package dropped from pyproject.toml leaves strays);
- every package the lock pins for this machine is installed at exactly that version.
torch is installed first, on its own (README.md): requirements/constraints.txt holds its version, which must
match README's command and pyproject's range. Runs in the venv the lock was installed into.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = "ftui (pyproject.toml)"


@dataclass
class Entry:
    name: str
    version: Version
    marker: Marker | None
    via: set[str] = field(default_factory=set)


def read_lock(path: Path) -> list[Entry]:
    entries: list[Entry] = []
    in_via = False
    for line in path.read_text(encoding="utf-8").splitlines():
        head = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*(.*?))?\s*\\?$", line)
        if head:
            marker = head.group(3)
            entries.append(
                Entry(
                    canonicalize_name(head.group(1)),
                    Version(head.group(2)),
                    Marker(marker) if marker else None,
                )
            )
            in_via = False
            continue
        text = line.strip()
        if not entries or not text.startswith("#"):
            continue
        body = text.lstrip("#").strip()
        if body.startswith("via"):
            in_via = True
            body = body[3:].strip()
        if in_via and body:
            entries[-1].via.add(body if body == PYPROJECT else canonicalize_name(body.split()[0]))
    return entries


def requirements(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


def torch_version() -> Version:
    text = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    return Version(re.search(r"^torch==(\S+)", text, re.M).group(1))  # type: ignore[union-attr]


def check(lock: Path, extras: list[str]) -> list[str]:
    problems: list[str] = []
    entries = read_lock(lock)
    by_name: dict[str, list[Entry]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    wanted = {canonicalize_name(r.name): r for r in requirements(extras)}

    for name, req in wanted.items():
        if name == "torch":
            if torch_version() not in req.specifier:
                problems.append(
                    f"requirements/constraints.txt pins torch {torch_version()}, outside pyproject's {req}"
                )
            continue
        if name not in by_name:
            problems.append(f"{lock.name}: {req} is in pyproject.toml but not in the lock")
        for entry in by_name.get(name, []):
            if entry.version not in req.specifier:
                problems.append(f"{lock.name}: {name}=={entry.version} is outside pyproject's range {req}")

    # Reachability along the resolver's own notes: parent -> child.
    reachable = {n for n in wanted if n in by_name} | {"torch"}
    changed = True
    while changed:
        changed = False
        for entry in entries:
            if entry.name not in reachable and (entry.via & reachable):
                reachable.add(entry.name)
                changed = True
    for entry in entries:
        if entry.name not in reachable:
            why = ", ".join(sorted(entry.via)) or "nothing"
            problems.append(
                f"{lock.name}: {entry.name}=={entry.version} is not needed by pyproject.toml (via {why})"
            )

    # This environment holds exactly what the lock pins for it.
    for entry in entries:
        if entry.marker is not None and not entry.marker.evaluate():
            continue
        try:
            installed = Version(metadata.version(entry.name))
        except metadata.PackageNotFoundError:
            problems.append(f"{lock.name}: {entry.name}=={entry.version} is locked but not installed")
            continue
        if installed != entry.version:
            problems.append(
                f"{lock.name}: {entry.name} {installed} is installed where the lock pins {entry.version}"
            )
    return problems


def main(argv: list[str]) -> int:
    problems: list[str] = []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"pip install torch==(\S+)", readme))
    if shown != {str(torch_version())}:
        problems.append(
            f"README.md installs torch {sorted(shown)}, requirements/constraints.txt pins {torch_version()}"
        )
    installed_torch = Version(metadata.version("torch"))
    if installed_torch.public != str(torch_version()):
        problems.append(
            f"torch {installed_torch} is installed where requirements/constraints.txt pins {torch_version()}"
        )
    for pair in argv:  # a smaller lock installed into this environment too must agree with it
        path, _, extras = pair.partition(":")
        problems += check(Path(path), [e for e in extras.split(",") if e])
    for problem in problems:
        print(f"lock check: {problem}", file=sys.stderr)
    if problems:
        print("Fix pyproject.toml or refresh the locks with .ci/refresh-lock.", file=sys.stderr)
        return 1
    print(f"lock check: {', '.join(argv)} agree with pyproject.toml and this environment")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["requirements/test.lock:train,test", "requirements/app.lock:train"]))
