"""Where rows come from: what a dataset path or Hub id stands for, and the kind of each file.

Shared by the readers (local files) and the Hub lookup (files in the local Hugging Face cache), which
both build a Source; neither imports the other for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftui.core.errors import UserError

SNIFF = 1 << 16

KINDS = ("jsonl", "json", "csv", "tsv", "parquet", "arrow")
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".arrow": "arrow",
}


class UnreadableDataError(UserError):
    """The file is not a dataset at all (binary, empty, wrong encoding, unknown layout): exit 1."""


@dataclass
class RawRow:
    line: (
        int  # where to point: the file line (JSONL, CSV) or the row number (JSON array, Parquet, Arrow, Hub)
    )
    value: Any = None  # the decoded row (a dict for every supported layout)
    problem: tuple[str, str] | None = None  # (kind, detail) when the row could not be decoded
    raw: bytes | None = None  # the row's bytes, for exact-duplicate detection
    file_line: int | None = None  # for a JSON array: the line its element starts on


@dataclass(frozen=True)
class Source:
    """Where rows come from: a file of a known kind, or a set of files standing for a Hub dataset."""

    name: str  # what the user typed
    kind: str  # the files' layout: jsonl, json, csv, tsv, parquet, arrow (or "stream")
    files: tuple[Path, ...]
    size: int  # bytes on disk
    origin: str = (
        "file"  # "file", "hub" (files in the local Hugging Face cache) or "stream" (the Hub, online)
    )

    @property
    def unit(self) -> str:
        # A JSON array is often one long line (json.dump's default), so its rows are counted instead.
        return "line" if self.kind in ("jsonl", "csv", "tsv") and self.origin == "file" else "row"

    def where(self, line: int, file_line: int | None = None) -> str:
        place = f"{self.unit.capitalize()} {line} of {self.label}"
        return f"{place} (line {file_line})" if file_line is not None else place

    @property
    def label(self) -> str:
        return Path(self.name).name if self.origin == "file" else self.name


_FOLDER_DEPTH = 3  # a dataset's files sit in the folder or a split folder or two below it
_FOLDER_ENTRIES = 20_000  # a folder holding more than this is not a dataset (a home directory, say)


def data_files(folder: Path) -> tuple[Path, ...]:
    found: list[Path] = []
    seen = 0
    root_depth = len(folder.parts)
    for directory, subfolders, files in os.walk(folder):
        depth = len(Path(directory).parts) - root_depth
        subfolders[:] = (
            [] if depth >= _FOLDER_DEPTH else sorted(d for d in subfolders if not d.startswith("."))
        )
        seen += len(files) + len(subfolders)
        if seen > _FOLDER_ENTRIES:
            raise UnreadableDataError(
                f"{folder} holds more than {_FOLDER_ENTRIES:,} files and folders, so it is not a dataset; "
                "point ftui at the data file or the folder that holds only the data."
            )
        for name in files:
            path = Path(directory) / name
            if path.suffix.lower() in _EXTENSIONS and not name.startswith(".") and path.is_file():
                found.append(path)
    found.sort()
    train = [p for p in found if "train" in p.name.lower()]
    return tuple(train or found)


def source_of_files(name: str, files: tuple[Path, ...], origin: str = "file") -> Source:
    kinds = {sniff_kind(f) for f in files}
    if len(kinds) > 1:
        raise UnreadableDataError(
            f"{name} mixes file types ({', '.join(sorted(kinds))}); keep one kind of file per dataset."
        )
    return Source(name, kinds.pop(), files, sum(f.stat().st_size for f in files), origin)


def sniff_kind(path: Path) -> str:
    """The layout of one file, from its first bytes and its extension; refuses binary and non-UTF-8 text."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF)
    shown = path.name
    if head.startswith(b"PAR1"):
        return "parquet"
    if (
        head.startswith(b"ARROW1")
        or head[:8] == b"\xff\xff\xff\xff\x00\x00\x00\x00"
        or path.suffix == ".arrow"
    ):
        return "arrow"
    if not head.strip():
        raise UnreadableDataError(f"{shown} is empty; give ftui a file with at least one row.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(head) > 3 and head[1:4:2] == b"\x00\x00" and b"\x00\x00\x00" not in head[:8]
    ):
        raise UnreadableDataError(
            f"{shown} is UTF-16 text, not UTF-8; re-save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)."
        )
    if b"\x00" in head:
        raise UnreadableDataError(
            f"{shown} is a binary file, not JSON, JSONL, CSV or Parquet; give ftui the dataset file itself."
        )
    _check_encoding(head, shown)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    if suffix in _EXTENSIONS and suffix not in (".json", ".jsonl", ".ndjson"):
        return _EXTENSIONS[suffix]
    if suffix in (".json", ".jsonl", ".ndjson"):
        raise UnreadableDataError(
            f"{shown} does not start with a JSON object or array; a dataset is a JSON array of rows or one JSON object per line."
        )
    first_line = text.split(b"\n", 1)[0]
    if b"\t" in first_line:
        return "tsv"
    if b"," in first_line:
        return "csv"
    raise UnreadableDataError(
        f"ftui cannot tell what {shown} holds; save it as .jsonl, .json, .csv, .tsv or .parquet with one row per record."
    )


def _check_encoding(head: bytes, shown: str) -> None:
    # A few bad rows are problems to list; a file that is mostly not UTF-8 is in another encoding.
    lines = head.split(b"\n")[:-1] or [head]
    bad = 0
    for line in lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    if bad and bad * 2 >= len(lines):
        raise UnreadableDataError(
            f"{shown} is not UTF-8 text (it looks like Latin-1 or Windows-1252); re-save it as UTF-8 (e.g. `iconv -f CP1252 -t UTF-8`)."
        )
