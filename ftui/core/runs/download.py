"""A model download as the training process's log shows it: huggingface_hub's tqdm bars, read back.

While a run loads its model it may download gigabytes; huggingface_hub draws a tqdm bar per file into
train.log (one redraw per `\\r`), e.g.

    model.safetensors:  45%|████▌     | 2.07G/4.60G [00:10<00:12, 201MB/s]

The run view shows the newest of them as its own progress bar (file, bytes, speed, ETA) instead of
hundreds of redraws in the log. Only bars counted in bytes are downloads: training's own bars count
steps (`it/s`, `s/it`) and stay in the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_SIZE = r"(?P<{0}>\d+(?:\.\d+)?)(?P<{0}_unit>[kKMGTP]?)B?"
_BAR = re.compile(
    r"^(?P<what>.*?):\s*(?P<percent>\d{1,3})%\|[^|]*\|\s*"
    + _SIZE.format("done")
    + r"/"
    + _SIZE.format("total")
    + r"\s*\[(?P<elapsed>[\d:]+)<(?P<eta>[\d:?]+),\s*(?:(?P<rate>\d+(?:\.\d+)?)(?P<rate_unit>[kKMGTP]?)|\?)B/s\]"
)

# A file whose size the server did not say: "config.json: 1.58kB [00:00, 4.09MB/s]".
_UNSIZED = re.compile(
    r"^(?P<what>[^|]*?):\s*"
    + _SIZE.format("done")
    + r"\s*\[(?P<elapsed>[\d:]+),\s*(?:(?P<rate>\d+(?:\.\d+)?)(?P<rate_unit>[kKMGTP]?)|\?)B/s\]"
)


@dataclass(frozen=True)
class Download:
    what: str  # the file (tqdm's description)
    done_bytes: float
    total_bytes: float  # 0 when the server did not say
    bytes_per_second: float | None
    eta_seconds: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else 0.0


def _seconds(clock: str) -> float | None:
    if "?" in clock:
        return None
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def parse_download(line: str) -> Download | None:
    """The download a log line draws, or None for any other line."""
    line = line.strip()
    match = _BAR.match(line) or _UNSIZED.match(line)
    if match is None:
        return None
    rate, sized = match["rate"], "total" in match.groupdict()
    return Download(
        what=match["what"].strip() or "the model",
        done_bytes=float(match["done"]) * _UNITS[match["done_unit"]],
        total_bytes=float(match["total"]) * _UNITS[match["total_unit"]] if sized else 0.0,
        bytes_per_second=float(rate) * _UNITS[match["rate_unit"]] if rate else None,
        eta_seconds=_seconds(match["eta"]) if sized else None,
    )


def size_words(count: float) -> str:
    """Bytes in tqdm's decimal units, as the Hub states file sizes: 4.6 GB, 201 MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count:.0f} B"
