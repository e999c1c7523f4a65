"""The fast path for JSONL, the format big datasets come in: counting lines at memory speed, and
validating every row on all cores.

Counting maps the file and counts newline bytes with numpy in 256 KB blocks (with the scratch arrays
they stay in the CPU cache); empty lines are newlines that follow a newline. Validation splits the file into one byte
range per core, cut at newlines, and forks a worker per range (fork, so the workers share the
parent's hash seed for duplicate detection); each worker decodes with msgspec and fills a Tally.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from ftui.core.data.checker import RowChecker, Tally
from ftui.core.data.readers import JSON_ROW_ERRORS, NOT_UTF8, is_utf8, malformed_json

COUNT_BLOCK = 1 << 18  # fits the CPU cache, with the two boolean scratch arrays
RELEASE_EVERY = 1 << 25  # bytes of the mapping scanned between two madvise(DONTNEED) calls
CHECK_BLOCK = 1 << 21  # bytes decoded at a time by a validation worker: its transient memory
PARALLEL_FROM = 64 << 20  # below this, forking costs more than it saves


def count_lines(path: Path) -> int:
    """Non-empty lines of a text file (= rows of a JSONL file), at several GB/s.

    A line of only spaces counts here (full validation skips it); empty lines and "\\r" lines do not.
    One process: on this kind of memory-bound scan a second core measured slower, not faster.
    """
    newlines, blank, unterminated = _count_range(path, 0, path.stat().st_size)
    return newlines - blank + (1 if unterminated else 0)


def _count_range(path: Path, start: int, end: int) -> tuple[int, int, bool]:
    """(newlines, empty lines, whether the range ends inside a non-empty line) for [start, end)."""
    import mmap

    import numpy as np

    if end <= start:
        return 0, 0, False
    newline = np.empty(COUNT_BLOCK + 1, dtype=bool)
    pair = np.empty(COUNT_BLOCK, dtype=bool)
    newlines = blank = 0
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        # mmap, not read(): numpy reads the page cache in place, with no copy into a buffer.
        data = np.frombuffer(mapped, dtype=np.uint8)
        crlf = b"\r\n" in mapped[start : min(end, start + COUNT_BLOCK)]
        newline[0] = True  # a range starts at the start of a line: as if a newline came just before
        for block_start in range(start, end, COUNT_BLOCK):
            block = data[block_start : min(block_start + COUNT_BLOCK, end)]
            size = block.size
            np.equal(block, 10, out=newline[1 : size + 1])
            newlines += int(np.count_nonzero(newline[1 : size + 1]))
            np.logical_and(newline[1 : size + 1], newline[:size], out=pair[:size])  # "\n\n": an empty line
            blank += int(np.count_nonzero(pair[:size]))
            if crlf:
                blank += _crlf_blank_lines(data, block_start, size, start)
            newline[0] = newline[size]
            done = block_start + size - start
            if done % RELEASE_EVERY < COUNT_BLOCK and done >= RELEASE_EVERY:
                # Hand the pages read so far back (they stay in the page cache): mapped pages count as
                # this process's RSS, and a 1 GB file would otherwise show as 1 GB of memory.
                low = (block_start + size - RELEASE_EVERY) // mmap.PAGESIZE * mmap.PAGESIZE
                mapped.madvise(mmap.MADV_DONTNEED, low, block_start + size - low)
        last = bytes(mapped[max(start, end - 2) : end])
        del data, block  # release the buffer before the mapping closes
    ends_open = not last.endswith(b"\n") and last not in (b"\r",) and not last.endswith(b"\n\r")
    return newlines, blank, ends_open


def _crlf_blank_lines(data, block_start: int, size: int, range_start: int) -> int:
    # "\r\n" lines: a newline, a carriage return, a newline (CRLF files only: an extra pass).
    import numpy as np

    lo = max(block_start - 2, range_start)
    window = data[lo : block_start + size]
    ends = np.flatnonzero((window[2:] == 10) & (window[1:-1] == 13) & (window[:-2] == 10))
    count = int(ends.size)
    if block_start == range_start and size >= 2 and data[block_start] == 13 and data[block_start + 1] == 10:
        count += 1  # a "\r\n" line at the very start of the range
    return count


def _ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as handle:
        for part in range(1, parts):
            handle.seek(max(size * part // parts, cuts[-1]))
            handle.readline()  # move to the start of the next line
            cuts.append(min(handle.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def check_range(
    path: Path, start: int, end: int, make_checker: Callable[[], RowChecker]
) -> tuple[Tally, int]:
    """Validate the lines in [start, end); returns the tally (lines counted from 1) and the lines seen."""
    import msgspec

    decode = msgspec.json.Decoder().decode
    decode_errors: tuple[type[Exception], ...] = (msgspec.MsgspecError, *JSON_ROW_ERRORS)
    checker = make_checker()
    check = checker.check
    line = 0
    tail = b""
    with open(path, "rb") as handle:
        handle.seek(start)
        remaining = end - start
        first = start == 0
        while remaining > 0 or tail:
            block = handle.read(min(CHECK_BLOCK, remaining)) if remaining > 0 else b""
            remaining -= len(block)
            if first:
                block = block.removeprefix(b"\xef\xbb\xbf")
                first = False
            data = tail + block if tail else block
            if remaining > 0:
                cut = data.rfind(b"\n") + 1
                tail, data = data[cut:], data[:cut]
            else:
                tail = b""
            pieces = data.split(b"\n")
            if data.endswith(b"\n"):
                pieces.pop()
            # UTF-8 is checked on the bytes before parsing: once per block, and row by row only in a
            # block that fails (blocks end at line breaks, so no character is cut in two).
            block_is_utf8 = is_utf8(data)
            for raw in pieces:
                line += 1
                raw = raw.strip()
                if not raw:
                    continue
                if not block_is_utf8 and not is_utf8(raw):
                    check(line, None, NOT_UTF8, raw)
                    continue
                try:
                    value = decode(raw)
                except decode_errors as error:
                    check(line, None, malformed_json(error), raw)
                    continue
                check(line, value, None, raw)
    return checker.flush(), line


def _worker(args: tuple[Path, int, int, str, dict[str, str]]) -> tuple[Tally, int]:
    path, start, end, fmt, mapping = args
    return check_range(path, start, end, lambda: RowChecker(fmt, mapping))


def check_jsonl_parallel(
    path: Path,
    fmt: str,
    mapping: Mapping[str, str],
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Tally:
    """Validate a JSONL file on every core (estimated tokens; a tokenizer runs in one process instead).
    `progress` is called with the rows checked so far: every few thousand rows in one process, as each
    part finishes on several."""
    workers = workers or max(1, min(os.cpu_count() or 1, 8))
    size = path.stat().st_size
    if workers == 1 or size < PARALLEL_FROM:
        return check_range(path, 0, size, lambda: RowChecker(fmt, mapping, progress=progress))[0]
    import multiprocessing

    jobs = [(path, start, end, fmt, dict(mapping)) for start, end in _ranges(path, workers)]
    total = Tally()
    offset = 0
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        for tally, lines in pool.imap(_worker, jobs, chunksize=1):  # in order: lines add up
            total.merge(tally.shifted(offset))
            offset += lines
            if progress is not None:
                progress(total.rows)
    return total
