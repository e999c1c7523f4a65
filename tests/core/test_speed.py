"""Time: seconds per step against the H200 measurements (target: within 25%), and the ETA's arithmetic."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import sys
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


def configurations() -> list[tuple[dict, list[float]]]:
    """Each measured configuration with its step times: the same configuration measured in several leases
    differs with the lease's host (Llama 3.2 1B's QLoRA step at 1 x 512: 0.172 s in two leases, 0.231-0.241
    in three), so a configuration is judged on the median of its measurements."""
    groups: dict[str, tuple[dict, list[float]]] = {}
    for row in TABLE["rows"]:
        if row.get("seconds_per_step"):
            groups.setdefault(row_id(row), (row, []))[1].append(row["seconds_per_step"])
    return list(groups.values())


@pytest.mark.parametrize(
    "row,measured", configurations(), ids=lambda v: row_id(v) if isinstance(v, dict) else ""
)
def test_seconds_per_step_within_25_percent_of_the_h200(row, measured):
    settings = TrainingSettings(
        method=row["method"], batch=row["batch"], seq=row["seq"], optimizer=row["optimizer"],
        gradient_checkpointing=row["gradient_checkpointing"], grad_accum=1,
    )  # fmt: skip
    step = estimate_step_time(dims_from_hf_config(ARCHITECTURES[row["arch"]]["config"]), settings, "H200")
    assert step is not None
    assert step.seconds_per_step == pytest.approx(statistics.median(measured), rel=0.25)


# Issue 17's standard: each architecture predicted by a fit on the others (benchmarks/vram/analyze.py
# calibrate-time), every configuration within 25%. The one it misses, with why; exact, so that a model that
# meets it (or misses another) fails here until the list says so.
HELD_OUT_MISSES = {
    # a 4-layer slice of Mixtral (its layers' dims, 4 of 32): a 0.07-0.095 s step whose two leases are 36%
    # apart; held out, the fixed host cost a micro-step fitted on the others weighs on its 4 layers
    "Mixtral-8x7B-v0.1-4L-qlora-unsloth-b1-s1024",
}


def test_each_architecture_held_out_of_the_fit_is_within_25_percent():
    sys.path.insert(0, str(VRAM))
    import analyze

    found = analyze.calibrate_time(markdown=False)
    over = {row_id(c) for c in found["configurations"] if abs(c["held_out"] / c["measured"] - 1) > 0.25}
    assert over == HELD_OUT_MISSES
    assert len(found["configurations"]) >= 50
    assert {c["arch"] for c in found["configurations"]} >= {
        "google/gemma-3-1b-it", "microsoft/Phi-4-mini-instruct", "mistralai/Mistral-7B-v0.3", "Qwen/Qwen3-8B",
        "Qwen/Qwen3-30B-A3B-12L", "allenai/OLMoE-1B-7B-0924", "mistralai/Mixtral-8x7B-v0.1-4L",
    }  # fmt: skip
    full = {c["arch"] for c in found["configurations"] if c["method"] == "full"}
    assert full >= {"meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-3B"}


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


def test_the_path_unsloth_trains_on_sets_the_hosts_cost_a_layer():
    """LoRA and QLoRA of the model types with Unsloth's own kernels (Llama, Qwen2/3, Mistral, Gemma 1/2) cost
    host_seconds_per_layer a layer; every other type (Gemma 3, the MoE models) goes through FastModel, whose
    compiled layers cost host_seconds_per_layer_compiled, as full fine-tuning of any model does."""
    from ftui.core.speed import TIME

    def host_bound(architecture, method="lora"):
        dims = dataclasses.replace(LLAMA_8B, architecture=architecture)
        settings = TrainingSettings(method=method, batch=1, seq=64, grad_accum=1)
        return estimate_step_time(dims, settings, "H200").seconds_per_step

    kernels, compiled = host_bound("llama"), host_bound("gemma3_text")
    assert kernels == pytest.approx(
        32 * TIME.host_seconds_per_layer + TIME.host_seconds_per_micro_step, rel=0.02
    )
    assert compiled == pytest.approx(
        32 * TIME.host_seconds_per_layer_compiled + TIME.host_seconds_per_micro_step, rel=0.02
    )
    assert host_bound("qwen3") == kernels and host_bound("mistral") == kernels
    assert host_bound("llama", "full") == pytest.approx(host_bound("gemma3_text", "full"))


def test_a_routed_experts_step_adds_host_and_gpu_and_qlora_moves_every_weight():
    """An MoE layer makes the host wait for its routing, so its host and GPU work add up (a dense step takes
    the larger, softly); QLoRA dequantizes every weight, every expert included, in each pass."""
    from ftui.core.memory import parameter_counts
    from ftui.core.speed import TIME

    moe = dims_from_hf_config(ARCHITECTURES["Qwen/Qwen3-30B-A3B-12L"]["config"])
    settings = TrainingSettings(method="qlora", batch=4, seq=2048, grad_accum=1)
    no_host = dataclasses.replace(
        TIME,
        host_seconds_per_layer_compiled=0.0,
        host_seconds_per_layer_qlora=0.0,
        host_seconds_per_micro_step=0.0,
    )
    no_gpu = dataclasses.replace(
        TIME, linear_efficiency=1e9, attention_efficiency=1e9, bandwidth_efficiency=1e9
    )

    def seconds(dims, constants=TIME, s=settings):
        return estimate_step_time(dims, s, "H200", constants=constants).seconds_per_step

    assert seconds(moe) == pytest.approx(seconds(moe, no_host) + seconds(moe, no_gpu), rel=1e-3)
    dense = dataclasses.replace(moe, experts=0, experts_per_token=0, moe_intermediate=None)
    assert seconds(dense) < 0.95 * (seconds(dense, no_host) + seconds(dense, no_gpu))

    no_dequantize = dataclasses.replace(TIME, dequantize_bytes=0.0)
    bandwidth = GPU_SPEEDS["h200"].memory_tb_s * 1e12 * TIME.bandwidth_efficiency
    moved = parameter_counts(moe, settings).linear * 4.5 * 3 / bandwidth  # forward, recompute, backward
    gpu_only = seconds(moe, no_host) - seconds(moe, dataclasses.replace(no_host, dequantize_bytes=0.0))
    assert gpu_only == pytest.approx(moved, rel=1e-3)
    lora = dataclasses.replace(settings, method="lora")
    assert seconds(moe, s=lora) == seconds(moe, no_dequantize, s=lora)
