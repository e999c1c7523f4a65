"""Image validation speed: ftui's inspector against `datasets`' Image feature decoding the same images.

    python benchmarks/inspect_images.py                  # 1,000 rows, one 640x480 JPEG each, under .bench/
    python benchmarks/inspect_images.py --rows 1000 --png

Target (issue 14): 1,000 rows with one image each validated in under 10 s on this machine. ftui's figure
is the whole `inspect()` (read the rows, detect the format, locate, open, size-check and decode every image,
count text and image tokens); the peer's is `datasets` doing only the decode: a Dataset of the paths cast to
`Image()` and every row read (which opens and loads each image), so the ratio is in the peer's favour. Each
side runs in its own process after its imports; the images are read once first so both meet a warm page
cache; best of --repeat. The images are noise (they compress like photos, not like flat colour).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"

FTUI = """
import sys, time
sys.path.insert(0, {root!r})
from ftui.core.data import inspect
started = time.perf_counter()
report = inspect({data!r})
seconds = time.perf_counter() - started
assert report.usable_rows == {rows} and report.images.images == {rows}, report.problem_counts
print(seconds)
"""

DATASETS = """
import sys, time
sys.path.insert(0, {root!r})
from ftui.trainer.compat import hide_broken_torchvision
hide_broken_torchvision()
from datasets import Dataset, Image
paths = [line.split('"image": "')[1].split('"')[0] for line in open({data!r})]
folder = {folder!r}
started = time.perf_counter()
dataset = Dataset.from_dict({{"image": [folder + "/" + p for p in paths]}}).cast_column("image", Image())
sizes = [row["image"].size for row in dataset]
seconds = time.perf_counter() - started
assert len(sizes) == {rows}
print(seconds)
"""


def make(folder: Path, rows: int, png: bool) -> Path:
    from PIL import Image

    suffix = "png" if png else "jpg"
    data = folder / f"images-{rows}-{suffix}.jsonl"
    if data.exists():
        return data
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(rows):
        name = f"img/{i:05d}.{suffix}"
        image = Image.effect_noise((640, 480), 40 + i % 30).convert("RGB")
        image.save(folder / name, quality=90) if not png else image.save(folder / name)
        row = {
            "messages": [
                {"role": "user", "content": [{"type": "image", "image": name}, {"type": "text", "text": f"What is in picture {i}?"}]},
                {"role": "assistant", "content": f"Noise, pattern {i}."},
            ]
        }  # fmt: skip
        lines.append(json.dumps(row))
    data.write_text("\n".join(lines) + "\n")
    return data


def run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--png", action="store_true", help="PNG files instead of JPEG")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-datasets", action="store_true")
    options = parser.parse_args()
    folder = BENCH / "images"
    data = make(folder, options.rows, options.png)
    for image in (folder / "img").iterdir():  # warm the page cache for both sides
        image.read_bytes()
    values = {"root": str(ROOT), "data": str(data), "rows": options.rows, "folder": str(folder)}
    ftui = min(run(FTUI.format(**values)) for _ in range(options.repeat))
    peer = (
        None if options.skip_datasets else min(run(DATASETS.format(**values)) for _ in range(options.repeat))
    )
    result = {
        "rows": options.rows,
        "images": "png" if options.png else "jpeg",
        "size": "640x480",
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "ftui_inspect_s": round(ftui, 2),
        "datasets_image_decode_s": round(peer, 2) if peer else None,
        "ratio_ftui_over_datasets": round(ftui / peer, 2) if peer else None,
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
