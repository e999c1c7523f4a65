"""The line at the top: every step with its key, the current one highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.console import RenderableType
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StepLike(Protocol):
    """A step as the bar draws it (ftui.screens.Step has these)."""

    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...


class StepBar(Widget):
    COMPONENT_CLASSES = {"step-bar--key", "step-bar--current", "step-bar--title"}
    DEFAULT_CSS = """
    StepBar {
        height: 1;
        dock: top;
        background: $panel;
        color: $text-muted;
        .step-bar--key { color: $accent; text-style: bold; }
        .step-bar--current { background: $accent; color: $text; text-style: bold; }
        .step-bar--title { color: $text; text-style: bold; }
    }
    """

    current: reactive[str] = reactive("")

    def __init__(self, steps: Sequence[StepLike], current: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps = tuple(steps)
        self.set_reactive(StepBar.current, current)

    def render(self) -> RenderableType:
        key = self.get_component_rich_style("step-bar--key", partial=True)
        here = self.get_component_rich_style("step-bar--current", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for index, step in enumerate(self.steps):
            text.append(" " if index == 0 else "  ")
            if step.name == self.current:
                text.append(f" {step.key} {step.title} ", here)
            else:
                text.append(step.key, key)
                text.append(f" {step.title}")
        room = self.size.width - text.cell_len
        title = "ftui: which model should I fine-tune?"
        if room >= len(title) + 4:
            text.append(" " * (room - len(title) - 1))
            text.append(title, self.get_component_rich_style("step-bar--title", partial=True))
        return text
