import os

import pytest

# Tests never reach the network: everything they need is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A private runs directory, so a test never sees (or leaves) another test's runs."""
    path = tmp_path / "runs"
    monkeypatch.setenv("FTUI_RUNS_DIR", str(path))
    return path
