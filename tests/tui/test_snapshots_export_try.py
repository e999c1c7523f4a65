"""How the export sheet and the try step look at 80x24 and at 120x40.

The sheet shows absolute paths (the run folder, where the export goes) and the free space there, so the
runs live at one fixed path (serialised between sessions by a lock) and the free space is fixed: the one
figure of this machine that no test can hold still. The base model is a local folder whose safetensors
header declares an 8B model's parameters (the sheet reads headers only). Update on purpose with
`pytest tests/tui/test_snapshots_export_try.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import struct
from pathlib import Path

import pytest

from tests.tui.conftest import text_of, wait_until, write_finished_run
from tests.tui.test_snapshots import settle

SIZES = [(80, 24), (120, 40)]
FIXED = Path("/tmp/ftui-snapshot-runs")
RUN_ID = "20260105-100000-qwen3-8b"
PARAMS = 8_190_735_360


@pytest.fixture
def fixed_place(monkeypatch, tmp_path):
    """FIXED, emptied, for this test alone; the free space there fixed at 512 GiB."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.setattr("ftui.core.exports.free_bytes", lambda folder: 512 * 1024**3)
    with open(f"{FIXED}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(FIXED, ignore_errors=True)
        FIXED.mkdir(parents=True)
        try:
            yield FIXED
        finally:
            shutil.rmtree(FIXED, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


def base_model(folder: Path) -> Path:
    """A model folder as find_base_weights and the sizing read it: config.json and a safetensors file
    whose header declares PARAMS bfloat16 parameters (no weights follow: only the header is read)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen3", "torch_dtype": "bfloat16"}))
    header = json.dumps({"w": {"dtype": "BF16", "shape": [PARAMS], "data_offsets": [0, 2 * PARAMS]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    return folder


def finished(place: Path) -> Path:
    model = base_model(place / "models" / "Qwen3-8B")
    return write_finished_run(place / "runs", RUN_ID, model=str(model), adapter_bytes=167 * 1024**2 // 4)


async def sheet_sized(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query_one("#runs-table").row_count == 1, "the run listed")
    await pilot.press("x")
    await settle(
        pilot, lambda app: "Enter starts the export" in text_of(app.screen.query_one("#export-size"))
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_export_sheet(snap_compare, make_app, size, fixed_place):
    finished(fixed_place)
    app = make_app(start="runs", runs_dir=fixed_place / "runs")
    assert snap_compare(app, terminal_size=size, run_before=sheet_sized)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_export_sheet_with_a_verified_gguf(snap_compare, make_app, size, fixed_place):
    run = finished(fixed_place)
    out = run / "exports" / "gguf-q4_k_m"
    rows = [
        {
            "line": 4,
            "prompt": "<|im_start|>user\nWhat is 7 times 8?<|im_end|>\n<|im_start|>assistant\n",
            "adapter": "7 times 8 is 56.",
            "merged": "7 times 8 is 56.",
            "gguf": "7 times 8 is 56.",
            "merged_agreement": 1.0,
            "gguf_agreement": 0.96,
            "flags": [],
        },
        {
            "line": 9,
            "prompt": "<|im_start|>user\nName a prime.<|im_end|>\n<|im_start|>assistant\n",
            "adapter": "7 is a prime.",
            "merged": "7 is a prime.",
            "gguf": "Nine.",
            "merged_agreement": 1.0,
            "gguf_agreement": 0.5,
            "flags": ["gguf predicts 50% of the adapter's tokens; expected at least 75% for q4_k_m"],
        },
    ]
    record = {
        "export_id": "20260105-101500-gguf-q4_k_m",
        "run_id": RUN_ID,
        "format": "gguf",
        "quant": "q4_k_m",
        "out": str(out),
        "verify": True,
        "state": "completed",
        "phase": None,
        "phases": [
            {"phase": "merging the adapter into the 16-bit weights", "at_s": 0.0},
            {"phase": "converting to GGUF (f16) with llama.cpp's converter", "at_s": 41.5},
            {"phase": "quantizing to q4_k_m with llama.cpp's quantizer", "at_s": 118.2},
            {"phase": "verifying: replaying the held-out prompts", "at_s": 205.9},
        ],
        "base_weights": {"why": f"16-bit weights from the folder {fixed_place / 'models' / 'Qwen3-8B'}."},
        "size_bytes": 4_920_000_000,
        "seconds": 262.4,
        "gguf_file": str(out / f"{RUN_ID}-q4_k_m.gguf"),
        "verification": {"flagged": 1, "tokenizer_matches": True, "rows": rows},
        "warnings": ["1 of 2 held-out prompts differ from the adapter beyond the expected drift."],
        "pid": None,
    }
    (run / "exports").mkdir()
    (run / "exports" / f"{record['export_id']}.json").write_text(json.dumps(record))
    app = make_app(start="runs", runs_dir=fixed_place / "runs")

    async def last_export_shown(pilot) -> None:  # type: ignore[no-untyped-def]
        await sheet_sized(pilot)
        await pilot.press("l")
        await settle(pilot, lambda app: "Nine." in text_of(app.screen.query_one("#export-record")))

    assert snap_compare(app, terminal_size=size, run_before=last_export_shown)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_try_step(snap_compare, make_app, size, fixed_place):
    finished(fixed_place)
    app = make_app(start="try", runs_dir=fixed_place / "runs")

    async def chosen(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, lambda app: "the model's own" in text_of(app.screen.query_one("#try-head")))

    assert snap_compare(app, terminal_size=size, run_before=chosen)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_with_the_base_model_beside(snap_compare, make_app, size, tmp_path, monkeypatch):
    """The generation table with the base model's answers, and the held-out losses above it (v)."""
    from ftui.core.base_eval import BaseAnswer, BaseEval, write_base_eval
    from tests.tui.conftest import write_run

    monkeypatch.chdir(tmp_path)  # the screen names the runs directory: keep it relative
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    samples = [
        {"line": 4, "prompt": "### Instruction:\nWhat is 7 times 8?\n\n### Response:\n", "output": "56"},
        {"line": 9, "prompt": "### Instruction:\nName a prime.\n\n### Response:\n", "output": "7 is."},
    ]
    path = write_run(tmp_path / "runs", RUN_ID, model="Qwen/Qwen3-8B", samples=samples)
    answers = [
        BaseAnswer(line=4, prompt=samples[0]["prompt"], output="What is 7 times 9? What is", new_tokens=32),
        BaseAnswer(line=9, prompt=samples[1]["prompt"], output="Name a colour.", new_tokens=5),
    ]
    write_base_eval(
        path,
        BaseEval(run_id=RUN_ID, rows=8, tokens=412, base_loss=2.8713, run_loss=1.5702, base_samples=answers),
    )
    app = make_app(start="runs", runs_dir=Path("runs"))

    async def selected(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_until(pilot, lambda: pilot.app.screen.query_one("#runs-table").row_count == 1, "the run")
        await pilot.press("space")
        await settle(pilot, lambda app: "Name a colour." in text_of(app.screen.query_one("#samples")))

    assert snap_compare(app, terminal_size=size, run_before=selected)
