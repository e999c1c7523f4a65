"""An image in the terminal as coloured half blocks (two pixels per cell, upper and lower), drawn by
textual-image's half-cell renderer: it works wherever 256 colours do, over SSH and in tmux, at 80x24.

textual-image chooses a protocol (Sixel, Kitty graphics, half cells) when `textual_image.renderable` is
first imported, by writing queries to the terminal and reading its answers from stdin; inside a running
Textual app stdin belongs to Textual, so those answers would arrive as keystrokes. ftui only draws half
cells, so it loads that one renderer without running the package's detection (the package module is
created, not executed) and fills the library's cell-size cache with its own default, which it would
otherwise also ask the terminal for.

Images are opened and shrunk here (call `image_cells` from a worker thread): a 4000x3000 photo becomes a
few thousand pixels before it reaches the event loop.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.text import Text

CELL_PIXELS = (10, 20)  # textual-image's own default (a VT340's cell) when the terminal is not asked


def _halfcell():
    import importlib.util
    import sys

    if "textual_image.renderable" not in sys.modules:
        spec = importlib.util.find_spec("textual_image.renderable")
        if spec is None:
            raise ImportError("textual_image.renderable")
        sys.modules["textual_image.renderable"] = importlib.util.module_from_spec(spec)  # not executed
    from textual_image._terminal import CellSize, get_cell_size
    from textual_image.renderable.halfcell import Image

    if not hasattr(get_cell_size, "_result"):
        get_cell_size._result = CellSize(*CELL_PIXELS)  # type: ignore[attr-defined]
    return Image


def image_cells(source: str | Path | bytes | Any, width: int, height: int | None = None) -> RenderableType:
    """The image `width` cells wide (and at most `height` cells tall), or one line saying why it cannot be
    shown. `source`: a path, the image's bytes, or a PIL image."""
    try:
        renderer = _halfcell()
    except ImportError:
        return Text("(the image preview needs textual-image: pip install 'textual-image>=0.12,<0.13')", "dim")
    try:
        from PIL import Image

        if isinstance(source, bytes):
            image = Image.open(io.BytesIO(source))
        elif isinstance(source, str | Path):
            image = Image.open(source)
        else:
            image = source
        if getattr(image, "format", None) == "JPEG":
            image.draft("RGB", (width * 2, width * 2))
        rgb = image.convert("RGB")
        rgb.thumbnail((width, (height or width) * 2))  # a cell is one pixel wide and two tall
        return renderer(rgb, width=rgb.width, height=(rgb.height + 1) // 2)
    except Exception as error:  # a file removed since the inspection, or damaged: say so, do not crash
        return Text(f"(the image cannot be shown: {str(error)[:60]})", "dim")
