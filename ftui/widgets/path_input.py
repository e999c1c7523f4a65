"""A text field that completes file paths as a shell does: the rest of the name shows dimmed, → takes it.

Listing a directory can block (a network filesystem), so it runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import os

from textual.binding import Binding
from textual.suggester import Suggester, SuggestionReady

from ftui.widgets.text_field import TextField


def complete_path(value: str) -> str | None:
    """`value` completed as far as the file system makes it unambiguous; None when there is nothing to add."""
    if not value or "\n" in value:
        return None
    directory, prefix = os.path.split(value)
    where = os.path.expanduser(directory) if directory else "."
    try:
        names = os.listdir(where)
    except OSError:
        return None
    # A name holding control characters (an escape sequence in a file name) is never put into the field:
    # the field's text is drawn on every repaint, and so would the sequence be.
    matches = sorted(
        n
        for n in names
        if n.startswith(prefix) and (prefix.startswith(".") or not n.startswith(".")) and n.isprintable()
    )
    if not matches:
        return None
    if len(matches) == 1:
        completion = matches[0] + ("/" if os.path.isdir(os.path.join(where, matches[0])) else "")
    else:
        completion = os.path.commonprefix(matches)
    if len(completion) <= len(prefix):
        return None
    return value + completion[len(prefix) :]


class PathSuggester(Suggester):
    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value)


class PathInput(TextField):
    """An Input with file-path completion: → or Tab at the end of the text accepts it, as a shell's Tab
    does; with nothing to complete, Tab moves to the next field as it does everywhere else."""

    BINDINGS = [Binding("tab", "complete_or_next", "Complete path", show=False)]

    def __init__(self, value: str = "", *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(value, placeholder=placeholder, suggester=PathSuggester(), id=id)
        self.completion = ""
        """The completed path for the current value ("" while there is none): kept from Textual's public
        SuggestionReady message rather than read from Input's private state."""

    def on_suggestion_ready(self, event: SuggestionReady) -> None:
        self.completion = event.suggestion if event.value == self.value else ""

    def watch_value(self, value: str) -> None:
        if not self.completion.startswith(value) or self.completion == value:
            self.completion = ""

    def action_complete_or_next(self) -> None:
        if self.cursor_at_end and len(self.completion) > len(self.value):
            self.value = self.completion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
