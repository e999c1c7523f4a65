"""`ftui script` for a vision run: the script gives Unsloth's collator the same rows as ftui's trainer.

The script cannot train here (Unsloth's vision path needs a GPU: see ftui/trainer/vision.py); the GPU script
benchmarks/training/vision_gpu.sh runs it on the H200. Here its row converter runs on every format ftui
reads, against ftui's own conversion.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from ftui.core.data.convert import vision_examples
from ftui.core.run_config import RunConfig, resolve
from tests.helpers.images import colour_rows, write_png, write_rows

pytestmark = pytest.mark.slow

RUNNER = """
import csv, json, runpy, sys
from ftui.trainer.compat import hide_broken_torchvision
hide_broken_torchvision()
results = {}
for script, data in json.loads(sys.argv[1]):
    scope = runpy.run_path(script, run_name="not_main")  # defines to_example, trains nothing
    if data.endswith(".parquet"):
        import pyarrow.parquet as pq
        rows = pq.read_table(data).to_pylist()
    elif data.endswith(".jsonl"):
        rows = [json.loads(line) for line in open(data)]
    elif data.endswith(".csv"):
        rows = list(csv.DictReader(open(data)))
    else:
        rows = json.load(open(data))
    examples = [scope["to_example"](row) for row in rows]
    results[data] = [
        {"messages": e["messages"], "images": [i["path"] or f"<{len(i['bytes'])} bytes>" for i in e["images"]]}
        for e in examples
    ]
print("EXAMPLES " + json.dumps(results))
"""


def datasets(folder):  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    yield write_rows(folder / "messages.jsonl", colour_rows(folder, 3))
    write_png(folder / "a.png")
    llava = [
        {
            "image": "a.png",
            "conversations": [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A."}],
        }
    ]
    (folder / "llava.json").write_text(json.dumps(llava))
    yield folder / "llava.json"
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, format="PNG")
    table = pa.table(
        {"image": [{"bytes": out.getvalue(), "path": "x.png"}], "question": ["Q?"], "answer": ["A."]}
    )
    pq.write_table(table, folder / "qa.parquet")
    yield folder / "qa.parquet"
    (folder / "captions.csv").write_text("file_name,text\na.png,a caption\n")
    yield folder / "captions.csv"


def test_the_scripts_rows_are_ftuis_rows(tmp_path):
    pairs = []
    for data in datasets(tmp_path):
        config = resolve(RunConfig(model="google/gemma-3-4b-it", data=str(data)))
        assert config.modality == "vision" and config.template == "model"
        script = tmp_path / f"train-{data.stem}.py"
        config.write(tmp_path / "config.toml")
        written = subprocess.run(
            [sys.executable, "-m", "ftui", "script", str(tmp_path / "config.toml"), "-o", str(script)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert written.returncode == 0, written.stderr
        text = script.read_text()
        assert (
            "FastVisionModel" in text
            and "skip_prepare_dataset" in text
            and "finetune_vision_layers=True" in text
        )
        pairs.append((str(script), str(data)))
    ran = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(pairs)], capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    got = json.loads(next(line for line in ran.stdout.splitlines() if line.startswith("EXAMPLES "))[9:])
    for _, data in pairs:
        expected = [
            {"messages": e.messages, "images": [r.value if r.kind == "path" else f"<{len(r.value)} bytes>" for r in e.images]}
            for e in vision_examples(data)
        ]  # fmt: skip
        assert got[data] == expected, data
