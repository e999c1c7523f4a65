"""The knowledge base: models, licenses and GPUs, loaded from the data files in assets/ and checked.

Adding a model is a data edit (a [[model]] table in assets/models/<family>.toml), never a code change.
A broken entry is reported with its file and entry as a CatalogError, which the CLI prints as one
sentence; a traceback would tell the user nothing about which line of data to fix.

Reading and checking the files (ftui.core.catalog_files) costs ~50 ms, most of it the standard library's
pure-Python TOML parser, and every CLI call needs the catalog; so the checked catalog is kept in ftui's
cache (a pickle of the records, keyed by every data file's size and mtime and by the code that reads
them) and read back in a few ms. BENCHMARKS.md has the figures.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftui.core import fs
from ftui.core.catalog_records import (
    CHAT_TEMPLATES,
    COMMERCIAL_USE,
    KINDS,
    LICENSE_CLASSES,
    MODALITIES,
    MODEL_USE_CASES,
    CatalogError,
    Clause,
    Gpu,
    License,
    Model,
    UnslothRepos,
)
from ftui.core.dims import ModelDims
from ftui.core.errors import UserError
from ftui.core.hf_env import offline_variable
from ftui.core.paths import assets_dir, cache_dir

__all__ = [
    "CHAT_TEMPLATES",
    "COMMERCIAL_USE",
    "KINDS",
    "LICENSE_CLASSES",
    "MODALITIES",
    "MODEL_USE_CASES",
    "Catalog",
    "CatalogError",
    "Clause",
    "Gpu",
    "License",
    "Model",
    "UnslothRepos",
    "dims_for",
    "load_catalog",
]

Records = tuple[list[Model], list[License], list[Gpu]]


@dataclass
class Catalog:
    models: list[Model]
    licenses: list[License]
    gpus: list[Gpu]
    directory: Path
    _index: dict[str, Model] = field(default_factory=dict, repr=False)
    _licenses: dict[str, License] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        short: dict[str, list[Model]] = {}
        for model in self.models:
            for name in (model.hf_id, *model.unsloth.names(), *model.aliases):
                self._index.setdefault(name.lower(), model)
            short.setdefault(model.hf_id.split("/", 1)[1].lower(), []).append(model)
        for name, models in short.items():  # "Llama-3.1-8B" without the org, when only one repo has it
            if len(models) == 1:
                self._index.setdefault(name, models[0])
        self._licenses = {lic.id.lower(): lic for lic in self.licenses}

    def find(self, name: str) -> Model | None:
        """A model by hf_id, an Unsloth repo name, a former name, or the name without its org; any case."""
        key = name.strip().lower()
        for prefix in ("https://huggingface.co/", "hf://", "hf.co/"):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        return self._index.get(key.strip("/"))

    def license(self, license_id: str) -> License | None:
        return self._licenses.get(license_id.strip().lower())

    def license_of(self, model: Model) -> License:
        lic = self.license(model.license)
        assert lic is not None, "validated on load"
        return lic

    def gpu(self, name: str) -> Gpu | None:
        """A GPU by a forgiving name: "h100", "H100 80GB", "rtx 4090", "NVIDIA A100-SXM4-40GB"."""
        return _match_gpu(self.gpus, name)


# ---------------------------------------------------------------- loading


def load_catalog(directory: str | os.PathLike[str] | None = None) -> Catalog:
    """The catalog in `directory` (default: ftui's assets). Cached per directory; checked on load."""
    return _load_cached(str(Path(directory or assets_dir()).resolve()))


@functools.lru_cache(maxsize=8)
def _load_cached(directory: str) -> Catalog:
    root = Path(directory)
    cache, stamp = _cache_file(root), _stamp(root)
    records = _read_cache(cache, stamp) if cache and stamp else None
    if records is None:
        from ftui.core.catalog_files import read_catalog

        records = read_catalog(root)
        if cache and stamp:
            _write_cache(cache, stamp, records)
    models, licenses, gpus = records
    return Catalog(models=models, licenses=licenses, gpus=gpus, directory=root)


# The code whose output the cache holds: a change to any of these makes the cached records stale.
_CODE = ("catalog_records.py", "catalog_files.py", "dims.py")


def _cache_file(root: Path) -> Path | None:
    """Only ftui's own assets are cached (a copy a test edits is read each time); FTUI_NO_CACHE=1 turns it off."""
    if os.environ.get("FTUI_NO_CACHE") or root != assets_dir().resolve():
        return None
    key = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return cache_dir() / "catalog" / f"{key}.pickle"


def _stamp(root: Path) -> list[tuple[str, int, int]] | None:
    """Every data file and the code that reads them, by name, mtime and size; None when one is missing
    (the files are then read, and the missing one reported)."""
    here = Path(__file__).resolve().parent
    paths = [root / "licenses.toml", root / "gpus.toml", *sorted((root / "models").glob("*.toml"))]
    try:
        return [
            (str(p), (st := p.stat()).st_mtime_ns, st.st_size) for p in (*paths, *(here / c for c in _CODE))
        ]
    except OSError:
        return None


def _read_cache(cache: Path, stamp: list[tuple[str, int, int]]) -> Records | None:
    """The cached records when their stamp is this one. The stamp is read first, so that records written by
    other code are never unpickled; the cache is ftui's own file in the user's cache directory."""
    try:
        with cache.open("rb") as handle:
            if pickle.load(handle) != stamp:
                return None
            return pickle.load(handle)
    except Exception:  # noqa: BLE001 - no cache yet, or a partial or broken one: read the files instead
        return None


def _write_cache(cache: Path, stamp: list[tuple[str, int, int]], records: Records) -> None:
    """Best effort: a read-only home just means no cache."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            pickle.dump(stamp, handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(records, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, cache)
    except (OSError, pickle.PicklingError):
        pass


def _gpu_tokens(name: str) -> set[str]:
    import re

    words = [
        w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w not in ("nvidia", "geforce", "tesla")
    ]
    tokens = set(words)
    tokens.update(a + b for a, b in zip(words, words[1:], strict=False))  # "rtx 4090" -> "rtx4090"
    return tokens


def _match_gpu(gpus: list[Gpu], name: str) -> Gpu | None:
    import re

    tokens = _gpu_tokens(name)
    found = [gpu for gpu in gpus if tokens & set(gpu.keys)]
    if not found:
        return None
    sizes = {int(m.group(1)) for t in tokens if (m := re.fullmatch(r"(\d+)gb?", t))}
    if sizes:
        sized = [gpu for gpu in found if gpu.memory_gb in sizes]
        found = sized or found
    with_variant = [gpu for gpu in found if gpu.requires and set(gpu.requires) <= tokens]
    if with_variant:
        return with_variant[0]
    plain = [gpu for gpu in found if not gpu.requires] or found
    return next((gpu for gpu in plain if gpu.default), plain[0])


# ---------------------------------------------------------------- models outside the catalog


def dims_for(name_or_path: str, catalog: Catalog | None = None) -> ModelDims:
    """A model's dims: the catalog, else a local directory's config.json, else a config.json in the local
    HF cache, else (only when no offline variable is set: ftui.core.hf_env) the Hub with a short timeout."""
    from ftui.core import hub

    model = (catalog or load_catalog()).find(name_or_path)
    if model is not None:
        return model.dims

    path = fs.expand(name_or_path)
    if fs.is_dir(path):
        config = path / "config.json"
        if not config.is_file():
            raise UserError(
                f"{path} has no config.json; point ftui at a folder that holds a Hugging Face model."
            )
        return _dims_from_file(config)
    if path.suffix == ".json" and fs.is_regular_file(path):
        return _dims_from_file(path)
    if not hub.looks_like_repo_id(name_or_path):
        raise UserError(
            f"{name_or_path!r} is neither a catalog model, a local model folder nor a Hub repo id; "
            "check the name (`ftui models` lists the catalog)."
        )
    cached = hub.cached_config_path(name_or_path)
    if cached is not None:
        return _dims_from_file(cached)
    if variable := offline_variable():
        raise UserError(
            f"{name_or_path} is not in ftui's catalog or the local Hugging Face cache, and {variable} is set; "
            "download it first (`huggingface-cli download "
            f"{name_or_path} config.json`) or unset {variable}."
        )
    hub_config = hub.fetch_config(name_or_path)
    try:
        return dims_from_hf_config(hub_config)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"The config.json of {name_or_path} on the Hub lacks {error}; ftui cannot size this model."
        ) from None


def _dims_from_file(path: Path) -> ModelDims:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} could not be read as JSON ({error}); fix or replace the file.") from None
    try:
        return dims_from_hf_config(config)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"{path} lacks the field {error}; ftui needs a transformers config.json to size the model."
        ) from None


def dims_from_hf_config(config: dict[str, Any]) -> ModelDims:
    from ftui.core.dims import dims_from_hf_config as read

    return read(config)
