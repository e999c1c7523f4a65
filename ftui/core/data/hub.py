"""A Hugging Face dataset id as a source: the local caches first, the Hub (through `datasets`) when online.

Offline, nothing is downloaded and `datasets` is not imported: the Hub cache
(~/.cache/huggingface/hub/datasets--owner--name/snapshots/...) holds the dataset's own files, which
the ordinary readers read; the `datasets` cache (~/.cache/huggingface/datasets/owner___name/...) holds
Arrow files. Online, `datasets.load_dataset(id, split="train", streaming=True)` streams rows.
"""

from __future__ import annotations

from collections.abc import Iterator

from ftui.core.data.sources import RawRow, Source, UnreadableDataError, data_files, source_of_files
from ftui.core.hf_env import datasets_cache_dir, hub_cache_dir, offline_variable


def find_hub_dataset(dataset_id: str) -> Source:
    owner, name = dataset_id.split("/", 1)
    snapshots = hub_cache_dir() / f"datasets--{owner}--{name}" / "snapshots"
    if snapshots.is_dir():
        # The newest snapshot that has data files (refs/main names it, but any complete one will do).
        for snapshot in sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            files = data_files(snapshot)
            if files:
                return source_of_files(dataset_id, files, origin="hub")
    built = datasets_cache_dir() / f"{owner}___{name}"
    if built.is_dir():
        arrows = sorted(built.rglob("*-train*.arrow")) or sorted(built.rglob("*.arrow"))
        if arrows:
            newest = max(arrows, key=lambda p: p.stat().st_mtime).parent
            files = tuple(sorted(p for p in arrows if p.parent == newest))
            return Source(dataset_id, "arrow", files, sum(p.stat().st_size for p in files), "hub")
    if variable := offline_variable(for_datasets=True):
        raise UnreadableDataError(
            f"{dataset_id} is not a local file and not in the Hugging Face cache, and the Hub is off ({variable}); "
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
