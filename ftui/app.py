"""The Textual app: screens, global bindings, theme. No domain logic here (it lives in ftui.core)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class FtuiApp(App):
    TITLE = "ftui"
    SUB_TITLE = "which model should I fine-tune?"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("ftui is being built.")
        yield Footer()


def run_app() -> int:
    FtuiApp().run(mouse=False)
    return 0
