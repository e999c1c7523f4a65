"""One model's side of the try step: the prompts asked and its answers, the last one growing as the model
process streams it.

A model's output is untrusted text: every draw goes through ftui.core.text (control sequences removed,
HF tokens masked, with the end of a stream that could be the start of a token held back until the rest
arrives) and is shown as plain Text, never markup. Call only on the event loop (the screen's reader
thread posts messages; their handlers call these methods).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ftui.core.text import mask_secrets, strip_control, unfinished_secret

MAX_TURNS = 20  # older turns drop off: a long session keeps its last exchanges, not every one


def safe(text: str, *, streaming: bool = False) -> str:
    """Model output as it may be drawn: no control sequences, no secrets, not half of one."""
    clean = strip_control(text)
    if streaming:
        held = unfinished_secret(clean)
        if held:
            clean = clean[:-held]
    return mask_secrets(clean)


@dataclass
class Turn:
    prompt: str
    answer: str = ""
    note: str = ""  # how it ended: "12 tokens in 0.4 s, eos", or why there is no answer
    note_style: str = "dim"
    done: bool = False


class AnswerPane(VerticalScroll):
    """A bordered pane titled with the model it shows; its turns scroll, the newest at the bottom."""

    DEFAULT_CSS = """
    AnswerPane {
        width: 1fr;
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-align: left;
        border-subtitle-align: right;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        &:focus { border: round $accent; }
        #answer-text { width: 1fr; height: auto; }
    }
    """

    def __init__(self, title: str, *, empty: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self.empty = empty
        self.turns: list[Turn] = []
        self.status = ""  # the model's state, shown under the pane (loading, ready, refused)

    def compose(self) -> ComposeResult:
        yield Static(id="answer-text")

    def on_mount(self) -> None:
        self._draw()

    @property
    def text(self) -> str:
        """The last answer as drawn (for tests and the screen's summary)."""
        return safe(self.turns[-1].answer) if self.turns else ""

    def set_title(self, title: str) -> None:
        self.border_title = title

    def set_status(self, status: str) -> None:
        self.status = status
        self.border_subtitle = status

    def clear(self) -> None:
        self.turns = []
        self._draw()

    def begin(self, prompt: str) -> None:
        """A prompt was sent: its answer follows."""
        self.turns.append(Turn(prompt))
        del self.turns[:-MAX_TURNS]
        self._draw()

    def stream(self, answer: str) -> None:
        """The answer so far (the whole text: streaming messages coalesce, so a slow screen skips ahead)."""
        if self.turns and not self.turns[-1].done:
            self.turns[-1].answer = answer
            self._draw()

    def finish(self, answer: str, note: str) -> None:
        if self.turns:
            turn = self.turns[-1]
            turn.answer, turn.note, turn.done = answer, note, True
            self._draw()

    def fail(self, sentence: str) -> None:
        """No answer: the sentence says why (the model was refused or its process ended)."""
        if self.turns and not self.turns[-1].done:
            turn = self.turns[-1]
            turn.note, turn.note_style, turn.done = sentence, "red", True
        else:
            self.turns.append(Turn("", note=sentence, note_style="red", done=True))
        self._draw()

    def _draw(self) -> None:
        parts: list[Text] = []
        if not self.turns and self.empty:
            parts.append(Text(self.empty, "dim", end=""))
        for turn in self.turns:
            if turn.prompt:
                parts.append(Text.assemble(("› ", "bold"), (safe(turn.prompt), "bold"), end=""))
            if turn.answer or not turn.done:
                shown = safe(turn.answer, streaming=not turn.done)
                parts.append(Text(shown + ("" if turn.done else " ▍"), end=""))
            elif turn.note_style == "dim":
                parts.append(Text("(no text: it ended its answer at once)", "dim italic", end=""))
            if turn.note:
                parts.append(Text(safe(turn.note), turn.note_style, end=""))
            parts.append(Text(""))  # a blank line between turns
        for part in parts:
            part.end = "\n"  # one part a line
        self.query_one("#answer-text", Static).update(Group(*parts))
        self.scroll_end(animate=False, immediate=False)
