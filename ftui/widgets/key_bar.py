"""The footer: every key the screen answers to, with what it does.

Textual's Footer builds a widget per key after the first frame; this draws the same bindings as one line
of text, in the first frame, and wraps onto a second line on a narrow terminal instead of cutting keys
off the right edge. Keys that do nothing right now are dimmed; grouped keys (the step numbers) share one
description. It redraws whenever the screen's bindings change (focus moves, a state-dependent key).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget


@dataclass(frozen=True)
class KeyHint:
    keys: str
    description: str
    enabled: bool


def _join_keys(keys: list[str]) -> str:
    if len(keys) > 2 and all(k.isdigit() and len(k) == 1 for k in keys):
        numbers = [int(k) for k in keys]
        if numbers == list(range(numbers[0], numbers[-1] + 1)):
            return f"{keys[0]}-{keys[-1]}"
    return "/".join(keys)


class KeyBar(Widget):
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: auto;
        max-height: 2;
        background: $footer-background;
        color: $footer-description-foreground;
        .key-bar--key { color: $footer-key-foreground; text-style: bold; }
        .key-bar--description { color: $footer-description-foreground; }
        .key-bar--disabled { color: $text-disabled; }
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh(layout=True)

    def hints(self) -> list[KeyHint]:
        """The keys to show, in the screen's order, grouped keys together, the palette key last."""
        palette_key = self.app.COMMAND_PALETTE_BINDING
        hints: list[KeyHint] = []
        groups: dict[Binding.Group, tuple[int, list[str], bool]] = {}
        seen: set[str] = set()
        palette: KeyHint | None = None
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if key == palette_key and self.app.ENABLE_COMMAND_PALETTE:
                palette = KeyHint(self.app.get_key_display(binding), "Commands", active.enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            display = self.app.get_key_display(binding)
            if binding.group is not None:
                if binding.group not in groups:
                    groups[binding.group] = (len(hints), [], active.enabled)
                    hints.append(KeyHint("", binding.group.description, True))  # filled in below
                index, keys, enabled = groups[binding.group]
                keys.append(display)
                groups[binding.group] = (index, keys, enabled or active.enabled)
                continue
            hints.append(KeyHint(display, binding.description, active.enabled))
        for group, (index, keys, enabled) in groups.items():
            hints[index] = KeyHint(_join_keys(keys), group.description, enabled)
        if palette is not None:
            hints.append(palette)
        return hints

    def _lines(self, width: int) -> list[list[KeyHint]]:
        lines: list[list[KeyHint]] = [[]]
        used = 0
        for hint in self.hints():
            cost = (2 if used else 1) + len(hint.keys) + 1 + len(hint.description)
            if used and used + cost > width:
                lines.append([])
                used = 0
                cost -= 1
            lines[-1].append(hint)
            used += cost
        return lines

    def get_content_height(self, container, viewport, width: int) -> int:
        return min(2, len(self._lines(width)))

    def render(self) -> RenderableType:
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        text_style = self.get_component_rich_style("key-bar--description", partial=True)
        off_style = self.get_component_rich_style("key-bar--disabled", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for number, line in enumerate(self._lines(self.size.width or 80)[:2]):
            if number:
                text.append("\n")
            for position, hint in enumerate(line):
                text.append("  " if position else " ")
                text.append(hint.keys, key_style if hint.enabled else off_style)
                text.append(" ")
                text.append(hint.description, text_style if hint.enabled else off_style)
        return text
