"""`ftui estimate` as a real process: the JSON fields README.md documents, exit codes, one-sentence errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FTUI = str(Path(sys.executable).parent / "ftui")
FIELDS = {
    "model", "settings", "total_gib", "breakdown", "trainable_params", "gpu", "fits", "max_batch", "max_seq",
    "methods", "seconds_per_step", "tokens_per_second", "eta", "vision", "gpus", "strategy", "strategy_reason",
    "per_gpu", "batch_choice",
}  # fmt: skip


def ftui(*args: str) -> subprocess.CompletedProcess:
    # No visible GPU, so that "this machine's card" is the same on every machine the tests run on.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([FTUI, "estimate", *args], capture_output=True, text=True, timeout=60, env=env)


def estimate_json(*args: str) -> dict:
    result = ftui(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_fields_for_a_catalog_model_on_a_named_gpu():
    out = estimate_json(
        "meta-llama/Llama-3.1-8B", "--gpu", "rtx 4090", "--tokens", "2000000", "--rows", "4000"
    )
    assert set(out) == FIELDS
    assert sum(out["breakdown"].values()) == pytest.approx(out["total_gib"], abs=1e-6)
    assert out["gpu"]["name"] == "RTX 4090" and out["gpu"]["detected"] is False
    assert out["gpu"]["vram_gib"] == pytest.approx(24.0, abs=0.1)
    assert out["fits"] == "fits" and out["max_batch"] >= 2 and out["max_seq"] >= 2048
    assert {m: e["fits"] for m, e in out["methods"].items()} == {
        "qlora": "fits",
        "lora": "fits",
        "full": "too_big",
    }
    assert out["methods"]["qlora"]["total_gib"] == out["total_gib"]
    assert out["seconds_per_step"] > 0 and out["tokens_per_second"] > 0
    assert out["eta"]["steps"] == 4000 // (2 * 4)
    assert out["settings"]["method"] == "qlora" and out["settings"]["rank"] == 16


def test_the_settings_flags_change_the_estimate():
    base = estimate_json("Qwen/Qwen2.5-7B")["total_gib"]
    assert estimate_json("Qwen/Qwen2.5-7B", "--batch", "8")["total_gib"] > base
    assert estimate_json("Qwen/Qwen2.5-7B", "--method", "lora")["total_gib"] > base
    assert (
        estimate_json("Qwen/Qwen2.5-7B", "--checkpointing", "none", "--seq", "8192")["total_gib"]
        > (estimate_json("Qwen/Qwen2.5-7B", "--seq", "8192")["total_gib"])
    )
    small = estimate_json("Qwen/Qwen2.5-7B", "--vram-gib", "6")
    assert small["fits"] == "too_big" and small["max_batch"] == 0 and small["gpu"]["name"] is None
    assert small["seconds_per_step"] is None  # a memory size alone says nothing about speed


def test_without_a_gpu_the_fit_is_left_open_and_the_text_says_how_to_ask():
    out = estimate_json("meta-llama/Llama-3.2-1B")
    assert out["gpu"] is None and out["fits"] is None and out["max_batch"] is None
    assert all(e["fits"] is None for e in out["methods"].values())
    text = ftui("meta-llama/Llama-3.2-1B")
    assert text.returncode == 0
    assert "Peak GPU memory" in text.stdout and "--gpu NAME or --vram-gib X" in text.stdout


def test_a_local_config_json_is_sized_from_its_dims(tmp_path):
    config = {
        "model_type": "llama", "num_hidden_layers": 16, "hidden_size": 2048, "intermediate_size": 8192,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": True,
        "max_position_embeddings": 131072,
    }  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    local = estimate_json(str(tmp_path), "--vram-gib", "8")
    assert local["total_gib"] == estimate_json("meta-llama/Llama-3.2-1B", "--vram-gib", "8")["total_gib"]


@pytest.mark.parametrize(
    "args,code,words",
    [
        (["no-such-model"], 1, "neither a catalog model"),
        (["meta-llama/Llama-3.1-8B", "--gpu", "voodoo"], 1, "not a GPU ftui knows"),
        (["meta-llama/Llama-3.1-8B", "--batch", "0"], 2, "--batch: takes a whole number of 1 or more, not 0"),
        (["meta-llama/Llama-3.1-8B", "--optimizer", "adamw_9bit"], 2, "adamw_8bit"),
        (["meta-llama/Llama-3.1-8B", "--vram-gib", "-3"], 2, "--vram-gib: takes a number above 0, not -3"),
    ],
)
def test_mistakes_end_in_one_sentence(args, code, words):
    result = ftui(*args)
    assert result.returncode == code
    assert words in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_vision_model_adds_its_images_and_the_parts_tuned():
    tuned = estimate_json("Qwen/Qwen2.5-VL-7B-Instruct", "--gpu", "h200", "--image-size", "1024x768")
    frozen = estimate_json(
        "Qwen/Qwen2.5-VL-7B-Instruct", "--gpu", "h200", "--image-size", "1024x768", "--no-finetune-vision"
    )
    assert tuned["vision"]["family"] == "Qwen2.5-VL" and tuned["vision"]["measured"] is True
    # Unsloth's collator scales 1024x768 to 512x384 first: 18 x 14 tokens of 28 px, + 2
    assert tuned["vision"]["image_tokens_per_row"] == 18 * 14 + 2
    assert frozen["trainable_params"] < tuned["trainable_params"]
    assert frozen["breakdown"]["vision"] < tuned["breakdown"]["vision"]
    assert sum(tuned["breakdown"].values()) == pytest.approx(tuned["total_gib"], abs=1e-6)
    text_only = estimate_json("Qwen/Qwen2.5-VL-7B-Instruct", "--gpu", "h200", "--images-per-row", "0")
    assert text_only["vision"] is None and "vision" not in text_only["breakdown"]
    # Time: the tower's layers cost host time as the language layers do (less frozen: one forward, no
    # adapters), and FastVisionModel's GPU work is ~3x the text path's (BENCHMARKS.md, vision estimator).
    assert tuned["seconds_per_step"] > frozen["seconds_per_step"] > 2 * text_only["seconds_per_step"]
    bad = ftui("Qwen/Qwen2.5-VL-7B-Instruct", "--image-size", "big")
    assert bad.returncode == 2 and "--image-size" in bad.stderr
    neither = ftui("Qwen/Qwen2.5-VL-7B-Instruct", "--no-finetune-attention", "--no-finetune-mlp")
    assert neither.returncode == 2 and "attention" in neither.stderr


def test_several_gpus_give_the_per_gpu_peak_for_ddp_and_sharded_and_the_way_ftui_uses():
    one = estimate_json("Qwen/Qwen2.5-32B-Instruct", "--gpu", "rtx 4090", "--batch", "4", "--seq", "4096")
    assert one["gpus"] == 1 and one["strategy"] == "single" and one["per_gpu"] is None
    assert one["fits"] == "too_big"
    two = estimate_json(
        "Qwen/Qwen2.5-32B-Instruct", "--gpus", "2", "--gpu", "rtx 4090", "--batch", "4", "--seq", "4096"
    )
    assert two["gpus"] == 2 and two["total_gib"] == one["total_gib"]  # the one-GPU fields stay as they were
    ddp, fsdp = two["per_gpu"]["ddp"], two["per_gpu"]["fsdp"]
    assert ddp["fits"] == "too_big" and fsdp["fits"] == "tight"  # 22.8 of 24.0 GiB
    assert {"gathered", "gather_staging", "gradient_accumulators"} <= set(fsdp["breakdown"])
    assert two["strategy"] == "fsdp" and "Sharded over 2 GPUs" in two["strategy_reason"]
    for way in (ddp, fsdp):
        assert set(way) == {"total_gib", "training_gib", "loading_gib", "breakdown", "fits"}
        assert sum(way["breakdown"].values()) == pytest.approx(way["training_gib"], abs=1e-2)
        assert way["total_gib"] == max(way["training_gib"], way["loading_gib"])
    text = ftui(
        "Qwen/Qwen2.5-32B-Instruct", "--gpus", "2", "--gpu", "rtx 4090", "--batch", "4", "--seq", "4096"
    )
    assert "On 2 x RTX 4090, per GPU:" in text.stdout and "ftui uses fsdp" in text.stdout
    bad = ftui("Qwen/Qwen2.5-32B-Instruct", "--gpus", "0")
    assert bad.returncode == 2 and "--gpus: takes a whole number of 1 or more, not 0" in bad.stderr


def test_batch_choice_splits_the_effective_batch_for_the_card():
    out = estimate_json("Qwen/Qwen3-8B", "--gpu", "h200", "--effective-batch", "32")
    choice = out["batch_choice"]
    assert out["settings"]["batch"] == 2 and out["settings"]["grad_accum"] == 16
    assert (choice["batch"], choice["grad_accum"], choice["effective_batch"]) == (8, 4, 32)
    assert choice["chosen_by"] == "ftui" and choice["speedup"] > 1.3 and choice["safety_margin"] == 0.08
    assert [(o["batch"], o["grad_accum"]) for o in choice["options"]] == [
        (1, 32), (2, 16), (4, 8), (8, 4), (16, 2), (32, 1)
    ]  # fmt: skip
    chosen = next(o for o in choice["options"] if o["batch"] == 8)
    assert chosen["fits"] and chosen["tokens_per_second"] == choice["tokens_per_second"]
    # short rows (--tokens / --rows) make larger micro-batches pay on a smaller card
    short = estimate_json("Qwen/Qwen3-8B", "--gpu", "rtx 4090", "--tokens", "1500000", "--rows", "10000")
    assert short["batch_choice"]["batch"] == 8 and short["batch_choice"]["grad_accum"] == 1
    text = ftui("Qwen/Qwen3-8B", "--gpu", "h200").stdout
    assert "Batch: Micro-batch 8 x accumulation 1 keeps 8 rows a step" in text
    assert estimate_json("Qwen/Qwen3-8B")["batch_choice"] is None  # no card: nothing to split for


def test_batch_choice_splits_the_effective_batch_over_the_gpus():
    """As `ftui train --effective-batch 16 --gpus 0,1`: 8 rows a GPU a step, split for one card."""
    out = estimate_json("meta-llama/Llama-3.1-8B", "--gpu", "h200", "--seq", "1024", "--effective-batch", "16",
                        "--gpus", "2")  # fmt: skip
    choice = out["batch_choice"]
    assert out["settings"]["batch"] * out["settings"]["grad_accum"] == 8
    assert (choice["batch"], choice["grad_accum"], choice["gpus"], choice["effective_batch"]) == (8, 1, 2, 16)
    assert [(o["batch"], o["grad_accum"]) for o in choice["options"]] == [(1, 8), (2, 4), (4, 2), (8, 1)]
    assert "keeps 8 rows a GPU a step" in choice["reason"]
    one = estimate_json(
        "meta-llama/Llama-3.1-8B", "--gpu", "h200", "--seq", "1024", "--effective-batch", "16"
    )
    assert (one["batch_choice"]["batch"], one["batch_choice"]["gpus"]) == (16, 1)
    odd = ftui("meta-llama/Llama-3.1-8B", "--batch", "4", "--effective-batch", "12", "--gpus", "2")
    assert odd.returncode == 2 and "not a multiple of the micro-batch 4 x 2 GPUs" in odd.stderr


def test_effective_batch_must_be_a_multiple_of_the_micro_batch():
    result = ftui("Qwen/Qwen3-8B", "--batch", "3", "--effective-batch", "8")
    assert result.returncode == 2
    assert "not a multiple of the micro-batch 3" in result.stderr and "Traceback" not in result.stderr
