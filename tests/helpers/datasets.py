"""Small training sets written on the fly: questions a tiny model can learn within a few dozen steps."""

from __future__ import annotations

import json
import os
from pathlib import Path


def arithmetic_rows(count: int = 120) -> list[dict]:
    """Chat rows "what is A plus B" -> "C": short, repetitive, so the loss falls fast."""
    rows = []
    for i in range(count):
        a, b = i % 10, (i * 7) % 10
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"what is {a} plus {b}"},
                    {"role": "assistant", "content": f"{a} plus {b} equals {a + b}"},
                ]
            }
        )
    return rows


def write_jsonl(path: str | os.PathLike[str], rows: list, *, raw_lines: dict[int, str] | None = None) -> Path:
    """Write rows as JSON lines; raw_lines replaces given 1-based lines with text as it is (to plant a bad row)."""
    path = Path(path)
    lines = [json.dumps(row) for row in rows]
    for number, text in (raw_lines or {}).items():
        lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
