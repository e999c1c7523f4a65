import importlib.util
import os
from pathlib import Path

import pytest

# Tests never reach the network: everything they need is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Every run of the suite behaves as CI runs it: CI services (ours, GitHub's, GitLab's) set CI, and libraries
# change on it (torch raises where it would warn on a custom operator's aliasing; hypothesis derandomizes).
# A local run that passed while CI failed cost a whole submission once (2026-11-30: a sharded run's
# generation), so the suite never runs without it.
os.environ.setdefault("CI", "1")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A private runs directory, so a test never sees (or leaves) another test's runs."""
    path = tmp_path / "runs"
    monkeypatch.setenv("FTUI_RUNS_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def sp_model(tmp_path_factory) -> Path:
    """The tiny Llama with a sentencepiece tokenizer (llama.cpp's converter reads it)."""
    from tests.helpers.tiny_model import tiny_llama_for_session

    return tiny_llama_for_session(tmp_path_factory, tokenizer="sentencepiece")


@pytest.fixture(scope="session")
def export_runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export-runs")


@pytest.fixture(scope="session")
def finished_run(sp_model, export_runs, tmp_path_factory) -> Path:
    """A completed LoRA run of the tiny model, with an eval split and held-out samples, trained once per
    session (tests/helpers/finished_run.py); tests that write into a run use a copy of it."""
    from tests.helpers.finished_run import train_finished_run

    return train_finished_run(sp_model, export_runs, tmp_path_factory.mktemp("export-data"))


def pytest_configure(config):
    # PyPI's torchvision does not load beside the CPU build of torch on this machine, and once transformers
    # has seen it fail it cannot import its models (LlamaConfig) for the rest of the session: hide it for
    # the whole session, as the trainer does in its own process, whichever test imports transformers first.
    if importlib.util.find_spec("torchvision") is not None:
        from ftui.trainer.compat import hide_broken_torchvision

        hide_broken_torchvision()
