"""A view's reader of one run: what it has read so far (offsets) and what is new since, read in a thread.

The TUI's run view keeps one RunTail per attached run and calls `read` off the event loop; new log lines
go into the tail's LineBuffer (not a widget: the view drains it on the event loop), the status and the
new metric records come back as the return value. Attaching another run makes another RunTail, so a
read of the previous run that finishes late has nowhere to put its lines.

On attach the log is read from its last `tail_bytes` only, so a run of a million lines costs the same as
a short one; a reader further behind than `skip_backlog_bytes` (a burst, or back from another screen)
jumps to the end rather than drawing what scrolled past.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from ftui.core.line_buffer import LineBuffer
from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.download import Download, parse_download
from ftui.core.runs.records import MetricRecord, RunStatus

TAIL_BYTES = 256 * 1024
MAX_READ_BYTES = 4 << 20  # per read: a burst beyond this is caught up over the next reads
SKIP_BACKLOG_BYTES = 16 << 20


@dataclass
class TailNews:
    """One read's news: the status, the metric records since the last read, and while the run is still
    starting the newest download bar of its log (None when there is none)."""

    status: RunStatus
    records: list[MetricRecord]
    download: Download | None = None


class RunTail:
    def __init__(
        self,
        run: RunDirectory,
        process: subprocess.Popen | None = None,
        *,
        max_lines: int = 2000,
        tail_bytes: int = TAIL_BYTES,
    ) -> None:
        self.run = run
        self.process = process  # the Popen when this ftui started the run: reaped once it ends
        self.lines = LineBuffer(max_lines, divert=self._took_download)
        self.download: Download | None = None  # the newest download bar seen in the log
        self.tail_bytes = tail_bytes
        try:
            size = run.log_path.stat().st_size
        except OSError:
            size = 0
        self.log_offset = max(0, size - tail_bytes)
        self.metrics_offset = 0

    def read(self) -> TailNews:
        """(In a thread.) The status, the new log lines (into `lines`) and the new metric records."""
        process = self.process
        if process is not None:
            process.poll()  # reap our own child once it ends, so no zombie lingers
        status = self.run.status()
        offset = start = self.log_offset
        try:
            backlog = self.run.log_path.stat().st_size - offset
        except OSError:
            backlog = 0
        if backlog > SKIP_BACKLOG_BYTES:
            offset = start = offset + backlog - self.tail_bytes
            self.lines.add(
                [f"[ftui] skipped {(backlog - self.tail_bytes) / 2**20:.0f} MiB of the log to show its end"]
            )
        while offset - start < MAX_READ_BYTES:
            text, new_offset = self.run.read_log(offset)
            if new_offset == offset:
                break
            offset = new_offset
            self.lines.feed(text)
        newest = parse_download(self.lines.partial)  # tqdm's latest redraw has no line end yet
        if newest is not None:
            self.download = newest
        records, self.metrics_offset = self.run.read_metrics(self.metrics_offset)
        self.log_offset = offset
        return TailNews(status, records, self.download if status.state == "starting" else None)

    def _took_download(self, line: str) -> bool:
        """(LineBuffer's divert.) A download bar is kept as `download`, not as a log line."""
        download = parse_download(line)
        if download is None:
            return False
        self.download = download
        return True
