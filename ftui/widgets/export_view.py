"""An export as it happens and once it is done, read from its record (RUN/exports/EXPORT_ID.json): the
phase, the bytes written against what the phase will write, the phases so far with their times, then
where the files are and the verification table (the run's held-out prompts answered by the adapter, the
merged model and the GGUF, side by side, with the rows that drifted flagged).

The export runs in its own process; this view only reads the record it keeps, once per `poll_interval`,
in a short worker (ftui.core.exports.export_status also notices a process that died and marks the export
failed), and draws on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from ftui.core.exports import gib
from ftui.core.text import mask_secrets, one_line, strip_control

ANSWER_CHARS = 300  # per cell: enough to compare, not a wall of text
STATE_STYLE = {"starting": "yellow", "running": "green", "completed": "bold green", "failed": "bold red"}


def untrusted(text: Any, limit: int = ANSWER_CHARS) -> Text:
    """A prompt or a model's answer, as plain text: no control sequences, no secrets, no markup."""
    clean = mask_secrets(strip_control(str(text or "")))
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return Text(clean, end="")


def progress_bar(done: int, expected: int | None, width: int = 24) -> Text:
    text = Text(end="", no_wrap=True)
    if not expected:
        text.append(f"{gib(done)} written", "dim")
        return text
    share = min(1.0, done / expected)
    filled = int(share * width)
    text.append("█" * filled, "green")
    text.append("░" * (width - filled), "dim")
    text.append(f" {share:3.0%}  {gib(done)} of about {gib(expected)}")
    return text


def head(record: dict[str, Any]) -> Text:
    state = str(record.get("state") or "starting")
    text = Text(end="")
    text.append(one_line(str(record.get("export_id") or "export")), "bold")
    text.append("  ")
    text.append(state, STATE_STYLE.get(state, ""))
    kind = str(record.get("format") or "")
    if record.get("quant"):
        kind += f" {record['quant']}"
    text.append(f"  {kind}")
    return text


def verification_view(verification: dict[str, Any] | None) -> RenderableType | None:
    """The held-out prompts with the adapter's, the merged model's and the GGUF's answers side by side;
    each export's share of the adapter's tokens it predicts, and the flags."""
    if not verification:
        return None
    if verification.get("note"):
        return Text(one_line(str(verification["note"])), "dim", end="")
    rows = verification.get("rows") or []
    if not rows:
        return None
    kinds = [kind for kind in ("merged", "gguf") if any(kind in row for row in rows)]
    table = Table(show_lines=True, expand=True, header_style="bold")
    flagged = int(verification.get("flagged") or 0)
    title = Text.assemble(
        ("Verification: ", "bold"),
        "the held-out prompts, greedy, against the adapter on its base; ",
        (f"{flagged} flagged", "bold red") if flagged else ("none flagged", "green"),
    )
    table.add_column("Prompt", ratio=1)
    table.add_column("Adapter", ratio=1)
    for kind in kinds:
        table.add_column("Merged" if kind == "merged" else "GGUF", ratio=1)
    for row in rows:
        cells: list[RenderableType] = [untrusted(str(row.get("prompt", "")).rstrip()[-ANSWER_CHARS:])]
        cells.append(untrusted(row.get("adapter")))
        for kind in kinds:
            cell = untrusted(row.get(kind))
            agreement = row.get(f"{kind}_agreement")
            if agreement is not None:
                cell.append(f"\n[{agreement:.0%} of the adapter's tokens]", "dim")
            cells.append(cell)
        flags = row.get("flags") or []
        if flags:
            prompt = cells[0]
            assert isinstance(prompt, Text)
            prompt.rstrip()
            for flag in flags:
                prompt.append("\n⚑ " + one_line(str(flag)), "bold red")
        table.add_row(*cells)
    if verification.get("tokenizer_matches") is False:
        title.append("\nllama.cpp tokenizes the prompts differently from the model's tokenizer.", "bold red")
    return Group(title, table)


def record_view(record: dict[str, Any]) -> RenderableType:
    """Everything the record says, for the sheet."""
    parts: list[RenderableType] = [head(record)]
    state = record.get("state")
    if state in ("starting", "running"):
        phase = record.get("phase") or "starting"
        parts.append(Text.assemble(("Now   ", "bold"), one_line(str(phase)), end=""))
        progress = record.get("progress") or {}
        parts.append(
            Text.assemble(
                ("      ", ""),
                progress_bar(int(progress.get("bytes_written") or 0), progress.get("bytes_expected")),
                end="",
            )
        )
    if state == "completed":
        out = one_line(str(record.get("out", "")))
        size = gib(int(record.get("size_bytes") or 0))
        parts.append(
            Text.assemble(
                ("Done  ", "bold green"), f"written to {out} ({size}) in {record.get('seconds')} s", end=""
            )
        )
        if record.get("gguf_file"):
            parts.append(
                Text(
                    f"      GGUF {one_line(Path(str(record['gguf_file'])).name)} in it; for Ollama: cd {out} && "
                    "ollama create NAME -f Modelfile",
                    end="",
                )
            )
    if record.get("error"):
        parts.append(Text(one_line(mask_secrets(str(record["error"]))), "bold red", end=""))
    for warning in record.get("warnings") or []:
        parts.append(Text(one_line(mask_secrets(str(warning))), "yellow", end=""))
    table = verification_view(record.get("verification"))
    if table is not None:
        parts.append(table)
    elif state == "completed" and record.get("format") != "adapter" and not record.get("verify", True):
        parts.append(Text("Not verified (--no-verify).", "dim", end=""))
    # How it went, after what it gave: at 80x24 the result and the table come first.
    phases = record.get("phases") or []
    if phases:
        done = Text(end="")
        for number, phase in enumerate(phases):
            done.append("\n" if number else "")
            done.append(f"{phase.get('at_s', 0):>6.1f} s  ", "dim")
            done.append(one_line(str(phase.get("phase", ""))))
        parts.append(done)
    base = record.get("base_weights") or {}
    if base.get("why"):
        parts.append(Text.assemble(("Base  ", "bold"), one_line(str(base["why"])), end=""))
    for part in parts:
        if isinstance(part, Text):
            part.end = "\n"  # one part a line (a Text's own end is "", for use inside other Texts)
    return Group(*parts)


class ExportView(VerticalScroll, can_focus=True):
    """Follows one export until it ends; arrows scroll its verification table."""

    DEFAULT_CSS = """
    ExportView {
        height: auto;
        max-height: 1fr;
        scrollbar-size-vertical: 1;
        #export-record { height: auto; }
    }
    """

    @dataclass
    class Polled(Message):
        """A tick's reading of the record."""

        export_id: str
        record: dict[str, Any]

    @dataclass
    class Ended(Message):
        """The export completed or failed (the sheet updates its keys, the runs step says so)."""

        record: dict[str, Any]

    def __init__(self, *, poll_interval: float = 0.5, id: str | None = None) -> None:
        super().__init__(id=id)
        self.poll_interval = poll_interval
        self.run_path: Path | None = None
        self.export_id: str | None = None
        self.process: Any = None  # the Popen, when this ftui started the export
        self.record: dict[str, Any] = {}
        self._reading = False

    def compose(self) -> ComposeResult:
        yield Static(id="export-record")

    def on_mount(self) -> None:
        self.set_interval(self.poll_interval, self._tick)

    @property
    def state(self) -> str | None:
        return self.record.get("state")

    @property
    def ended(self) -> bool:
        return self.state in ("completed", "failed")

    def follow(self, run_path: Path, export_id: str, process: Any = None, record: Any = None) -> None:
        """Show export `export_id` of the run at `run_path` from now on (its record as given, until read)."""
        self.run_path, self.export_id, self.process = run_path, export_id, process
        self.record = dict(record or {"export_id": export_id, "state": "starting"})
        self.query_one("#export-record", Static).update(record_view(self.record))
        self._tick()

    def _tick(self) -> None:
        if self.run_path is None or self.export_id is None or self._reading or self.ended:
            return
        self._reading = True
        self._read(self.run_path, self.export_id, self.process)

    @work(thread=True, group="export-record", exit_on_error=False)
    def _read(self, run_path: Path, export_id: str, process: Any) -> None:
        from ftui.core.exports import export_status

        if process is not None:
            process.poll()  # reap our own child once it ends, so its pid reads as gone
        try:
            record = export_status(run_path, export_id)
        except Exception as error:  # a damaged record must not take the app down
            record = {
                "export_id": export_id,
                "state": "failed",
                "error": f"Reading the export failed: {error}",
            }
        self.post_message(self.Polled(export_id, record))

    def on_export_view_polled(self, message: Polled) -> None:
        message.stop()
        self._reading = False
        if message.export_id != self.export_id or not message.record:
            return
        changed = message.record != self.record
        self.record = message.record
        if changed:
            self.query_one("#export-record", Static).update(record_view(self.record))
        if self.ended:
            self.post_message(self.Ended(self.record))
