"""A loss curve drawn with Unicode braille, for one run (train and eval) or several overlaid.

No plotting library: a braille cell holds 2x4 dots, so an 80-column terminal gives a 140-dot-wide plot,
plenty for a loss curve, and drawing it is a few list operations. Points are downsampled to the plot's
width on every draw (the mean of the points that fall in each dot column), and a series keeps at most
`MAX_POINTS` points (halved by averaging pairs when full), so a long run costs bounded memory and time.
New points mark the chart dirty and schedule one redraw, so it redraws at most `max_redraws_per_second`
times a second, and not at all while nothing arrives.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

MAX_POINTS = 4096
_BRAILLE = 0x2800
# Dot bit for (x within cell 0-1, y within cell 0-3, top to bottom).
_DOT = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


@dataclass
class Series:
    label: str
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: float, value: float) -> None:
        if not math.isfinite(value):
            return  # a NaN loss is reported in the log; it has no place on the axis
        self.steps.append(step)
        self.values.append(value)
        if len(self.steps) > MAX_POINTS:
            self.steps = [(a + b) / 2 for a, b in zip(self.steps[::2], self.steps[1::2], strict=False)]
            self.values = [(a + b) / 2 for a, b in zip(self.values[::2], self.values[1::2], strict=False)]


def downsample(
    steps: list[float], values: list[float], x0: float, x1: float, columns: int
) -> list[float | None]:
    """The mean value per column of `columns` equal bins over [x0, x1]; None where a bin is empty."""
    sums = [0.0] * columns
    counts = [0] * columns
    span = (x1 - x0) or 1.0
    for step, value in zip(steps, values, strict=False):
        column = int((step - x0) / span * (columns - 1) + 0.5)
        if 0 <= column < columns:
            sums[column] += value
            counts[column] += 1
    return [s / c if c else None for s, c in zip(sums, counts, strict=False)]


def _label(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def draw(
    series: list[Series],
    width: int,
    height: int,
    styles: list[Style],
    axis: Style,
    empty: str = "no loss logged yet",
) -> Text:
    """The chart as `height` lines of `width` cells: y labels on the left, steps along the bottom."""
    label_width = 6
    plot_w = max(1, width - label_width - 1)
    plot_h = max(1, height - 1)
    drawn = [s for s in series if s.steps]
    if not drawn:
        return Text(empty, style=axis, end="")
    x0 = min(s.steps[0] for s in drawn)
    x1 = max(s.steps[-1] for s in drawn)
    dots_w, dots_h = plot_w * 2, plot_h * 4
    columns = [downsample(s.steps, s.values, x0, x1, dots_w) for s in drawn]
    present = [v for col in columns for v in col if v is not None]
    low, high = min(present), max(present)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    cells = [[0] * plot_w for _ in range(plot_h)]
    owner = [[-1] * plot_w for _ in range(plot_h)]

    def row_of(value: float) -> int:
        return min(dots_h - 1, max(0, round((high - value) / (high - low) * (dots_h - 1))))

    def dot(x: int, y: int, index: int) -> None:
        cells[y // 4][x // 2] |= _DOT[x % 2][y % 4]
        owner[y // 4][x // 2] = index

    for index, col in enumerate(columns):
        previous: tuple[int, int] | None = None
        for x, value in enumerate(col):
            if value is None:
                continue
            y = row_of(value)
            if previous is None:
                dot(x, y, index)
            else:
                # A straight line from the previous point, one dot column at a time, each column's dots
                # joined vertically to the last so that steep drops have no gaps.
                px, py = previous
                last_y = py
                for xx in range(px + 1, x + 1):
                    yy = round(py + (y - py) * (xx - px) / (x - px))
                    for fill in range(min(yy, last_y), max(yy, last_y) + 1):
                        dot(xx, fill, index)
                    last_y = yy
            previous = (x, y)

    text = Text(end="")
    for row in range(plot_h):
        if row == 0:
            label = _label(high)
        elif row == plot_h - 1:
            label = _label(low)
        elif row == plot_h // 2 and plot_h >= 5:
            label = _label((high + low) / 2)
        else:
            label = ""
        text.append(f"{label:>{label_width}}", axis)
        text.append("┤" if label else "│", axis)
        for column in range(plot_w):
            bits = cells[row][column]
            if bits:
                text.append(chr(_BRAILLE + bits), styles[owner[row][column] % len(styles)])
            else:
                text.append(" ")
        text.append("\n")
    first, last = f"{x0:g}", f"step {x1:g}"
    gap = max(1, plot_w - len(first) - len(last))
    text.append(" " * label_width + "└" + first + " " * gap + last, axis)
    return text


class LossChart(Widget):
    """Loss against step for one or more series; `add_point` as metrics arrive, `set_series` for a compare."""

    COMPONENT_CLASSES = {
        "loss-chart--axis",
        "loss-chart--series-0",
        "loss-chart--series-1",
        "loss-chart--series-2",
        "loss-chart--series-3",
        "loss-chart--series-4",
        "loss-chart--series-5",
    }
    DEFAULT_CSS = """
    LossChart {
        height: 1fr;
        min-height: 5;
        .loss-chart--axis { color: $text-muted; }
        .loss-chart--series-0 { color: $accent; }
        .loss-chart--series-1 { color: $warning; }
        .loss-chart--series-2 { color: $success; }
        .loss-chart--series-3 { color: $error; }
        .loss-chart--series-4 { color: $secondary; }
        .loss-chart--series-5 { color: $primary; }
    }
    """

    def __init__(
        self,
        max_redraws_per_second: float = 2.0,
        *,
        empty: str = "no loss logged yet",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.series: dict[str, Series] = {}
        self.empty = empty
        self._dirty = False
        self._scheduled = False
        self._last_redraw = 0.0
        self._interval = 1.0 / max_redraws_per_second
        self.redraws = 0  # how often the curve was drawn, for the benchmark and the tests

    def add_point(self, series: str, step: float, value: float, *, redraw: bool = True) -> None:
        """Add a point; with `redraw`, schedule the (rate-limited) redraw. A caller adding many points
        in one go passes redraw=False and calls `redraw_soon()` once after them."""
        self.series.setdefault(series, Series(series)).add(step, value)
        self._dirty = True
        if redraw:
            self.redraw_soon()

    def redraw_soon(self) -> None:
        """Redraw now if the last redraw is long enough ago, else once the rate allows (one-shot: a chart
        with nothing new costs no timer ticks, and a redraw now lands in the caller's frame)."""
        if not self._dirty or self._scheduled or not self.is_mounted:
            return
        wait = self._last_redraw + self._interval - time.monotonic()
        if wait <= 0:
            self._redraw_if_dirty()
        else:
            self._scheduled = True
            self.set_timer(wait, self._redraw_if_dirty)

    @property
    def redraw_pending(self) -> bool:
        """Points have arrived that are not drawn yet (a redraw is due or scheduled)."""
        return self._dirty or self._scheduled

    def set_series(self, series: list[Series]) -> None:
        self.series = {s.label: s for s in series}
        self.refresh()

    def clear(self) -> None:
        self.series = {}
        self.refresh()

    def _redraw_if_dirty(self) -> None:
        self._scheduled = False
        if self._dirty:
            self._dirty = False
            self._last_redraw = time.monotonic()
            self.refresh()

    def legend(self) -> Text:
        """The series names in their colours, for a border title or a line under the chart."""
        text = Text(end="")
        for index, label in enumerate(self.series):
            if index:
                text.append("  ")
            text.append("⣿ ", self.get_component_rich_style(f"loss-chart--series-{index % 6}", partial=True))
            text.append(label)
        return text

    def render(self) -> RenderableType:
        self.redraws += 1
        styles = [self.get_component_rich_style(f"loss-chart--series-{i}", partial=True) for i in range(6)]
        axis = self.get_component_rich_style("loss-chart--axis", partial=True)
        return draw(list(self.series.values()), self.size.width, self.size.height, styles, axis, self.empty)
