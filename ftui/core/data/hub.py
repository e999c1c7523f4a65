"""A Hugging Face dataset id as a source: the local caches first, the Hub (through `datasets`) when online.

Offline, nothing is downloaded and `datasets` is not imported: the Hub cache
(~/.cache/huggingface/hub/datasets--owner--name/snapshots/...) holds the dataset's own files, which
the ordinary readers read; the `datasets` cache (~/.cache/huggingface/datasets/owner___name/...) holds
Arrow files. Online, `datasets.load_dataset(id, split="train", streaming=True)` streams rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ftui.core.data.readers import RawRow, Source, UnreadableDataError, _data_files, _source_of_files


def _offline() -> bool:
    return any(
        os.environ.get(flag, "").lower() in ("1", "true", "yes", "on")
        for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return home / "hub"


def datasets_cache() -> Path:
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"])
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return home / "datasets"


def find_hub_dataset(dataset_id: str) -> Source:
    owner, name = dataset_id.split("/", 1)
    snapshots = hub_cache() / f"datasets--{owner}--{name}" / "snapshots"
    if snapshots.is_dir():
        # The newest snapshot that has data files (refs/main names it, but any complete one will do).
        for snapshot in sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            files = _data_files(snapshot)
            if files:
                return _source_of_files(dataset_id, files, origin="hub")
    built = datasets_cache() / f"{owner}___{name}"
    if built.is_dir():
        arrows = sorted(built.rglob("*-train*.arrow")) or sorted(built.rglob("*.arrow"))
        if arrows:
            newest = max(arrows, key=lambda p: p.stat().st_mtime).parent
            files = tuple(sorted(p for p in arrows if p.parent == newest))
            return Source(dataset_id, "arrow", files, sum(p.stat().st_size for p in files), "hub")
    if _offline():
        raise UnreadableDataError(
            f"{dataset_id} is not a local file and not in the Hugging Face cache, and the Hub is off (HF_HUB_OFFLINE); "
            "download it first or give a file path."
        )
    return Source(dataset_id, "stream", (), 0, "stream")


def stream_hub_rows(source: Source) -> Iterator[RawRow]:
    import msgspec

    try:
        import datasets  # only on this path: it is heavy and pulls in the training stack
    except ImportError as error:
        raise UnreadableDataError(
            f"Reading {source.name} from the Hub needs the `datasets` package; pip install 'ftui[train]' or give a file path."
        ) from error
    try:
        stream = datasets.load_dataset(source.name, split="train", streaming=True)
    except Exception as error:  # no network, no such dataset, gated: all end the same way for the user
        raise UnreadableDataError(
            f"ftui cannot read {source.name} from the Hugging Face Hub ({str(error).splitlines()[0][:120]}); check the id and your connection."
        ) from error
    encode = msgspec.json.Encoder().encode
    for number, row in enumerate(stream, 1):
        try:
            raw = encode(row)
        except (TypeError, msgspec.EncodeError):
            raw = repr(row).encode("utf-8", "backslashreplace")
        yield RawRow(number, row, None, raw)
