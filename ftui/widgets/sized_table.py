"""Filling a DataTable with columns as wide as their widest cell, worked out here.

DataTable measures auto-width columns later, on an idle tick; when a table is cleared and filled again
before that tick (two results arriving close together), the measurement can be lost and the columns stay
as narrow as their headers ("Qwen3 " for "Qwen3 8B"). Fixed widths computed from the cells themselves
cannot be lost, and give the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable


def fill_table(
    table: DataTable, columns: Sequence[tuple[str, str]], rows: Sequence[tuple[str, Sequence[Text]]]
) -> None:
    """Replace the table's columns (label, key) and rows (key, cells) in one go."""
    widths = [len(label) for label, _ in columns]
    for _, cells in rows:
        for index, cell in enumerate(cells):
            widths[index] = max(widths[index], cell.cell_len)
    table.clear(columns=True)
    for (label, key), width in zip(columns, widths, strict=True):
        table.add_column(label, key=key, width=width)
    for key, cells in rows:
        table.add_row(*cells, key=key)
