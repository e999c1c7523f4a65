"""A run's progress as both the CLI and the TUI show it: step, rate, ETA, last losses, and durations.

One implementation, so `ftui train`'s progress lines and the train step's progress bar can never show
different ETAs for the same run. Fed the typed metric records of ftui.core.runs.records.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ftui.core.runs.records import (
    EvalRecord,
    MetricRecord,
    ResumeRecord,
    RunStatus,
    SummaryRecord,
    TrainRecord,
)

ETA_WINDOW = 20  # train records the step rate is measured over


def eta_seconds(points: list[tuple[float, int]], max_steps: int | None) -> float | None:
    """Seconds left at the rate of the recent (time, step) points; None until two points differ."""
    if not max_steps or len(points) < 2:
        return None
    (t0, s0), (t1, s1) = points[0], points[-1]
    if s1 <= s0 or t1 <= t0:
        return None
    return max(0.0, (max_steps - s1) * (t1 - t0) / (s1 - s0))


def clock(seconds: float | None) -> str:
    """A duration as a clock: 1:02:05, 1:05; "--:--" when unknown."""
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:d}:{secs:02d}"


def duration_words(seconds: float) -> str:
    """A longer duration, as the estimator gives a whole run's time: "40 s", "46 min", "3.5 h"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"


@dataclass
class Progress:
    """What the records said so far; the progress line (CLI) and bar (TUI) are drawn from this."""

    step: int = 0
    max_steps: int | None = None
    loss: float | None = None
    eval_loss: float | None = None
    tokens_per_second: float | None = None
    learning_rate: float | None = None
    gpu_mem_gib: float | None = None
    peak_gib: float | None = None
    warning: str | None = None
    points: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=ETA_WINDOW))

    def add(self, record: MetricRecord) -> None:
        self.step = record.step
        if record.max_steps:
            self.max_steps = record.max_steps
        if isinstance(record, ResumeRecord):
            self.points.clear()  # the rate before the restart says nothing about the rate now
        elif isinstance(record, TrainRecord):
            if record.loss is not None:
                self.loss = record.loss
            if record.tokens_per_second:
                self.tokens_per_second = record.tokens_per_second
            self.learning_rate = record.learning_rate
            self.warning = record.warning
            if record.time is not None:
                self.points.append((record.time, record.step))
        elif isinstance(record, EvalRecord) and record.eval_loss is not None:
            self.eval_loss = record.eval_loss
        if isinstance(record, TrainRecord | EvalRecord | SummaryRecord):
            if record.gpu_mem_gib is not None:
                self.gpu_mem_gib = record.gpu_mem_gib
            if record.gpu_peak_gib is not None:
                self.peak_gib = record.gpu_peak_gib

    def add_status(self, status: RunStatus) -> None:
        """A status that is ahead of the records read so far (a resumed run before its first log)."""
        if status.step and status.step > self.step:
            self.step = status.step
        if status.max_steps and not self.max_steps:
            self.max_steps = status.max_steps

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.max_steps) if self.max_steps else 0.0

    def eta(self) -> float | None:
        return eta_seconds(list(self.points), self.max_steps)
