"""What every step screen shares: the step bar on top, the key bar (footer) below, the Plan it reads and edits."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen

from ftui.core.plan import Plan
from ftui.widgets.key_bar import KeyBar
from ftui.widgets.step_bar import StepBar

if TYPE_CHECKING:
    from ftui.app import FtuiApp


class StepScreen(Screen):
    STEP: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP)
        yield from self.compose_step()
        yield KeyBar()

    def compose_step(self) -> ComposeResult:
        yield from ()

    @property
    def ftui(self) -> FtuiApp:
        return self.app  # type: ignore[return-value]

    @property
    def plan(self) -> Plan:
        return self.ftui.plan

    def on_screen_resume(self) -> None:
        self.show_plan()

    def show_plan(self) -> None:
        """Show the Plan as it is now: another screen may have changed it since this one was shown."""
