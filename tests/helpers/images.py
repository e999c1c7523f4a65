"""Image datasets written on the fly: real PNG files a test can break on purpose."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (40, 60, 220)}


def write_png(path: str | os.PathLike[str], size: tuple[int, int] = (64, 48), colour=(200, 30, 30)) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="PNG")
    return path


def truncated_png(path: str | os.PathLike[str]) -> Path:
    """A PNG cut off in the middle of its pixel data: its header reads, its pixels do not."""
    path = Path(path)
    full = write_png(path, (256, 256), (10, 200, 10))
    from PIL import Image

    Image.effect_noise((256, 256), 80).convert("RGB").save(full, format="PNG")  # noise: a long IDAT
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def bomb_png(path: str | os.PathLike[str], width: int = 32768, height: int = 16384) -> Path:
    """A PNG whose header claims width x height RGBA pixels (2 GiB decoded by default) with a few bytes of
    data: what a decompression bomb looks like to a reader, without writing 2 GB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    path = Path(path)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def colour_rows(
    folder: str | os.PathLike[str], count: int = 48, size: tuple[int, int] = (56, 56)
) -> list[dict]:
    """Messages rows "what colour is this?" -> the colour, each with its own PNG under folder/images."""
    folder = Path(folder)
    names = list(COLOURS)
    rows = []
    for i in range(count):
        name = names[i % len(names)]
        shade = tuple(max(0, min(255, c + (i * 7) % 30 - 15)) for c in COLOURS[name])
        image = write_png(folder / "images" / f"{i:04d}.png", size, shade)
        rows.append(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "image": str(image.relative_to(folder))},
                            {"type": "text", "text": "what colour is this"},
                        ],
                    },
                    {"role": "assistant", "content": [{"type": "text", "text": name}]},
                ]
            }
        )
    return rows


def write_rows(path: str | os.PathLike[str], rows: list) -> Path:
    path = Path(path)
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path
