"""The project's own rules, checked on every run of the suite (and so by CI): the installed environment
is the lock's, and the lock agrees with pyproject.toml."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# .ci/refresh-lock runs the suite on new locks before they replace requirements/*.lock.
LOCKS = Path(os.environ.get("FTUI_LOCK_DIR", ROOT / "requirements"))


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_locks_agree_with_pyproject_and_this_environment():
    result = run(
        sys.executable,
        ".ci/check_lock.py",
        f"{LOCKS / 'test.lock'}:train,test",
        f"{LOCKS / 'app.lock'}:train",
    )
    assert result.returncode == 0, result.stderr


def test_installed_packages_are_consistent():
    result = run(sys.executable, "-m", "pip", "check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted_and_lint_clean():
    paths = ("ftui", "tests", "benchmarks", ".ci")
    formatted = run(sys.executable, "-m", "ruff", "format", "--check", *paths)
    assert formatted.returncode == 0, f"run `ruff format {' '.join(paths)}`:\n{formatted.stdout}"
    linted = run(sys.executable, "-m", "ruff", "check", *paths)
    assert linted.returncode == 0, linted.stdout


def test_the_import_contracts_hold():
    """pyproject.toml's [tool.importlinter]: the core, the commands and the trainer free of the TUI,
    widgets free of screens, no cycles between ftui's parts."""
    contracts = run(
        sys.executable,
        "-c",
        "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
    )
    assert contracts.returncode == 0, contracts.stdout + contracts.stderr
    assert "0 broken" in contracts.stdout


def test_the_package_type_checks():
    """pyproject.toml's [tool.mypy] on ftui/: a new type error, or an ignore that is no longer needed, fails."""
    checked = run(sys.executable, "-m", "mypy", "--no-incremental")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found" in checked.stdout
