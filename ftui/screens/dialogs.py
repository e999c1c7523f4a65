"""Small questions asked over a step: a yes/no confirmation, one line of text. Keys only: y or Enter
agrees, n or Esc declines; the answer goes back to the screen that asked."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ftui.widgets.key_bar import KeyBar
from ftui.widgets.plain_text import plain
from ftui.widgets.text_field import TextField

DIALOG_CSS = """
{name} {{
    align: center middle;
    & > Vertical {{
        width: 72;
        max-width: 100%;
        height: auto;
        padding: 1 2;
        border: round $accent;
        background: $panel;
    }}
    & Input {{ margin-top: 1; }}
}}
"""


class Confirm(ModalScreen[bool]):
    """A question that changes something for good (delete a run): y or Enter does it, n or Esc does not."""

    DEFAULT_CSS = DIALOG_CSS.format(name="Confirm")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("enter", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.question), id="question")
            yield Static(Text("y deletes, n keeps it.", "dim"), id="hint")
        yield KeyBar()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AskText(ModalScreen[str | None]):
    """One line of text (a run's new name): Enter keeps it, Esc leaves things as they were."""

    DEFAULT_CSS = DIALOG_CSS.format(name="AskText")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.question), id="question")
            yield TextField(self.value, id="answer")
        yield KeyBar()

    def on_mount(self) -> None:
        answer = self.query_one("#answer", Input)
        answer.cursor_blink = False
        answer.focus()

    @on(Input.Submitted, "#answer")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
