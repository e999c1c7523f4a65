"""Following a run from its files: what is new in train.log and metrics.jsonl, until it ends.

Works on any run, also one started by an earlier ftui or on another host with shared storage. The CLI
prints what this yields; the TUI's run view reads the same files on its own tick.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.records import MetricRecord, RunStatus


def wait_until_final(run: RunDirectory, *, timeout: float | None = None, poll: float = 0.5) -> RunStatus:
    """The status once the run is in a final state, or when `timeout` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = run.status()
        if status.is_final:
            return status
        if deadline is not None and time.monotonic() > deadline:
            return status
        time.sleep(poll)


@dataclass
class FollowEvent:
    """What `follow` yields: new log text, new metric records, and the status when it changed."""

    log: str
    metrics: list[MetricRecord]
    status: RunStatus | None


def follow(
    run: RunDirectory,
    *,
    log_offset: int = 0,
    metrics_offset: int = 0,
    poll: float = 0.5,
    process: subprocess.Popen | None = None,
) -> Iterator[FollowEvent]:
    """Attach to a run: yield what is new in train.log and metrics.jsonl until the run reaches a final
    state (then one last event with everything that was left). `process`, when this ftui started it, is
    reaped so that it does not linger."""
    last_state = None
    while True:
        if process is not None:
            process.poll()
        status = run.status()
        text, log_offset = run.read_log(log_offset)
        records, metrics_offset = run.read_metrics(metrics_offset)
        key = (status.state, status.phase)
        changed = status if key != last_state else None
        last_state = key
        if text or records or changed:
            yield FollowEvent(text, records, changed)
        if status.is_final:
            if process is not None:
                # Our own child: wait for it to exit, so that its GPU memory is free when we return.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=120)
            text, log_offset = run.read_log(log_offset)
            records, metrics_offset = run.read_metrics(metrics_offset)
            if text or records:
                yield FollowEvent(text, records, None)
            return
        time.sleep(poll)
