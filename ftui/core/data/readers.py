"""Reading a dataset row by row, whatever it is stored in, with memory bounded by the largest row.

Sources: a local JSON file (an array, read element by element, not loaded whole), JSONL, CSV/TSV,
Parquet, an Arrow file, or a Hugging Face dataset id (the local Hub or datasets cache first; the Hub
through `datasets` only when there is network). Every row comes with the 1-based line it starts on
(the row number for Parquet, Arrow and Hub datasets), so a problem can be pointed at.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftui.core import fs
from ftui.core.data.hub import find_hub_dataset, stream_hub_rows
from ftui.core.data.sources import RawRow, Source, UnreadableDataError, data_files, source_of_files

CHUNK = 1 << 20  # bytes read at a time; a row longer than this is read whole, nothing else is held


def open_source(source: str | os.PathLike[str]) -> Source:
    """Find out what `source` is, and refuse, in one sentence, what is not a dataset."""

    name = str(source)
    path = fs.expand(name)
    if fs.is_dir(path):
        if path.resolve() == Path("/").resolve() or path.resolve().is_relative_to("/proc"):
            raise UnreadableDataError(f"{name} is a system folder, not a dataset; point ftui at a data file.")
        files = data_files(path)
        if not files:
            raise UnreadableDataError(
                f"{name} is a folder with no .jsonl, .json, .csv, .tsv or .parquet files; point ftui at a data file."
            )
        return source_of_files(name, files)
    if fs.is_regular_file(path):
        return source_of_files(name, (path,))
    if fs.is_special(path):
        raise UnreadableDataError(
            f"{name} is not a regular file (a pipe or a device, which could be read forever); point ftui at a data file."
        )
    from ftui.core.hub import looks_like_repo_id

    if looks_like_repo_id(name):
        return find_hub_dataset(name)
    raise UnreadableDataError(
        f"There is no file {name}; check the path (or give a Hugging Face dataset id like owner/name)."
    )


# --- rows ------------------------------------------------------------------------------------------


def iter_rows(source: Source) -> Iterator[RawRow]:
    if source.origin == "stream":
        yield from stream_hub_rows(source)
        return
    offset = 0  # row numbers keep counting across the files of a multi-file dataset
    for path in source.files:
        last = 0
        for row in _READERS[source.kind](path):
            if offset:
                row.line += offset
            last = row.line
            yield row
        offset = last


NOT_UTF8 = ("not_utf8", "the row is not valid UTF-8 text")


def is_utf8(raw: bytes) -> bool:
    """Whether the bytes are UTF-8 text, decided by Python's own codec rather than by whichever error
    a JSON library raises for them (msgspec 0.23 calls it malformed JSON, earlier releases a Unicode error)."""
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def malformed_json(error: Exception) -> tuple[str, str]:
    if isinstance(error, RecursionError):
        return ("malformed_json", "the JSON is nested too deeply to be a row")
    return ("malformed_json", f"the JSON is malformed ({_short(str(error))})")


# What a JSON decoder may raise for a row's bytes: its own errors, and the recursion limit of deep nesting.
JSON_ROW_ERRORS: tuple[type[Exception], ...] = (ValueError, RecursionError)


def _decode_json(raw: bytes) -> tuple[Any, tuple[str, str] | None]:
    """A row's bytes checked as UTF-8 first, then parsed."""
    import msgspec

    if not is_utf8(raw):
        return None, NOT_UTF8
    try:
        return msgspec.json.decode(raw), None
    except (msgspec.MsgspecError, ValueError, RecursionError) as error:  # JSON_ROW_ERRORS and msgspec's own
        return None, malformed_json(error)


def _short(text: str) -> str:
    if text == "Input data was truncated":
        return "it ends before the row is complete"
    return text.replace("JSON is malformed: ", "")[:80]


def read_jsonl(path: Path) -> Iterator[RawRow]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            stripped = raw.strip()
            if number == 1:
                stripped = stripped.lstrip(b"\xef\xbb\xbf")
            if not stripped:
                continue
            value, problem = _decode_json(stripped)
            yield RawRow(number, value, problem, stripped)


# A JSON array is split into its elements without parsing it whole: strings are skipped in one regex
# step, brackets counted; each element is then decoded on its own. A string cut by a chunk boundary
# matches only the lone-quote branch, and the scanner reads more bytes before going on.
_ARRAY_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|["\[\]{}]', re.DOTALL)


def read_json_array(path: Path) -> Iterator[RawRow]:
    with open(path, "rb") as handle:
        buffer = handle.read(CHUNK)
        body = buffer.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not body.startswith(b"["):
            yield RawRow(1, None, ("malformed_json", "the file is not a JSON array"))
            return
        position = len(buffer) - len(body) + 1
        counted, line_base = 0, 1  # line_base = the line that byte `counted` of the buffer is on
        depth, element_start, eof = 0, -1, False
        number = 0  # elements so far

        def line_at(index: int) -> int:
            nonlocal counted, line_base
            line_base += buffer.count(b"\n", counted, index)
            counted = index
            return line_base

        while True:
            match = _ARRAY_TOKENS.search(buffer, position)
            if match is None or (match.group() == b'"' and not eof):
                if eof:
                    break
                keep = element_start if element_start >= 0 else (match.start() if match else len(buffer))
                line_at(keep)
                position = (match.start() if match else len(buffer)) - keep
                if element_start >= 0:
                    element_start = 0
                buffer, counted = buffer[keep:], 0
                more = handle.read(CHUNK)
                eof = not more
                buffer += more
                continue
            token = match.group()
            position = match.end()
            if token in (b"{", b"["):
                if depth == 0:
                    element_start = match.start()
                depth += 1
            elif token in (b"}", b"]"):
                if depth == 0:  # the array's own closing bracket
                    return
                depth -= 1
                if depth == 0:
                    raw = buffer[element_start:position]
                    value, problem = _decode_json(raw)
                    number += 1
                    yield RawRow(number, value, problem, raw, line_at(element_start))
                    element_start = -1
            elif depth == 0 and token != b'"':
                number += 1
                yield RawRow(
                    number,
                    None,
                    ("wrong_type", "the element is text, not an object with named fields"),
                    token,
                    line_at(match.start()),
                )
            elif token == b'"':  # an unterminated string at the end of the file
                break
        if element_start >= 0 or depth:
            where = line_at(max(element_start, 0))
            yield RawRow(
                number + 1,
                None,
                ("malformed_json", "the JSON array ends in the middle of a row (the file is cut short)"),
                None,
                where,
            )
        else:
            yield RawRow(
                number + 1,
                None,
                ("malformed_json", "the JSON array is never closed with ]"),
                None,
                line_at(position),
            )


def _read_delimited(path: Path, delimiter: str) -> Iterator[RawRow]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long answer is not an error
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        # strict: a quote left open to the end of the file is an error, not one field holding the rest.
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except (StopIteration, csv.Error):
            return
        header = [h.strip() for h in header]
        previous = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield RawRow(previous + 1, None, ("malformed_csv", f"the record cannot be read ({error})"))
                previous = reader.line_num
                continue
            line = previous + 1
            previous = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            joined = "\x1f".join(cells)
            raw = joined.encode("utf-8", "surrogateescape")
            if not joined.isascii():
                try:
                    joined.encode("utf-8")
                except UnicodeEncodeError:
                    yield RawRow(line, None, NOT_UTF8, raw)
                    continue
            row: dict[str, str | None] = dict(zip(header, cells, strict=False))
            if len(cells) < len(header):  # missing trailing cells read as absent, not as ""
                for name in header[len(cells) :]:
                    row.setdefault(name, None)
            yield RawRow(line, row, None, raw)


def read_csv(path: Path) -> Iterator[RawRow]:
    return _read_delimited(path, ",")


def read_tsv(path: Path) -> Iterator[RawRow]:
    return _read_delimited(path, "\t")


def _rows_of_batches(batches: Iterator[Any]) -> Iterator[RawRow]:
    import msgspec

    encode = msgspec.json.Encoder().encode
    number = 0
    for batch in batches:
        for row in batch.to_pylist():
            number += 1
            try:
                raw = encode(row)
            except (TypeError, msgspec.EncodeError):  # bytes or dates in a cell: compare by repr
                raw = repr(row).encode("utf-8", "backslashreplace")
            yield RawRow(number, row, None, raw)


def read_parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises ArrowInvalid/OSError for a damaged file
        raise UnreadableDataError(
            f"{path.name} is not a readable Parquet file ({_short(str(error))}); re-export it."
        ) from error
    yield from _rows_of_batches(parquet.iter_batches(batch_size=2048))


def read_arrow(path: Path) -> Iterator[RawRow]:
    import pyarrow as pa

    try:
        source = pa.memory_map(str(path))
        try:
            reader = pa.ipc.open_stream(source)  # what `datasets` writes into its cache
        except pa.ArrowInvalid:
            source.seek(0)
            file_reader = pa.ipc.open_file(source)
            reader = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
    except Exception as error:
        raise UnreadableDataError(
            f"{path.name} is not a readable Arrow file ({_short(str(error))}); re-export it."
        ) from error
    yield from _rows_of_batches(iter(reader))


_READERS = {
    "jsonl": read_jsonl,
    "json": read_json_array,
    "csv": read_csv,
    "tsv": read_tsv,
    "parquet": read_parquet,
    "arrow": read_arrow,
}
