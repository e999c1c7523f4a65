"""The key map (`?` or F1): every key the current step answers to, then the keys that work everywhere.

Built from the bindings that are active when it opens, so it is always the truth for where the user is:
the focused widget's keys (arrows in a table, Tab in a path field), the step's, and the app's.
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

from ftui.widgets.key_bar import KeyBar


@dataclass(frozen=True)
class KeyLine:
    keys: str
    what: str
    enabled: bool = True


def key_map(title: str, here: list[KeyLine], everywhere: list[KeyLine]) -> RenderableType:
    parts: list[RenderableType] = []
    for heading, lines in ((title, here), ("Everywhere", everywhere)):
        parts.append(Text(heading, "bold"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(ratio=1)
        for line in lines:
            what = Text(line.what)
            if not line.enabled:
                what.append("  (not now)", "dim")
            grid.add_row(line.keys, what)
        parts += [grid, Text("")]
    parts.append(
        Text(
            "In a text field letters are typed: Esc leaves it. ctrl+p finds any action of any step by name.",
            "dim",
        )
    )
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False, key_display="?"),
        Binding("f1", "dismiss", "Close", show=False),
    ]

    def __init__(self, title: str, here: list[KeyLine], everywhere: list[KeyLine]) -> None:
        super().__init__()
        self.title_text, self.here, self.everywhere = title, here, everywhere

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(key_map(self.title_text, self.here, self.everywhere), id="help")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
