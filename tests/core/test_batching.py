"""The throughput-optimal split of the effective batch, pinned on a few plans (issue 17).

The figures come from the estimator itself (memory, and the time model calibrated on the H200), so these
pin ftui's decision, not a measurement: BENCHMARKS.md ("Faster by default") has what it does on the card.
"""

from __future__ import annotations

import dataclasses

import pytest

from ftui.core.batching import NEAR_FASTEST, choose_batch, splits
from ftui.core.catalog import dims_for
from ftui.core.memory import MEMORY_SAFETY_MARGIN, estimate_peak_vram
from ftui.core.plan import TrainingSettings

QWEN3_8B = dims_for("Qwen/Qwen3-8B")
LLAMA_1B = dims_for("meta-llama/Llama-3.2-1B")
H200, RTX_4090 = 140.4, 23.99


def test_splits_keep_the_rows_of_a_step():
    assert splits(8) == [(1, 8), (2, 4), (4, 2), (8, 1)]
    assert splits(7) == [(1, 7), (7, 1)]
    assert splits(1) == [(1, 1)]


def test_8b_qlora_on_an_h200_runs_the_notebook_batch_as_one_micro_batch():
    # The notebooks' 2 x 4 at 2048 tokens leaves the H200 waiting on the host; 8 rows at once do not.
    choice = choose_batch(QWEN3_8B, TrainingSettings(), vram_gib=H200, gpu="H200")
    assert (choice.batch, choice.grad_accum, choice.effective_batch) == (8, 1, 8)
    assert choice.chosen_by == "ftui"
    assert choice.speedup == pytest.approx(1.43, abs=0.05)
    assert "8 rows a step" in choice.reason and "1.43x the 2 x 4 asked for" in choice.reason


def test_past_the_point_where_the_gpu_is_busy_the_smaller_micro_batch_wins():
    # 32 rows a step: 8 x 4 is within NEAR_FASTEST of 16 x 2 and 32 x 1, and holds less memory.
    choice = choose_batch(QWEN3_8B, TrainingSettings(grad_accum=16), vram_gib=H200, gpu="H200")
    assert (choice.batch, choice.grad_accum) == (8, 4)
    fastest = max(o.tokens_per_second for o in choice.options)
    assert choice.chosen.tokens_per_second >= fastest * (1 - NEAR_FASTEST)
    assert "larger micro-batches gain under 3%" in choice.reason


def test_a_split_that_is_already_as_fast_as_any_is_kept():
    # On a 4090 full 4096-token rows keep the GPU busy at any split: nothing to gain, nothing changes. (At
    # 2048 tokens 4 x 2 gains 3%: QLoRA dequantizes every weight once a micro-step, and fewer micro-steps
    # move fewer bytes.)
    choice = choose_batch(QWEN3_8B, TrainingSettings(seq=4096), vram_gib=RTX_4090, gpu="RTX 4090")
    assert (choice.batch, choice.grad_accum) == (2, 4)
    assert "already among the fastest" in choice.reason


def test_short_rows_make_the_host_the_bottleneck_and_a_larger_micro_batch_pays():
    # Alpaca-like rows (~150 tokens): 2 rows a micro-batch is 300 tokens, far from a busy GPU.
    choice = choose_batch(QWEN3_8B, TrainingSettings(), vram_gib=RTX_4090, gpu="RTX 4090", mean_row=150)
    assert (choice.batch, choice.grad_accum) == (8, 1)
    assert choice.speedup > 2


def test_memory_caps_the_choice_with_the_safety_margin():
    # Short rows want the largest micro-batch, but a row may be 8192 tokens long: 16 of them do not fit.
    settings = TrainingSettings(seq=8192, grad_accum=16)
    choice = choose_batch(QWEN3_8B, settings, vram_gib=RTX_4090, gpu="RTX 4090", mean_row=150)
    assert (choice.batch, choice.grad_accum) == (8, 4)
    peak = estimate_peak_vram(QWEN3_8B, dataclasses.replace(settings, batch=8)).total_gib
    assert peak * (1 + MEMORY_SAFETY_MARGIN) <= RTX_4090
    sixteen = next(o for o in choice.options if o.batch == 16)
    assert not sixteen.fits and sixteen.tokens_per_second > choice.chosen.tokens_per_second
    # the data's longest row, when known, is what memory is sized for
    short = choose_batch(
        QWEN3_8B, settings, vram_gib=RTX_4090, gpu="RTX 4090", mean_row=150, longest_row=1024
    )
    assert short.batch == 32 and all(o.fits for o in short.options)


def test_the_users_split_wins_and_the_reason_says_what_ftui_would_do():
    settings = TrainingSettings(auto_batch=False)
    choice = choose_batch(QWEN3_8B, settings, vram_gib=H200, gpu="H200")
    assert (choice.batch, choice.grad_accum, choice.chosen_by) == (2, 4, "settings")
    assert "as you set it" in choice.reason and "ftui would split it 8 x 1" in choice.reason
    huge = choose_batch(
        QWEN3_8B,
        TrainingSettings(batch=64, grad_accum=1, auto_batch=False),
        vram_gib=RTX_4090,
        gpu="RTX 4090",
    )
    assert huge.batch == 64 and "does not fit the RTX 4090" in huge.reason and "may not fit" in huge.short


def test_without_a_card_or_its_speed_the_split_stays_unless_it_does_not_fit():
    assert choose_batch(QWEN3_8B, TrainingSettings(), vram_gib=None).batch == 2
    unknown = choose_batch(QWEN3_8B, TrainingSettings(), vram_gib=RTX_4090, gpu="Voodoo 2")
    assert (unknown.batch, unknown.grad_accum) == (2, 4)
    assert "no speed figures" in unknown.reason
    too_big = choose_batch(
        QWEN3_8B, TrainingSettings(batch=8, grad_accum=1, seq=16384), vram_gib=RTX_4090, gpu="Voodoo 2"
    )
    assert too_big.batch * too_big.grad_accum == 8 and too_big.batch < 8 and too_big.chosen.fits


def test_nothing_fits_says_so_and_takes_one_row_at_a_time():
    choice = choose_batch(LLAMA_1B, TrainingSettings(method="full", seq=65536), vram_gib=8.0, gpu="L4")
    assert (choice.batch, choice.grad_accum) == (1, 8)
    assert "not to fit" in choice.reason


@pytest.mark.parametrize("vram", [8.0, 16.0, 24.0, 80.0, 140.4])
@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
@pytest.mark.parametrize("rows", [(1, 1), (2, 4), (4, 4), (1, 12)])
def test_the_choice_keeps_the_effective_batch_and_fits_when_anything_does(vram, method, rows):
    settings = TrainingSettings(method=method, batch=rows[0], grad_accum=rows[1])
    choice = choose_batch(LLAMA_1B, settings, vram_gib=vram, gpu="A100 80GB", gpus=2)
    assert choice.batch * choice.grad_accum == rows[0] * rows[1]
    assert choice.effective_batch == rows[0] * rows[1] * 2
    if any(o.fits for o in choice.options):
        assert choice.chosen.fits
    json = choice.to_json()
    assert json["batch"] == choice.batch and len(json["options"]) == len(splits(rows[0] * rows[1]))


def test_on_several_gpus_each_split_is_sized_the_way_ftui_trains_on_them():
    # Qwen3-30B-A3B's QLoRA does not fit one 24 GB card at any split; on two it trains sharded, and the
    # split is sized for a sharded GPU's peak, not for a whole copy on each.
    moe = dims_for("Qwen/Qwen3-30B-A3B")
    one = choose_batch(moe, TrainingSettings(), vram_gib=RTX_4090, gpu="RTX 4090")
    assert not any(o.fits for o in one.options) and "not to fit" in one.reason
    two = choose_batch(moe, TrainingSettings(), vram_gib=RTX_4090, gpu="RTX 4090", gpus=2)
    assert two.chosen_by == "ftui" and two.chosen.fits
    from ftui.core.sharding import choose_way

    way = choose_way(moe, two.settings(TrainingSettings()), 2, RTX_4090)
    assert way.way == "fsdp" and two.chosen.peak_gib == way.estimate.total_gib
    # a model that fits one card keeps a copy on each (DDP), whose buckets the split is sized with too
    ddp = choose_batch(QWEN3_8B, TrainingSettings(), vram_gib=RTX_4090, gpu="RTX 4090", gpus=2)
    copy = choose_way(QWEN3_8B, ddp.settings(TrainingSettings()), 2, RTX_4090)
    assert copy.way == "ddp" and ddp.chosen.peak_gib == copy.estimate.total_gib
