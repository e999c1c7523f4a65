"""The live run: progress with ETA, the loss curve (train and eval), tokens per second, the GPU gauge with
the plan's estimate marked, the tail of the log, and for a run of several processes how it is spread over
GPUs and machines (ftui.widgets.run_spread). It reads the run directory only (train.log,
metrics.jsonl, status.json through ftui.core.runs), so it attaches to any run: one this ftui started, or
one started before ftui was last closed.

Every `poll_interval` a thread reads what is new through a RunTail (ftui.core.runs.tail: the offsets, and
a LineBuffer the new log lines go to) and the event loop only draws: the thread never touches a widget.
On attach, the log is read from its last TAIL_BYTES only, so a run of a million lines costs the same as a
short one.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from ftui.core.runs.download import Download, size_words
from ftui.core.runs.progress import Progress, clock
from ftui.core.runs.records import EvalRecord, RunStatus, TrainRecord
from ftui.core.runs.tail import RunTail, TailNews
from ftui.widgets.log_view import LogView
from ftui.widgets.loss_chart import LossChart
from ftui.widgets.plain_text import one_line
from ftui.widgets.run_spread import is_spread, spread_lines
from ftui.widgets.vram_gauge import VramGauge


def progress_line(progress: Progress, state: str | None, width: int) -> Text:
    text = Text(end="", no_wrap=True, overflow="ellipsis")
    done = progress.fraction
    bar_width = max(8, min(30, width - 62))
    filled = int(done * bar_width)
    text.append("█" * filled, "green")
    text.append("░" * (bar_width - filled), "dim")
    total = progress.max_steps or "?"
    text.append(f" {done:3.0%} step {progress.step}/{total}")
    live = state in ("starting", "running")
    text.append(f"  ETA {clock(progress.eta()) if live else '-'}")
    if progress.tokens_per_second:
        text.append(f"  {progress.tokens_per_second:,.0f} tok/s")
    if progress.loss is not None:
        text.append(f"  loss {progress.loss:.3f}")
    if progress.eval_loss is not None:
        text.append(f"  eval {progress.eval_loss:.3f}")
    return text


def download_line(download: Download, width: int) -> Text:
    """The model's download, as the progress line shows it while the run starts."""
    text = Text(end="", no_wrap=True, overflow="ellipsis")
    text.append(f"Downloading {one_line(download.what, 40)} ", "bold")
    if download.total_bytes:
        bar_width = max(8, min(30, width - 70))
        filled = int(download.fraction * bar_width)
        text.append("█" * filled, "cyan")
        text.append("░" * (bar_width - filled), "dim")
        text.append(f" {download.fraction:3.0%} {size_words(download.done_bytes)} of ")
        text.append(size_words(download.total_bytes))
    else:
        text.append(size_words(download.done_bytes))
    if download.bytes_per_second:
        text.append(f"  {size_words(download.bytes_per_second)}/s")
    if download.eta_seconds is not None:
        text.append(f"  ETA {clock(download.eta_seconds)}")
    return text


STATE_STYLE = {
    "starting": "yellow",
    "running": "green",
    "completed": "bold green",
    "failed": "bold red",
    "stopped": "yellow",
    "oom": "bold red",
}


def head_line(run_id: str, status: RunStatus | None) -> Text:
    text = Text(end="")
    text.append(run_id, "bold")
    if status is None:
        return text
    text.append("  ")
    text.append(status.state, STATE_STYLE.get(status.state, ""))
    if status.phase and status.is_live:
        text.append(f" ({one_line(status.phase)})", "dim")
    if status.device:
        text.append(f"  on {one_line(status.device)}", "dim")
    if status.error:
        text.append("\n")
        text.append(one_line(status.error), "red")
    for warning in status.warnings:
        text.append("\n")
        text.append(one_line(warning), "yellow")
    return text


class RunView(Vertical):
    DEFAULT_CSS = """
    RunView {
        height: 1fr;
        #run-head { height: auto; max-height: 4; }
        #run-progress { height: 1; }
        #run-spread { height: auto; max-height: 10; display: none; }
        #run-middle { height: auto; max-height: 14; }
        #run-chart { height: 8; width: 1fr; }
        #run-gauge { width: 1fr; }
        #run-log { height: 1fr; min-height: 4; border-top: solid $panel-lighten-2; }
    }
    """

    @dataclass
    class StateChanged(Message):
        """The run's state changed (the screen updates which of stop / kill / resume apply)."""

        run_id: str
        state: str | None

    def __init__(
        self,
        *,
        nvml: Any = None,
        gauge_interval: float = 1.0,
        poll_interval: float = 1.0,
        max_log_lines: int = 2000,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.nvml = nvml
        self.gauge_interval = gauge_interval
        self.poll_interval = poll_interval
        self.max_log_lines = max_log_lines
        self.run: Any = None  # ftui.core.runs.RunDirectory
        self.status: RunStatus | None = None
        self.progress = Progress()
        self._tail: RunTail | None = None  # the reader of the attached run (used in a thread)
        self._polling = False
        self._estimate_gib: float | None = None
        self._shown_head, self._head_lines, self._shown_progress = "", 1, ""
        self._gauge_read = time.monotonic()  # the gauge reads once when mounted
        self._here = socket.gethostname()
        self._run_gpus: tuple[int, ...] | None = None  # the attached run's settings.gpus, once read
        self._shown_spread = ""

    def compose(self) -> ComposeResult:
        yield Static(id="run-head")
        yield Static(id="run-progress")
        yield Static(id="run-spread")
        with Horizontal(id="run-middle"):
            yield LossChart(id="run-chart")
        yield LogView(max_lines=self.max_log_lines, id="run-log")

    def on_mount(self) -> None:
        self.set_interval(self.poll_interval, self.poll)

    def show_gauge(self) -> None:
        """Add the GPU gauge (the screen calls this once the probe found GPUs: without one, the gauge's
        card list belongs to the hardware step, not to a run)."""
        if not self.query(VramGauge):
            # The gauge reads the GPUs on this view's own tick (its timer set to an hour), so that its
            # redraw lands in the same frame as the log's and the chart's: one screen update a second.
            gauge = VramGauge(nvml=self.nvml, interval=3600, id="run-gauge")
            gauge.estimate_gib = self._estimate_gib
            self.query_one("#run-middle").mount(gauge)

    @property
    def estimate_gib(self) -> float | None:
        return self._estimate_gib

    @estimate_gib.setter
    def estimate_gib(self, value: float | None) -> None:
        self._estimate_gib = value
        for gauge in self.query(VramGauge):
            gauge.estimate_gib = value

    def attach(self, run: Any, process: Any = None) -> None:
        """Show `run` (a RunDirectory) from now on; its log from the last TAIL_BYTES, its metrics from the start."""
        self.run = run
        self._tail = RunTail(run, process, max_lines=self.max_log_lines)
        self.status = None
        self.progress = Progress()
        self.query_one(LossChart).clear()
        self.query_one(LogView).follow(self._tail.lines)
        self.query_one("#run-head", Static).update(Text(f"{run.run_id}  attaching…", "dim"))
        self.query_one("#run-progress", Static).update("")
        self.query_one("#run-spread", Static).display = False
        self._shown_head, self._head_lines, self._shown_progress = "", 1, ""
        self._run_gpus, self._shown_spread = None, ""
        self._polling = False
        self.call_later(self.poll)

    def set_process(self, process: Any) -> None:
        """The Popen of a training process this ftui (re)started for the attached run: reaped once it ends."""
        if self._tail is not None:
            self._tail.process = process

    async def poll(self) -> None:
        """One tick: read what is new in a thread, then draw it here.

        The reading runs in asyncio's thread pool rather than as a Textual worker: a worker posts state
        messages through the DOM on every start and end, which at two ticks a second cost more than the
        reading itself on a small machine."""
        # Only while shown: another step costs nothing; back here, reading resumes from the offsets.
        tail = self._tail
        if tail is None or self._polling or not self.screen.is_current:
            return
        self._polling = True
        if time.monotonic() - self._gauge_read >= self.gauge_interval:
            for gauge in self.query(VramGauge):
                self._gauge_read = time.monotonic()
                gauge.poll()  # read the GPUs alongside the files: both redraws land in one frame
        news: TailNews | None = None
        gpus: tuple[int, ...] | None = None
        try:
            news, gpus = await asyncio.to_thread(self._read, tail, self._run_gpus is None)
        except Exception as error:  # a damaged run directory must not take the app down
            if tail is self._tail:
                self.query_one(LogView).feed_lines([f"[ftui] reading the run failed: {error}"])
        finally:
            self._polling = False
        if news is not None and tail is self._tail:  # not a read of a run attached before this one
            if gpus is not None:
                self._run_gpus = gpus
            self._show(news)

    @staticmethod
    def _read(tail: RunTail, want_gpus: bool) -> tuple[TailNews, tuple[int, ...] | None]:
        """(In a thread.) What is new, and for a run of several processes the GPUs it was given (read once:
        which of this machine's GPUs a rank's local rank is)."""
        news = tail.read()
        gpus = None
        if want_gpus and is_spread(news.status):
            try:
                gpus = tuple(tail.run.config().settings.gpus)
            except Exception:  # a damaged config.toml: the ranks' GPUs are then their local ranks
                gpus = ()
        return news, gpus

    def _show(self, news: TailNews) -> None:
        chart = self.query_one(LossChart)
        for record in news.records:
            self.progress.add(record)
            if isinstance(record, TrainRecord) and record.loss is not None:
                chart.add_point("train", record.step, record.loss, redraw=False)
            elif isinstance(record, EvalRecord) and record.eval_loss is not None:
                chart.add_point("eval", record.step, record.eval_loss, redraw=False)
        # The log, the chart and the progress line change in one frame per tick, not three.
        self.query_one(LogView).flush()
        chart.redraw_soon()
        old_state = self.state
        self.status = news.status
        if not news.records:
            self.progress.add_status(self.status)
        # Repaint, relayout only when the head's height changes: a relayout of the whole screen twice a
        # second would be most of what watching a run costs.
        head = head_line(self.run.run_id, self.status)
        lines = head.plain.count("\n") + 1
        if head.plain != self._shown_head:
            self.query_one("#run-head", Static).update(head, layout=lines != self._head_lines)
            self._shown_head, self._head_lines = head.plain, lines
        if news.download is not None:  # still starting, and the log's newest bar is a download
            progress = download_line(news.download, self.size.width)
        else:
            progress = progress_line(self.progress, self.state, self.size.width)
        if progress.plain != self._shown_progress:
            self.query_one("#run-progress", Static).update(progress, layout=False)
            self._shown_progress = progress.plain
        self._show_spread()
        if self.state != old_state:
            self.post_message(self.StateChanged(self.run.run_id, self.state))

    def _live_gib(self) -> dict[int, float] | None:
        """This machine's GPUs' memory in use now, by index, as the gauge last read it through NVML; None
        without a GPU (or before the first reading): the panel then shows only what the run wrote."""
        for gauge in self.query(VramGauge):
            if gauge.samples is not None and gauge.samples.gpus:
                return {
                    gpu.index: gpu.memory_used_gib
                    for gpu in gauge.samples.gpus
                    if gpu.memory_used_gib is not None
                }
        return None

    def _show_spread(self) -> None:
        panel = self.query_one("#run-spread", Static)
        if not is_spread(self.status):
            panel.display = False
            return
        assert self.status is not None
        text = spread_lines(
            self.status, here=self._here, live_gib=self._live_gib(), gpus=self._run_gpus or ()
        )
        if text.plain != self._shown_spread:
            lines = text.plain.count("\n")
            panel.update(text, layout=lines != self._shown_spread.count("\n") or not panel.display)
            panel.display = True
            self._shown_spread = text.plain

    @property
    def state(self) -> str | None:
        return self.status.state if self.status is not None else None

    def loss_points(self) -> int:
        return sum(len(series.steps) for series in self.query_one(LossChart).series.values())
