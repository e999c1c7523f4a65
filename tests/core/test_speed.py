"""Time: seconds per step against the H200 measurements (target: within 25%), and the ETA's arithmetic."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from ftui.core.dims import ModelDims, dims_from_hf_config
from ftui.core.plan import DatasetSummary, TrainingSettings
from ftui.core.speed import (
    GPU_SPEEDS,
    achieved_matmul_tflops,
    attended_keys,
    estimate_eta,
    estimate_step_time,
    flops_per_token,
    gpu_speed,
)

VRAM = Path(__file__).resolve().parents[2] / "benchmarks" / "vram"
TABLE = json.loads((VRAM / "results.json").read_text())
ARCHITECTURES = json.loads((VRAM / "architectures.json").read_text())
LLAMA_8B = ModelDims(
    layers=32, hidden=4096, intermediate=14336, heads=32, kv_heads=8, vocab=128256, context=131072
)


def row_id(row: dict) -> str:
    return f"{row['arch'].split('/')[1]}-{row['method']}-{row['gradient_checkpointing']}-b{row['batch']}-s{row['seq']}"


# Configurations the time model misses, each with why; strict, so that a model that meets them fails here
# until it is taken off the list. Issue 17 (open): held out of the fit, every configuration within 25%.
MISSED = {
    "gemma-3-1b-it-qlora-unsloth-b1-s1024": "2026-11-30: a host-bound step, 0.246 s and (third lease) 0.216 s "
    "measured, 0.323 estimated (+32%, +50%); Gemma 3 1B's 26 small layers cost the host less than the per-layer "
    "figure fitted on Llama and Qwen, and the same step moved 14% between two leases",
    "Qwen3-30B-A3B-12L-qlora-unsloth-b4-s2048": "2026-11-30 (third lease): 0.251 s measured, 0.166 estimated "
    "(-34%); the time model counts the 8 experts a token uses as dense FLOPs, and 128 experts of 768 each take "
    "~512 of the 8,192 tokens, small matmuls far below the fitted efficiency (not modelled)",
}


def _rows() -> list:
    return [
        pytest.param(row, marks=pytest.mark.xfail(strict=True, reason=MISSED[row_id(row)]))
        if row_id(row) in MISSED
        else row
        for row in TABLE["rows"]
    ]


@pytest.mark.parametrize("row", _rows(), ids=row_id)
def test_seconds_per_step_within_25_percent_of_the_h200(row):
    settings = TrainingSettings(
        method=row["method"], batch=row["batch"], seq=row["seq"], optimizer=row["optimizer"],
        gradient_checkpointing=row["gradient_checkpointing"], grad_accum=1,
    )  # fmt: skip
    step = estimate_step_time(dims_from_hf_config(ARCHITECTURES[row["arch"]]["config"]), settings, "H200")
    assert step is not None
    assert step.seconds_per_step == pytest.approx(row["seconds_per_step"], rel=0.25)


def test_more_work_takes_longer_and_faster_cards_take_less():
    def seconds(gpu="H200", **changes):
        return estimate_step_time(LLAMA_8B, TrainingSettings(**changes), gpu).seconds_per_step

    assert seconds(batch=1, seq=8192) < seconds(batch=4, seq=8192) < seconds(batch=8, seq=8192)
    assert seconds(method="lora", seq=8192) < seconds(method="full", seq=8192)
    assert seconds("H200", seq=8192) < seconds("A100 80GB", seq=8192) < seconds("RTX 3090", seq=8192)
    assert seconds(grad_accum=8) == pytest.approx(2 * seconds(grad_accum=4))


def test_tokens_per_second_is_tokens_over_time():
    step = estimate_step_time(LLAMA_8B, TrainingSettings(batch=2, seq=4096, grad_accum=4), "H100 80GB")
    assert step.tokens_per_step == 2 * 4096 * 4
    assert step.tokens_per_second == pytest.approx(step.tokens_per_step / step.seconds_per_step)
    assert step.gpu == "H100 80GB"


def test_gpu_names_are_forgiving_and_unknown_cards_give_no_time():
    assert gpu_speed("h200") is GPU_SPEEDS["h200"]
    assert gpu_speed("NVIDIA A100-SXM4-80GB").name == "A100 80GB"  # through the catalog's matcher
    assert gpu_speed("Voodoo 2") is None
    assert estimate_step_time(LLAMA_8B, TrainingSettings(), "Voodoo 2") is None
    assert achieved_matmul_tflops("H200") == pytest.approx(788.0)


def test_every_catalog_gpu_has_speed_figures():
    from ftui.core.catalog import load_catalog

    for gpu in load_catalog().gpus:
        assert gpu.name.lower() in GPU_SPEEDS, gpu.name


def test_flops_per_token_is_six_per_parameter_plus_attention():
    settings = TrainingSettings(seq=2048)
    linear = 32 * (4096 * 4096 * 2 + 4096 * 1024 * 2 + 3 * 4096 * 14336)
    attention = 6 * 2048 * 4096 * 32
    assert flops_per_token(LLAMA_8B, settings) == 6 * (linear + 128256 * 4096) + attention


def test_eta_counts_steps_from_rows_epochs_and_max_steps():
    settings = TrainingSettings(batch=2, grad_accum=4, seq=2048, epochs=2.0)
    data = DatasetSummary(source="x.jsonl", rows=1000, format="alpaca", total_tokens=500_000)
    eta = estimate_eta(LLAMA_8B, settings, "H200", data)
    assert eta.steps == math.ceil(1000 * 2 / 8)
    # rows are packed without padding: a step costs the mean row (500 tokens), not the max length
    assert eta.step.tokens_per_step == 2 * 500 * 4
    assert eta.seconds == pytest.approx(eta.steps * eta.step.seconds_per_step)
    assert estimate_eta(LLAMA_8B, dataclasses.replace(settings, max_steps=60), "H200", data).steps == 60
    # only a token count: rows taken as packed to the maximum length
    assert estimate_eta(LLAMA_8B, settings, "H200", 2048 * 80).steps == math.ceil(80 * 2 / 8)
    assert estimate_eta(LLAMA_8B, settings, "H200", DatasetSummary("x", 10, "text")) is None


def test_sliding_window_layers_read_from_every_way_configs_say_it():
    base = {"hidden_size": 1152, "num_attention_heads": 4, "num_hidden_layers": 26, "intermediate_size": 6912}
    types = ["sliding_attention"] * 5 + ["full_attention"]
    gemma = dims_from_hf_config({**base, "sliding_window": 512, "layer_types": (types * 5)[:26]})
    assert (gemma.sliding_window, gemma.sliding_layers) == (512, 22)
    pattern = dims_from_hf_config({**base, "sliding_window": 512, "sliding_window_pattern": 6})
    assert (pattern.sliding_window, pattern.sliding_layers) == (512, 26 - 26 // 6)
    every = dims_from_hf_config({**base, "sliding_window": 4096})  # Mistral v0.1: every layer
    assert every.sliding_layers == 26
    qwen = dims_from_hf_config({**base, "sliding_window": 131072, "use_sliding_window": False})
    assert qwen.sliding_window is None and qwen.sliding_layers == 0
    assert dims_from_hf_config({**base, "sliding_window": None}).sliding_layers == 0


def test_a_sliding_window_caps_attention_only_past_the_window():
    full = dataclasses.replace(LLAMA_8B)
    windowed = dataclasses.replace(LLAMA_8B, sliding_window=512, sliding_layers=32)

    def seconds(dims, seq):
        return estimate_step_time(
            dims, TrainingSettings(batch=1, seq=seq, grad_accum=1), "H200"
        ).seconds_per_step

    assert seconds(windowed, 512) == seconds(full, 512)  # a row inside the window attends to all of it
    assert seconds(windowed, 32768) < 0.8 * seconds(full, 32768)  # 512 keys a query instead of ~16k
    assert attended_keys(windowed, 32768) == pytest.approx(512 - 512 * 512 / 2 / 32768)
    half = dataclasses.replace(windowed, sliding_layers=16)
    assert attended_keys(half, 32768) == pytest.approx((attended_keys(windowed, 32768) + 32768 / 2) / 2)


def test_a_vision_step_adds_the_towers_layers_to_the_host_and_slows_the_gpu_work():
    """A host-bound vision step gains the tower's layers at the text path's per-layer cost (less when the
    tower is frozen: one forward, no adapters); a GPU-bound one takes vision_gpu_factor times the GPU work
    (BENCHMARKS.md, vision estimator)."""
    from ftui.core.memory_vision import VisionLoad
    from ftui.core.speed import TIME

    qwen = dataclasses.replace(LLAMA_8B, architecture="qwen2_5_vl")
    image = VisionLoad(1, (512, 512))

    def seconds(vision=image, constants=TIME, **changes):
        settings = TrainingSettings(**{"batch": 1, "seq": 512, "grad_accum": 1, **changes})
        return estimate_step_time(qwen, settings, "H200", vision=vision, constants=constants).seconds_per_step

    host_bound = seconds() - seconds(vision=None)
    assert host_bound == pytest.approx(32 * TIME.host_seconds_per_layer, rel=0.05)  # 32 tower layers
    assert seconds(finetune_vision_layers=False) < seconds()
    no_factor = dataclasses.replace(TIME, vision_gpu_factor=1.0, vision_tower_host_scale=0.0)
    gpu_bound = seconds(batch=8, seq=8192, constants=no_factor)
    assert seconds(batch=8, seq=8192) == pytest.approx(TIME.vision_gpu_factor * gpu_bound, rel=0.05)
