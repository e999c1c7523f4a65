"""Where runs and ftui's cache live: the flag, then ftui's variable, then the platform's directories."""

from __future__ import annotations

import sys

import pytest

from ftui.core.paths import cache_dir, runs_dir

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the XDG directories are Linux's")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("FTUI_RUNS_DIR", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_runs_default_to_the_users_data_directory(home):
    assert runs_dir() == home / ".local" / "share" / "ftui" / "runs"


def test_runs_follow_xdg_data_home(home, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(home.parent / "data"))
    assert runs_dir() == home.parent / "data" / "ftui" / "runs"


def test_ftui_runs_dir_wins_over_xdg_and_the_flag_over_both(home, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(home.parent / "data"))
    monkeypatch.setenv("FTUI_RUNS_DIR", "~/my-runs")
    assert runs_dir() == home / "my-runs"
    assert runs_dir("~/flag-runs") == home / "flag-runs"


def test_the_cache_follows_xdg_cache_home(home, monkeypatch):
    assert cache_dir() == home / ".cache" / "ftui"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home.parent / "cache"))
    assert cache_dir() == home.parent / "cache" / "ftui"
