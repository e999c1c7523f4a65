"""The peer for the start-up benchmark: a bare Textual app with one Static, started the same way."""

from textual.app import App, ComposeResult
from textual.widgets import Static


class BareApp(App):
    def compose(self) -> ComposeResult:
        yield Static("bare textual app ready")


if __name__ == "__main__":
    BareApp().run(mouse=False)
