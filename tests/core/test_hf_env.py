"""Hugging Face's cache locations and offline flag, read by ftui the way huggingface_hub reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftui.core.data.readers import open_source
from ftui.core.data.sources import UnreadableDataError
from ftui.core.hf_env import datasets_cache_dir, hub_cache_dir, offline_variable

CACHE_VARIABLES = (
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_DATASETS_CACHE",
    "XDG_CACHE_HOME",
)
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home of our own, and none of the variables set (the suite's conftest sets the offline ones)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in CACHE_VARIABLES + OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


# Each case: the variables set (values under {tmp} are made absolute), then where the two caches are.
CACHE_CASES = [
    ({}, "home/.cache/huggingface/hub", "home/.cache/huggingface/datasets"),
    ({"XDG_CACHE_HOME": "{tmp}/xdg"}, "xdg/huggingface/hub", "xdg/huggingface/datasets"),
    ({"XDG_CACHE_HOME": "{tmp}/xdg", "HF_HOME": "{tmp}/hf"}, "hf/hub", "hf/datasets"),
    ({"HF_HOME": "~/hf"}, "home/hf/hub", "home/hf/datasets"),
    ({"HF_HOME": "{tmp}/hf", "HUGGINGFACE_HUB_CACHE": "{tmp}/old"}, "old", "hf/datasets"),
    (
        {"HF_HOME": "{tmp}/hf", "HUGGINGFACE_HUB_CACHE": "{tmp}/old", "HF_HUB_CACHE": "{tmp}/new"},
        "new",
        "hf/datasets",
    ),
    ({"HF_HOME": "{tmp}/hf", "HF_DATASETS_CACHE": "{tmp}/ds"}, "hf/hub", "ds"),
]


@pytest.mark.parametrize(("variables", "hub", "datasets"), CACHE_CASES)
def test_the_cache_locations(home, monkeypatch, variables, hub, datasets):
    tmp = home.parent
    for name, value in variables.items():
        monkeypatch.setenv(name, value.format(tmp=tmp))
    assert hub_cache_dir() == tmp / hub
    assert datasets_cache_dir() == tmp / datasets


def test_the_hub_cache_is_where_huggingface_hub_puts_it(home):
    """huggingface_hub's own answer, in a fresh process per case (it reads the variables on import)."""
    tmp = home.parent
    probe = (
        "import json, huggingface_hub.constants as c; from ftui.core.hf_env import hub_cache_dir;"
        "print(json.dumps([c.HF_HUB_CACHE, str(hub_cache_dir())]))"
    )
    for variables, hub, _ in CACHE_CASES:
        env = {k: v for k, v in os.environ.items() if k not in CACHE_VARIABLES}
        env.update({name: value.format(tmp=tmp) for name, value in variables.items()})
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        theirs, ours = json.loads(result.stdout)
        assert Path(theirs) == Path(ours) == tmp / hub, variables


@pytest.mark.parametrize(
    ("variables", "for_models", "for_datasets"),
    [
        ({}, None, None),
        ({"HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE", "HF_HUB_OFFLINE"),
        ({"TRANSFORMERS_OFFLINE": "yes"}, "TRANSFORMERS_OFFLINE", "TRANSFORMERS_OFFLINE"),
        ({"HF_DATASETS_OFFLINE": "ON"}, None, "HF_DATASETS_OFFLINE"),
        ({"HF_HUB_OFFLINE": " True "}, "HF_HUB_OFFLINE", "HF_HUB_OFFLINE"),
        ({"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "false", "HF_DATASETS_OFFLINE": ""}, None, None),
        (
            {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "1"},
            "TRANSFORMERS_OFFLINE",
            "TRANSFORMERS_OFFLINE",
        ),
        ({"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE", "HF_HUB_OFFLINE"),
        ({"HF_HUB_OFFLINE": "no", "HF_DATASETS_OFFLINE": "1"}, None, "HF_DATASETS_OFFLINE"),
    ],
)
def test_the_offline_flag(home, monkeypatch, variables, for_models, for_datasets):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert offline_variable() == for_models
    assert offline_variable(for_datasets=True) == for_datasets


def test_a_dataset_in_the_xdg_cache_is_found(home, monkeypatch):
    """The dataset lookup follows XDG_CACHE_HOME like the model lookup (it used to ignore it)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(home.parent / "xdg"))
    snapshot = home.parent / "xdg" / "huggingface" / "hub" / "datasets--someone--tiny" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "train.jsonl").write_text('{"text": "a"}\n')
    source = open_source("someone/tiny")
    assert (source.origin, source.files) == ("hub", (snapshot / "train.jsonl",))


def test_a_missing_dataset_names_the_variable_that_keeps_ftui_offline(home, monkeypatch):
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(UnreadableDataError, match=r"the Hub is off \(TRANSFORMERS_OFFLINE\)"):
        open_source("nobody/nothing")
