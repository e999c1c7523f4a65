import importlib.util
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


def pytest_configure(config):
    # PyPI's torchvision does not load beside the CPU build of torch on this machine, and once transformers
    # has seen it fail it cannot import its models (LlamaConfig) for the rest of the session: hide it for
    # the whole session, as the trainer does in its own process, whichever test imports transformers first.
    if importlib.util.find_spec("torchvision") is not None:
        from ftui.trainer.compat import hide_broken_torchvision

        hide_broken_torchvision()
