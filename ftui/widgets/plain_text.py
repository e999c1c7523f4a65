"""Untrusted text shown in widgets: made safe by ftui.core.text, then drawn as plain rich Text.

What comes out is shown as a plain string or a rich `Text` built without markup, so "[bold]" in a dataset
row appears as the eight characters it is.
"""

from __future__ import annotations

from rich.text import Text

from ftui.core.text import LineSplitter, one_line, strip_control

__all__ = ["LineSplitter", "one_line", "plain", "strip_control"]


def plain(text: str, style: str = "") -> Text:
    """A rich Text that shows `text` literally: no markup parsing, control sequences removed."""
    return Text(strip_control(text), style=style, end="")
