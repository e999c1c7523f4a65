"""Hugging Face's conventions, in one place: where its caches are, and whether the Hub may be used.

huggingface_hub and datasets read these variables once, when they are imported (huggingface_hub.constants,
datasets.config), and importing them costs ftui's start-up; ftui reads the environment at call time by the
same rules, so that a changed HF_HOME (a test, a second shell) is honoured. tests/core/test_hf_env.py
checks these rules against huggingface_hub's own.
"""

from __future__ import annotations

import os
from pathlib import Path

# Each asks for no network. huggingface_hub reads the first two (TRANSFORMERS_OFFLINE is the older name);
# datasets reads HF_DATASETS_OFFLINE as well, and fetches through huggingface_hub, so both stop it.
HUB_OFFLINE_VARIABLES: tuple[str, ...] = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
DATASETS_OFFLINE_VARIABLES: tuple[str, ...] = (*HUB_OFFLINE_VARIABLES, "HF_DATASETS_OFFLINE")
_TRUE = ("1", "true", "yes", "on")


def offline_variable(*, for_datasets: bool = False) -> str | None:
    """The variable that keeps ftui off the Hub for a model (or, for_datasets, a dataset) lookup: the first
    one set to 1, true, yes or on, in any case; None when the Hub may be used."""
    names = DATASETS_OFFLINE_VARIABLES if for_datasets else HUB_OFFLINE_VARIABLES
    return next((name for name in names if os.environ.get(name, "").strip().lower() in _TRUE), None)


def hf_home() -> Path:
    """HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface."""
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
    )
    return _expanded(home)


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloaded repos: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE (its older
    name), else HF_HOME/hub."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return _expanded(os.environ[name])
    return hf_home() / "hub"


def datasets_cache_dir() -> Path:
    """Where datasets keeps the Arrow files it built: HF_DATASETS_CACHE, else HF_HOME/datasets."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return _expanded(os.environ["HF_DATASETS_CACHE"])
    return hf_home() / "datasets"


def _expanded(path: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(path)))
