"""A one-line text field for a keyboard-only app used over SSH: Esc then a key is that key, not Alt+key.

A terminal sends Esc followed quickly by a key as one sequence (tmux waits 500 ms for that by default,
Textual 100 ms): Textual reads Esc+letter as Alt+letter, and Esc+digit as the character macOS's Option
key would give (WezTerm sends those sequences): Esc then 2, meant as "leave the field, go to step 2",
typed a "™" into the path. Here either leaves the field and presses the key.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.widgets import Input

# What Textual's key parser makes of Esc+digit (its table for WezTerm on macOS): Option+digit characters.
# None of them belongs in a path, a number, a model or a run name.
ESCAPED_DIGITS = {
    "¡": "1",
    "™": "2",
    "£": "3",
    "¢": "4",
    "∞": "5",
    "§": "6",
    "¶": "7",
    "•": "8",
    "ª": "9",
    "º": "0",
}


def escaped_key(event: events.Key) -> str | None:
    """The key meant by Esc then a key, when this event is that pair read as one; else None."""
    prefix, _, key = event.key.partition("+")
    if prefix == "alt" and len(key) == 1:
        return key
    if event.character in ESCAPED_DIGITS:
        return ESCAPED_DIGITS[event.character]
    return None


def press(app: App, key: str) -> None:
    """Press `key` as the user would have. (App.simulate_key's event is sent by whoever calls it: sent by
    a screen, it stops bubbling at that screen and never reaches the app's own bindings, such as n.)"""
    event = events.Key(key, None)
    event.set_sender(app)
    app.post_message(event)


class TextField(Input):
    def __init__(
        self, value: str = "", *, placeholder: str = "", id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(value, placeholder=placeholder, id=id, **kwargs)
        self.cursor_blink = False  # no animation over SSH

    def on_key(self, event: events.Key) -> None:
        key = escaped_key(event)
        if key is not None:
            event.prevent_default()  # Input's own handler would type the character
            event.stop()
            self.screen.set_focus(None)
            press(self.app, key)
