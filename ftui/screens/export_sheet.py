"""The export sheet, opened by `e` on a run of the runs step: what to write (the adapter, a merged 16-bit
model, or GGUF with its llama.cpp type), where, and the size on disk against the free space there, before
anything starts; Enter starts the export in its own process (ftui.core.exports, as `ftui export`), and the
sheet then follows its record live and shows the verification table when it is done. Esc closes the
sheet; a started export goes on, and `x` on the run shows it again.

Anything that rules the export out is one sentence in the sheet, where the user is looking: a run that
is not finished, no room on the disk, no llama.cpp for GGUF, an output folder already in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Input, Label, Static

from ftui.core.exports import DEFAULT_QUANT, FORMATS, QUANTS, gib
from ftui.widgets.choice import Choice
from ftui.widgets.export_view import ExportView
from ftui.widgets.key_bar import KeyBar
from ftui.widgets.path_input import PathInput
from ftui.widgets.plain_text import one_line

FORMAT_LABELS = {
    "adapter": "adapter (LoRA, as saved)",
    "merged": "merged 16-bit (transformers, vLLM)",
    "gguf": "GGUF (llama.cpp, Ollama)",
}


@dataclass(frozen=True)
class Opened:
    """What the sheet needs to know about the run, read once in a worker."""

    run: Any = None  # ftui.core.exports.FinishedRun; None when the run cannot be exported
    refusal: str = ""
    live: dict[str, Any] | None = None  # an export of this run still going: the sheet follows it
    last: dict[str, Any] | None = None  # the newest finished export, shown with `l`


@dataclass(frozen=True)
class Request:
    fmt: str
    quant: str | None
    out: str | None  # None: the default folder for the format
    base_weights: str | None


def open_run(run_path: Path) -> Opened:
    """The run, checked to be exportable, and its exports (core reads only)."""
    from ftui.core.errors import UserError
    from ftui.core.exports import list_exports, read_run

    try:
        run = read_run(str(run_path))
    except UserError as error:
        return Opened(refusal=str(error))
    exports = list_exports(run.path)
    live = next((r for r in reversed(exports) if r.get("state") in ("starting", "running")), None)
    last = next((r for r in reversed(exports) if r.get("state") in ("completed", "failed")), None)
    return Opened(run=run, live=live, last=last)


def size_words(plan: Any) -> Text:
    """The size on disk and the free space there, before the export starts."""
    text = Text()
    text.append("Size   ", "bold")
    final, peak = plan.needed["final"], plan.needed["peak"]
    text.append(f"about {gib(final)} on disk")
    if peak > final:
        text.append(f" ({gib(peak)} while it is written)")
    text.append("\nFree   ", "bold")
    text.append(f"{gib(plan.free)} in {one_line(str(plan.out.parent))}")
    text.append("\nTo     ", "bold")
    text.append(one_line(str(plan.out)))
    if plan.base is not None:
        text.append("\nBase   ", "bold")
        text.append(one_line(plan.base.why))
    return text


class ExportSheet(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_name("sheets.tcss")
    BINDINGS = [
        Binding("enter", "start", "Start export"),
        Binding("l", "last_export", "Last export"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, run_path: Path) -> None:
        super().__init__()
        self.run_path = Path(run_path)
        self.opened: Opened | None = None
        self.plan: Any = None  # the sized ExportPlan for the form as it is; None while refused
        self.refusal = ""
        self._default_out = ""  # the folder the form filled in (replaced when the format changes)
        self.started = False

    def compose(self) -> ComposeResult:
        with Vertical(id="export-sheet"):
            yield Static(Text(f"Export {self.run_path.name}", "bold"), id="export-title")
            with ContentSwitcher(initial="export-form", id="export-body"):
                with Vertical(id="export-form"):
                    with Grid(id="export-grid"):
                        yield Label("Format")
                        yield Choice([(FORMAT_LABELS[f], f) for f in FORMATS], "merged", id="export-format")
                        yield Label("Type", id="quant-label")
                        yield Choice(
                            [(q + (" (default)" if q == DEFAULT_QUANT else ""), q) for q in QUANTS],
                            DEFAULT_QUANT,
                            id="export-quant",
                        )
                        yield Label("Folder")
                        yield PathInput(id="export-out")
                        yield Label("Base", id="base-label")
                        yield PathInput(
                            placeholder="the base model's 16-bit weights: found by ftui", id="export-base"
                        )
                    yield Static(Text("Reading the run…", "dim"), id="export-size")
                yield ExportView(id="export-view")
            yield KeyBar()  # in the sheet, under its fields: the keys below belong to the step

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = False
        self._show_format()
        self._open(self.run_path)

    # --- reading the run and sizing the export (workers) -----------------------------------------

    @work(thread=True, exclusive=True, group="export-open", exit_on_error=False)
    def _open(self, run_path: Path) -> None:
        self.app.call_from_thread(self._opened, open_run(run_path))

    def _opened(self, opened: Opened) -> None:
        self.opened = opened
        if opened.run is None:
            self._refuse(opened.refusal)
            return
        title = Text(end="")
        title.append(f"Export {opened.run.run_id}", "bold")
        title.append(f"  {one_line(opened.run.model)}, {opened.run.method}", "dim")
        self.query_one("#export-title", Static).update(title)
        if opened.live is not None:
            self._follow(opened.live["export_id"], record=opened.live)
            return
        self._fill_default_out()
        self._resize()
        self.refresh_bindings()

    def _request(self) -> Request:
        fmt = str(self.query_one("#export-format", Choice).value)
        out = self.query_one("#export-out", Input).value.strip()
        base = self.query_one("#export-base", Input).value.strip()
        return Request(
            fmt=fmt,
            quant=str(self.query_one("#export-quant", Choice).value) if fmt == "gguf" else None,
            out=out if out and out != self._default_out else None,
            base_weights=base or None,
        )

    def _fill_default_out(self) -> None:
        """The default folder for the format, unless the user typed one of their own."""
        if self.opened is None or self.opened.run is None:
            return
        from ftui.core.exports import default_out

        request = self._request()
        field = self.query_one("#export-out", Input)
        if field.value.strip() and field.value != self._default_out:
            return
        self._default_out = str(default_out(self.opened.run, request.fmt, request.quant))
        with field.prevent(Input.Changed):
            field.value = self._default_out

    def _resize(self) -> None:
        if self.opened is None or self.opened.run is None or self.started:
            return
        self.plan, self.refusal = None, ""
        self.query_one("#export-size", Static).update(Text("Sizing the export…", "dim"))
        self.refresh_bindings()
        self._measure(self.opened.run, self._request())

    @work(thread=True, exclusive=True, group="export-size", exit_on_error=False)
    def _measure(self, run: Any, request: Request) -> None:
        from ftui.core.errors import UserError
        from ftui.core.exports import room_problem, size_export

        try:
            plan = size_export(run, request.fmt, request.quant, request.out, request.base_weights)
        except UserError as error:
            self.app.call_from_thread(self._measured, request, None, str(error))
            return
        self.app.call_from_thread(self._measured, request, plan, room_problem(plan) or "")

    def _measured(self, request: Request, plan: Any, refusal: str) -> None:
        if request != self._request() or self.started:
            return  # the form changed since: a newer sizing is on its way
        self.plan, self.refusal = plan, refusal
        shown: list[Any] = []
        if plan is not None:
            shown.append(size_words(plan))
        if refusal:
            shown.append(Text(refusal, "bold red"))
        else:
            shown.append(Text("Enter starts the export in its own process; Esc cancels.", "dim"))
        self.query_one("#export-size", Static).update(Group(*shown))
        self.refresh_bindings()

    def _refuse(self, sentence: str) -> None:
        self.refusal = sentence
        self.query_one("#export-grid").display = False
        self.query_one("#export-size", Static).update(Text(sentence, "bold red"))
        self.refresh_bindings()

    # --- the form -----------------------------------------------------------------------------------

    def _show_format(self) -> None:
        fmt = self.query_one("#export-format", Choice).value
        for part in ("#quant-label", "#export-quant"):
            self.query_one(part).display = fmt == "gguf"
        for part in ("#base-label", "#export-base"):
            self.query_one(part).display = fmt != "adapter"

    @on(Choice.Changed)
    def _choice_changed(self) -> None:
        self._show_format()
        self._fill_default_out()
        self._resize()

    @on(Input.Changed)
    def _folder_changed(self) -> None:
        self._resize()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_start()

    # --- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        form = not self.started
        if action == "start":
            return form and (None if self.plan is None or self.refusal else True)
        if action == "last_export":
            has_last = self.opened is not None and self.opened.last is not None
            return form and (True if has_last else None)
        return True

    def action_start(self) -> None:
        if self.started or self.plan is None or self.refusal or self.opened is None:
            return
        self.started = True
        self.query_one("#export-size", Static).update(Text("Starting the export process…", "dim"))
        self.refresh_bindings()
        self._start(self.opened.run, self._request())

    @work(thread=True, exclusive=True, group="export-start", exit_on_error=False)
    def _start(self, run: Any, request: Request) -> None:
        from ftui.core.errors import UserError
        from ftui.core.exports import plan_export, start_export

        try:
            plan = plan_export(run, request.fmt, request.quant, request.out, request.base_weights)
            record, process = start_export(plan)
        except UserError as error:  # the disk filled or the folder turned read-only since it was sized
            self.app.call_from_thread(self._start_refused, str(error))
            return
        self.app.call_from_thread(self._follow, record["export_id"], record, process)

    def _start_refused(self, sentence: str) -> None:
        self.started = False
        self.plan, self.refusal = None, sentence
        self.query_one("#export-size", Static).update(Text(sentence, "bold red"))
        self.refresh_bindings()

    def _follow(self, export_id: str, record: Any = None, process: Any = None) -> None:
        self.started = True
        self.query_one("#export-sheet").add_class("-following")
        self.query_one(ContentSwitcher).current = "export-view"
        view = self.query_one(ExportView)
        view.follow(
            self.run_path if self.opened is None else self.opened.run.path, export_id, process, record
        )
        view.focus()
        self.refresh_bindings()

    def action_last_export(self) -> None:
        if self.opened is not None and self.opened.last is not None and not self.started:
            self._follow(self.opened.last["export_id"])

    @on(ExportView.Ended)
    def _ended(self, message: ExportView.Ended) -> None:
        self.refresh_bindings()

    def action_close(self) -> None:
        view = self.query_one(ExportView)
        if self.started and not view.ended and view.export_id is not None:
            self.app.notify(
                f"The export {view.export_id} goes on in its own process; x on the run shows it again.",
                timeout=8,
            )
        self.dismiss(None)
