"""Step 7: the runs. Every run in the runs directory, live or finished (Enter re-attaches to it), the loss
curves of the selected runs overlaid, and their sample generations side by side: "fine-tune the instruct
and the base, then compare". A run can be renamed (its label), deleted, or be the start of a new run
with its settings."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from ftui.core.runs.progress import clock
from ftui.core.runs.records import Sample, TrainRecord
from ftui.core.runs.summary import RunSummary
from ftui.screens.base import StepScreen
from ftui.screens.run_actions import RunActions, base_columns, loss_lines, read_evaluation
from ftui.widgets.loss_chart import LossChart, Series
from ftui.widgets.plain_text import one_line, plain
from ftui.widgets.run_view import STATE_STYLE
from ftui.widgets.sized_table import fill_table

REFRESH_S = 2.0
SAMPLE_CHARS = 400  # per output cell: enough to compare, not a wall of text
SAMPLE_IMAGE_CELLS = 16  # a vision sample's image, drawn above its question


@dataclass
class RunRow:
    """One run as the table shows it (from RunDirectory.summary) and, when selected, its curve and samples."""

    run: Any  # ftui.core.runs.RunDirectory
    summary: RunSummary
    curve: list[tuple[int, float]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    pictures: dict[str, RenderableType] = field(default_factory=dict)  # a sample image's path -> drawn
    base: Any = None  # ftui.core.base_eval.BaseEval: its base model beside it (v), when computed


def duration(summary: RunSummary) -> str:
    """From start to end (or to now, for a live run)."""
    try:
        started = dt.datetime.fromisoformat(summary.started_at or "")
    except ValueError:
        return "-"
    try:
        ended = dt.datetime.fromisoformat(summary.ended_at) if summary.ended_at else None
    except ValueError:
        ended = None
    end = ended or dt.datetime.now(started.tzinfo)
    return clock(max(0.0, (end - started).total_seconds()))


def number(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def read_runs(runs_dir: Any, selected: set[str]) -> list[RunRow]:
    """Every run's summary; the train-loss curve and samples of the selected ones (core reads only)."""
    from ftui.core.runs import list_runs, summarize

    rows = []
    for run in list_runs(runs_dir):
        row = RunRow(run, summarize(run))
        if run.run_id in selected:
            row.curve = [
                (r.step, r.loss) for r in run.metrics() if isinstance(r, TrainRecord) and r.loss is not None
            ]
            row.samples = run.samples()
            row.pictures = _pictures(row.samples)
            row.base = read_evaluation(run)
        rows.append(row)
    return rows


_drawn: dict[str, RenderableType] = {}  # sample images drawn once: the runs step rereads every 2 s


def _pictures(samples: list[Sample]) -> dict[str, RenderableType]:
    """Vision samples' first images, drawn here in the worker (decoding is not for the event loop)."""
    wanted = {sample.images[0] for sample in samples if sample.images}
    if wanted - set(_drawn):
        from ftui.widgets.image_view import image_cells

        for path in wanted - set(_drawn):
            _drawn[path] = image_cells(path, SAMPLE_IMAGE_CELLS, SAMPLE_IMAGE_CELLS // 2)
    return {path: _drawn[path] for path in wanted}


def run_label(summary: RunSummary) -> str:
    """What a run is called on screen: its name, else its model and the time it was made, from its id
    ("20260105-100000-qwen3-8b" is "qwen3-8b 10:00"; the date is left out: the runs table has it)."""
    if summary.name:
        return one_line(summary.name)
    match = re.fullmatch(r"\d{8}-(\d\d)(\d\d)\d\d-(.+)", summary.run_id)
    return f"{match[3]} {match[1]}:{match[2]}" if match else summary.run_id


def output_cell(text: str | None) -> Text:
    if text is None:
        return Text("(no sample)", "dim italic", end="")
    if not text.strip():
        return Text("(empty)", "dim italic", end="")  # the model said nothing: not a blank cell
    return plain(text[:SAMPLE_CHARS])


def samples_view(rows: list[RunRow]) -> RenderableType:
    """The selected runs' generations for the same held-out prompts: the prompt, the expected answer (the
    held-out row's own), then one column per run, headed by its name."""
    chosen = [row for row in rows if row.samples]
    if not chosen:
        return Text(
            "Select runs with space; their generations on held-out prompts appear here when they finish.",
            "dim",
        )
    table = Table(show_lines=True, expand=True, header_style="bold")
    table.add_column("Prompt", ratio=1)
    table.add_column("Expected", ratio=1)
    for row in chosen:
        header = plain(run_label(row.summary))
        header.overflow = "fold"  # a narrow column wraps the name rather than cutting the part that differs
        table.add_column(header, ratio=1)
    bases = base_columns(chosen)
    for label, _ in bases:
        table.add_column(label, ratio=1, style="dim")
    prompts: dict[Any, tuple[str, str | None]] = {}
    pictures: dict[Any, RenderableType] = {}
    outputs: dict[str, dict[Any, str]] = {}
    for row in chosen:
        for sample in row.samples:
            key = sample.line if sample.line is not None else sample.prompt
            prompts.setdefault(key, (sample.prompt, sample.reference))
            if sample.images and sample.images[0] in row.pictures:
                pictures.setdefault(key, row.pictures[sample.images[0]])
            outputs.setdefault(row.run.run_id, {})[key] = sample.output
    for key, (prompt, reference) in prompts.items():
        question = plain(prompt[-SAMPLE_CHARS:])
        expected = output_cell(reference) if reference is not None else Text("(not kept)", "dim italic")
        cells: list[RenderableType] = [
            Group(pictures[key], question) if key in pictures else question,
            expected,
        ]
        for row in chosen:
            cells.append(output_cell(outputs.get(row.run.run_id, {}).get(key)))
        cells.extend(output_cell(answers.get(key)) for _, answers in bases)
        table.add_row(*cells)
    losses = loss_lines(chosen)
    return table if losses is None else Group(losses, table)


class RunsTable(DataTable):
    """The runs, one row each; Enter re-attaches to the highlighted run (shown in the key bar)."""

    BINDINGS = [Binding("enter", "select_cursor", "Attach")]


COLUMNS = (
    ("Run", "run"),
    ("State", "state"),
    ("Model", "model"),
    ("Method", "method"),
    ("Step", "step"),
    ("Loss", "loss"),
    ("Eval", "eval"),
    ("Time", "time"),
    ("Peak", "peak"),
)
NARROW_COLUMNS = ("run", "state", "step", "loss", "eval", "time", "peak")  # the run id names the model


class RunsScreen(RunActions, StepScreen):
    """Enter on a run posts RunChosen (the app opens it on the train step); e posts RunReused (the train
    step's form takes its settings)."""

    STEP = "runs"
    AUTO_FOCUS = "#runs-table"
    BINDINGS = [
        Binding("space", "toggle_selected", "Select"),
        Binding("e", "reuse", "New run from this"),
        Binding("r", "rename", "Rename"),
        Binding("d", "delete", "Delete"),
    ]

    @dataclass
    class RunChosen(Message):
        """Enter on a run: watch it live (the app shows it on the train step)."""

        run: Any  # ftui.core.runs.RunDirectory

    @dataclass
    class RunReused(Message):
        """e on a run: a new run from its settings (the app fills the train step's form from them)."""

        run: Any  # ftui.core.runs.RunDirectory

    def compose_step(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="runs-line", classes="hint")
            yield RunsTable(cursor_type="row", id="runs-table")
            with VerticalScroll(id="compare"):
                yield LossChart(
                    empty="Space selects runs: their loss curves are drawn here, one over the other.",
                    id="runs-chart",
                )
                yield Static(id="samples")

    def on_mount(self) -> None:
        self.selected: set[str] = set()
        self.rows: list[RunRow] = []
        self.set_interval(REFRESH_S, self.refresh_runs)

    def show_plan(self) -> None:
        self.refresh_runs()

    def refresh_runs(self) -> None:
        if self.is_current:
            self._read(self.ftui.runs_dir, set(self.selected))

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def _read(self, runs_dir: Path, selected: set[str]) -> None:
        rows = read_runs(runs_dir, selected)
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[RunRow]) -> None:
        self.rows = rows
        table = self.query_one("#runs-table", DataTable)
        cursor = table.cursor_row
        shown = [key for _, key in COLUMNS if self.size.width >= 110 or key in NARROW_COLUMNS]
        table_rows: list[tuple[str, list[Text]]] = []
        for row in reversed(rows):  # newest first
            s = row.summary
            state = s.state
            spread = f" {s.world_size}×{s.sharding or 'ddp'}" if (s.world_size or 1) > 1 else ""
            slurm = f" slurm {s.slurm_state}" if s.slurm_state else ""  # Slurm's word beside ftui's
            cells = {
                "run": Text.assemble(
                    ("✓ " if row.run.run_id in self.selected else "  ", "bold green"),
                    one_line(s.name, 40) if s.name else row.run.run_id,
                    end="",
                ),
                "state": Text.assemble((state, STATE_STYLE.get(state, "")), (spread + slurm, "dim"), end=""),
                "model": Text(one_line(s.model or "?", 30), end=""),
                "method": Text(s.method or "?", end=""),
                "step": Text(f"{s.step or 0}/{s.max_steps or '?'}", end=""),
                "loss": Text(number(s.loss), end=""),
                "eval": Text(number(s.eval_loss), end=""),
                "time": Text(duration(s), end=""),
                "peak": Text("-" if s.peak_gpu_gib is None else f"{s.peak_gpu_gib:.1f}G", end=""),
            }
            table_rows.append((row.run.run_id, [cells[key] for key in shown]))
        # Widths from the cells, not DataTable's later measuring: refilled every REFRESH_S, its measured
        # widths could be lost and the columns shrink to their headers.
        fill_table(table, [(label, key) for label, key in COLUMNS if key in shown], table_rows)
        if rows:
            table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
        live = sum(1 for row in rows if row.summary.state in ("starting", "running"))
        self.query_one("#runs-line", Static).update(
            Text(
                f"{len(rows)} runs in {self.ftui.runs_dir} ({live} live). Space selects runs to compare, "
                "Enter attaches to one.",
                "dim",
            )
        )
        chart = self.query_one("#runs-chart", LossChart)
        chosen = [row for row in rows if row.run.run_id in self.selected and row.curve]
        # The legend is the chart's border title: each name cut so that all of them fit its width.
        room = max(8, (chart.size.width or self.size.width) // max(1, len(chosen)) - 5)
        curves = []
        for row in chosen:
            series = Series(one_line(run_label(row.summary), room))
            for step, loss in row.curve:
                series.add(step, loss)
            curves.append(series)
        chart.set_series(curves)
        chart.border_title = chart.legend() if curves else "Loss of the selected runs"
        self.query_one("#samples", Static).update(
            samples_view([r for r in rows if r.run.run_id in self.selected])
        )

    def _highlighted_row(self) -> RunRow | None:
        table = self.query_one("#runs-table", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return next((row for row in self.rows if row.run.run_id == row_key.value), None)

    def action_reuse(self) -> None:
        row = self._highlighted_row()
        if row is not None:
            self.post_message(self.RunReused(row.run))

    def action_rename(self) -> None:
        from ftui.screens.dialogs import AskText

        row = self._highlighted_row()
        if row is None:
            return
        self.app.push_screen(
            AskText(
                f"A new name for {row.run.run_id} (Enter keeps it, Esc cancels):", row.summary.name or ""
            ),
            callback=lambda name: self._renamed(row.run, name),
        )

    def _renamed(self, run: Any, name: str | None) -> None:
        from ftui.core.errors import UserError
        from ftui.core.runs.manage import rename_run

        if name is None:
            return
        try:
            kept = rename_run(run, name)
        except UserError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"Run {run.run_id} is now called {kept!r}.")
        self.refresh_runs()

    def action_delete(self) -> None:
        from ftui.screens.dialogs import Confirm

        row = self._highlighted_row()
        if row is None:
            return
        if row.summary.state in ("starting", "running"):
            self.notify(
                f"Run {row.run.run_id} is {row.summary.state}; stop it (Enter, then x) before deleting it.",
                severity="warning",
            )
            return
        self.app.push_screen(
            Confirm(f"Delete run {run_label(row.summary)} ({row.run.run_id}) and every file in its folder?"),
            callback=partial(self._delete_if_confirmed, row.run),
        )

    def _delete_if_confirmed(self, run: Any, yes: bool | None) -> None:
        if yes:
            self._delete(run)

    @work(thread=True, exclusive=True, group="runs-delete", exit_on_error=False)
    def _delete(self, run: Any) -> None:
        from ftui.core.errors import UserError
        from ftui.core.runs.manage import delete_run

        try:
            delete_run(run)
        except UserError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")
            return
        self.app.call_from_thread(self._deleted, run)

    def _deleted(self, run: Any) -> None:
        self.selected.discard(run.run_id)
        self.notify(f"Deleted run {run.run_id}.")
        self.refresh_runs()

    def _highlighted_run(self) -> Any:
        table = self.query_one("#runs-table", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return next((row.run for row in self.rows if row.run.run_id == row_key.value), None)

    def action_toggle_selected(self) -> None:
        run = self._highlighted_run()
        if run is None:
            return
        self.selected ^= {run.run_id}
        self.refresh_runs()

    @on(DataTable.RowSelected, "#runs-table")
    def _attach_highlighted(self) -> None:
        run = self._highlighted_run()
        if run is not None:
            self.post_message(self.RunChosen(run))
