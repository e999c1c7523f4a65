"""A small sheet that lists the finished runs (newest first) to pick one: the run to try, or a second run
to put beside it. Enter picks, Esc leaves things as they were."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ftui.widgets.key_bar import KeyBar
from ftui.widgets.plain_text import one_line

NONE = "-"  # the option that clears the choice (a second run: none)


@dataclass(frozen=True)
class FinishedRunRow:
    run_id: str
    path: Path
    model: str
    method: str
    loss: float | None
    eval_loss: float | None


def finished_runs(runs_dir: Path) -> list[FinishedRunRow]:
    """The runs that left a model to load (completed or stopped), newest first (core reads only)."""
    from ftui.core.exports import FINISHED_RUN_STATES
    from ftui.core.runs import list_runs, summarize

    rows = []
    for run in reversed(list_runs(runs_dir)):
        summary = summarize(run)
        if summary.state in FINISHED_RUN_STATES:
            rows.append(
                FinishedRunRow(
                    run.run_id,
                    run.path,
                    summary.model or "?",
                    summary.method or "?",
                    summary.loss,
                    summary.eval_loss,
                )
            )
    return rows


class RunPicker(ModalScreen[Path | str | None]):
    """Dismissed with the chosen run's folder, NONE for "no run" (when offered), or None (Esc)."""

    CSS_PATH = Path(__file__).with_name("sheets.tcss")
    BINDINGS = [
        Binding("enter", "pick", "Choose"),
        Binding("escape", "dismiss_none", "Close"),
    ]

    def __init__(self, runs_dir: Path, title: str, *, offer_none: str = "", exclude: str = "") -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.title_text = title
        self.offer_none = offer_none  # the label of the "none" option; "" leaves it out
        self.exclude = exclude  # a run not to offer (the one already tried)

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-sheet"):
            yield Static(Text(self.title_text, "bold"), id="picker-title")
            yield OptionList(id="picker-runs")
            yield KeyBar()  # in the sheet: the keys below belong to the step

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._read(self.runs_dir)

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def _read(self, runs_dir: Path) -> None:
        rows = finished_runs(runs_dir)
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[FinishedRunRow]) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        if self.offer_none:
            options.add_option(Option(Text(self.offer_none, "italic"), id=NONE))
        for row in rows:
            if row.run_id == self.exclude:
                continue
            label = Text(end="")
            label.append(row.run_id, "bold")
            label.append(f"  {one_line(row.model, 40)}  {row.method}", "dim")
            if row.eval_loss is not None:
                label.append(f"  eval {row.eval_loss:.3f}", "dim")
            options.add_option(Option(label, id=str(row.path)))
        if not options.option_count:
            options.add_option(
                Option(Text("No finished run yet: train one on step 6.", "dim"), id=NONE, disabled=True)
            )
        options.highlighted = 0

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def action_pick(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    def _choose(self, option_id: str | None) -> None:
        if option_id is None:
            return
        self.dismiss(NONE if option_id == NONE else Path(option_id))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
