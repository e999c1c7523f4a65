"""Step: Hardware."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ftui.screens.base import StepScreen


class HardwareScreen(StepScreen):
    STEP = "hardware"

    def compose_step(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("Hardware")
