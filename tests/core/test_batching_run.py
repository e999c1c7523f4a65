"""The split a run trains with: `ftui train`'s flags, the TUI's plan, and the data's rows sized on the way.

`ftui train` asks NVML for this machine's card; this machine has none, so the commands are checked for what
they write (auto_batch, the rows a step), and the choice itself through choose_for_run with a card named.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftui.cli import build_parser
from ftui.commands.train import build_config, choose_split
from ftui.core.batching import choose_for_run, row_lengths
from ftui.core.errors import UsageError
from ftui.core.plan import DatasetSummary, GpuChoice, Plan, TrainingSettings
from ftui.core.run_config import RunConfig

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = str(ROOT / "assets" / "samples" / "alpaca_sample.jsonl")


def train_config(*flags: str) -> RunConfig:
    args = build_parser().parse_args(["train", "--model", "Qwen/Qwen3-8B", "--data", SAMPLE, *flags])
    return build_config(args)


def test_by_default_ftui_splits_the_rows_and_an_explicit_split_is_yours():
    assert train_config().settings.auto_batch is True
    for flags in (["--batch", "4"], ["--grad-accum", "2"], ["--batch", "2", "--grad-accum", "4"]):
        assert train_config(*flags).settings.auto_batch is False
    rows = train_config("--effective-batch", "32").settings
    assert (rows.batch, rows.grad_accum, rows.auto_batch) == (2, 16, True)
    mine = train_config("--batch", "4", "--effective-batch", "32").settings
    assert (mine.batch, mine.grad_accum, mine.auto_batch) == (4, 8, False)
    odd = train_config("--effective-batch", "7").settings  # 2 does not divide 7: one row a micro-step
    assert (odd.batch, odd.grad_accum) == (1, 7)


def test_rows_a_step_that_do_not_divide_are_refused_in_one_sentence():
    with pytest.raises(UsageError, match="not a multiple of the micro-batch 4"):
        train_config("--batch", "4", "--effective-batch", "6")
    with pytest.raises(UsageError, match="does not divide among 2 GPUs"):
        train_config("--gpus", "0,1", "--effective-batch", "7")


def test_without_a_gpu_here_the_split_stays_as_set():
    config, choice = choose_split(train_config())
    assert (config.settings.batch, config.settings.grad_accum) == (2, 4)
    assert choice.chosen_by == "settings" and "no GPU" in choice.reason


def test_a_run_on_an_h200_takes_the_fastest_split_for_its_data():
    config = train_config()
    mean = row_lengths(config)
    # 80 short Alpaca rows (about 4 characters a token without the model's tokenizer here)
    lines = [json.loads(line) for line in Path(SAMPLE).read_text().splitlines()]
    chars = sum(len(r["instruction"]) + len(r["input"]) + len(r["output"]) for r in lines) / len(lines)
    assert chars / 4 < mean < chars / 4 + 80  # the template's markers add a few dozen tokens
    choice = choose_for_run(config, vram_gib=140.4, gpu="H200")
    assert (choice.batch, choice.grad_accum) == (8, 1)
    assert choice.speedup > 3  # rows this short leave the GPU idle at 2 a micro-batch
    kept = choose_for_run(train_config("--batch", "2"), vram_gib=140.4, gpu="H200")
    assert (kept.batch, kept.grad_accum, kept.chosen_by) == (2, 4, "settings")
    assert "ftui would split it 8 x 1" in kept.reason


def test_unreadable_data_sizes_time_by_the_maximum_length():
    config = train_config()
    config.data = "/nonexistent/data.jsonl"
    assert row_lengths(config) is None
    # full-length rows keep an 8B on an H200 busy enough at 8 rows: still one micro-batch, smaller gain
    choice = choose_for_run(config, vram_gib=140.4, gpu="H200")
    assert (choice.batch, choice.grad_accum) == (8, 1) and 1.2 < choice.speedup < 2


def test_the_tui_plan_runs_the_split_its_train_step_shows():
    plan = Plan(
        gpu=GpuChoice("NVIDIA H200", 140.4, True, detected=True),
        dataset=DatasetSummary(SAMPLE, rows=80, format="alpaca", total_tokens=2752),
        model="Qwen/Qwen3-8B",
    )
    config = RunConfig.from_plan(plan)
    assert (config.settings.batch, config.settings.grad_accum) == (8, 1)
    plan.settings = TrainingSettings(batch=2, grad_accum=4, auto_batch=False)
    assert RunConfig.from_plan(plan).settings.batch == 2
    plan.settings, plan.gpu = TrainingSettings(), None
    assert RunConfig.from_plan(plan).settings.batch == 2  # no card: nothing to size for
