"""A real finished run for the export, chat and eval tests: the tiny Llama with a sentencepiece tokenizer
(llama.cpp's converter reads it as it is), trained by `ftui train` on CPU, once per session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.datasets import arithmetic_rows, write_jsonl
from tests.helpers.tiny_model import tiny_llama_for_session

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


@pytest.fixture(scope="session")
def sp_model(tmp_path_factory) -> Path:
    return tiny_llama_for_session(tmp_path_factory, tokenizer="sentencepiece")


@pytest.fixture(scope="session")
def export_runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export-runs")


@pytest.fixture(scope="session")
def finished_run(sp_model, export_runs, tmp_path_factory) -> Path:
    """The run directory of a completed LoRA run with an eval split and held-out samples."""
    data = write_jsonl(tmp_path_factory.mktemp("export-data") / "arithmetic.jsonl", arithmetic_rows(120))
    result = ftui(
        "train",
        "--model",
        str(sp_model),
        "--data",
        str(data),
        *TRAIN,
        "--runs-dir",
        str(export_runs),
        "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["state"] == "completed"
    return Path(summary["path"])
