"""The sheet Start opens: every preflight check (ftui.core.preflight) with its verdict and sentence.

Enter starts when nothing blocks; Esc goes back to the form to change what a check asked for. Rows that
cannot be trained on block until `s` chooses to skip them; a check that only warns of a risk (too big
for the GPU, too slow on a CPU, no Hub) blocks until `f` starts anyway. The sheet answers what was
chosen, and the train step starts the run with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ftui.core.preflight import Check, Preflight
from ftui.widgets.key_bar import KeyBar
from ftui.widgets.plain_text import plain

MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "block": ("✗", "bold red")}
TITLES = {
    "python": "Python",
    "where": "Where",
    "memory": "Memory",
    "cpu": "CPU",
    "model": "Model",
    "data": "Data",
    "others": "Others",
}
DETAILS_SHOWN = 8


@dataclass(frozen=True)
class Go:
    """The sheet's answer: start, with these overrides."""

    force: bool = False
    skip_bad_rows: bool = False


def check_rows(check: Check, skipping: bool) -> list[tuple[Text, Text]]:
    """The check's verdict mark and name, its sentence, then its details (each bad row) dimmed."""
    verdict, sentence = check.verdict, check.sentence
    if skipping and check.override == "skip_bad_rows":
        verdict, sentence = "warn", sentence.replace("; fix them, or skip them.", ": they will be skipped.")
    mark, style = MARKS[verdict]
    label = Text.assemble((mark, style), " ", (f"{TITLES.get(check.name, check.name):<6}", "bold"), end="")
    rows = [(label, plain(sentence))]
    rows += [(Text(""), plain(detail, "dim")) for detail in check.details[:DETAILS_SHOWN]]
    if len(check.details) > DETAILS_SHOWN:
        rows.append((Text(""), Text(f"… and {len(check.details) - DETAILS_SHOWN} more", "dim")))
    return rows


def sheet_view(result: Preflight, skipping: bool) -> RenderableType:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for check in result.checks:
        for label, text in check_rows(check, skipping):
            grid.add_row(label, text)
    blocking = result.blocking(skip_bad_rows=skipping)
    if not blocking:
        head = Text("Ready to start. Enter starts the run; Esc goes back to the settings.", "green")
    else:
        keys = {"skip_bad_rows": "s skips the bad rows", "force": "f starts anyway"}
        what = "; ".join(dict.fromkeys(keys[c.override] for c in blocking if c.override in keys))
        head = Text(
            f"{len(blocking)} check{'s' if len(blocking) > 1 else ''} stop the start. Esc goes back to the "
            f"settings{'; ' + what if what else ''}.",
            "yellow",
        )
    return Group(head, Text(""), grid)


class PreflightSheet(ModalScreen[Go | None]):
    BINDINGS = [
        Binding("enter", "go", "Start"),
        Binding("escape", "back", "Change settings"),
        Binding("s", "skip", "Skip bad rows"),
        Binding("f", "force", "Start anyway"),
    ]

    def __init__(self, result: Preflight) -> None:
        super().__init__()
        self.result = result
        self.skipping = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="preflight-body"):
            yield Static(id="preflight")
        yield KeyBar()

    def on_mount(self) -> None:
        self._show()
        self.query_one("#preflight-body").focus()

    def _show(self) -> None:
        self.query_one("#preflight", Static).update(sheet_view(self.result, self.skipping))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        blocking = self.result.blocking(skip_bad_rows=self.skipping)
        if action == "go":
            return True if not blocking else None
        if action == "skip":
            return self.result.needs("skip_bad_rows") and not self.skipping
        if action == "force":
            return bool(blocking) and not self.result.blocking(force=True, skip_bad_rows=self.skipping)
        return True

    def action_go(self) -> None:
        if not self.result.blocking(skip_bad_rows=self.skipping):
            self.dismiss(Go(skip_bad_rows=self.skipping))

    def action_force(self) -> None:
        if not self.result.blocking(force=True, skip_bad_rows=self.skipping):
            self.dismiss(Go(force=True, skip_bad_rows=self.skipping))

    def action_skip(self) -> None:
        self.skipping = True
        self._show()

    def action_back(self) -> None:
        self.dismiss(None)
