"""A real finished run for the tests that load a trained model (export, chat, eval, and the app's export
sheet, try step and base comparison): the tiny Llama with a sentencepiece tokenizer (llama.cpp's converter
reads it as it is), trained by `ftui train` on CPU. The fixtures in tests/conftest.py train it once per
session; a test that writes into a run works on a copy (`copy_run`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.datasets import arithmetic_rows, write_jsonl

TRAIN = [
    "--method", "lora", "--batch", "4", "--grad-accum", "1", "--seq", "128", "--lr", "5e-3",
    "--optimizer", "adamw_torch", "--template", "chatml", "--max-steps", "30", "--save-steps", "100",
    "--eval-split", "0.1",
]  # fmt: skip


def ftui(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def train_finished_run(model: Path, runs_dir: Path, data_dir: Path) -> Path:
    """The run directory of a completed LoRA run with an eval split and held-out samples."""
    data = write_jsonl(data_dir / "arithmetic.jsonl", arithmetic_rows(120))
    result = ftui(
        "train", "--model", str(model), "--data", str(data), *TRAIN, "--runs-dir", str(runs_dir), "--json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["state"] == "completed"
    return Path(summary["path"])


def copy_run(run: Path, runs_dir: Path, name: str | None = None) -> Path:
    """A copy of a finished run in `runs_dir` (under another id with `name`), without what the app or the
    commands wrote into the original (exports, the base comparison, logs) or its checkpoints."""
    target = runs_dir / (name or run.name)
    shutil.copytree(
        run,
        target,
        ignore=shutil.ignore_patterns("exports", "base_eval.json", "chat.log", "eval.log", "checkpoints"),
    )
    return target


def failed_run(model: Path, runs_dir: Path, data_dir: Path) -> Path:
    """The run directory of a run that failed in its process: its trainer's interpreter (`/bin/false`)
    exits at once. (Bad data cannot make one: the preflight refuses it before any run exists.)"""
    data = data_dir / "data.jsonl"
    data.write_text('{"instruction": "q", "output": "a"}\n' * 4)
    trained = ftui(
        "train", "--model", str(model), "--data", str(data), "--python", "/bin/false",
        "--max-steps", "2", "--runs-dir", str(runs_dir), "--json",
    )  # fmt: skip
    assert trained.returncode == 1, trained.stderr[-2000:]
    return next(runs_dir.iterdir())
