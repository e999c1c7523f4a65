"""Finding the 16-bit weights a QLoRA run merges into: folders and a real Hugging Face cache layout."""

from __future__ import annotations

import json

import pytest

from ftui.core.base_weights import candidates, find_base_weights
from ftui.core.errors import UserError


def model_folder(path, *, quantized=False):
    path.mkdir(parents=True)
    config = {"model_type": "llama"}
    if quantized:
        config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (path / "config.json").write_text(json.dumps(config))
    (path / "model.safetensors").write_bytes(b"x")
    return path


def cache_snapshot(cache, repo, **kw):
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text("abc")
    return model_folder(root / "snapshots" / "abc", **kw)


def test_qlora_skips_the_4bit_repo_and_finds_the_original_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    cache_snapshot(tmp_path, "unsloth/Llama-3.1-8B-unsloth-bnb-4bit", quantized=True)
    original = cache_snapshot(tmp_path, "unsloth/Llama-3.1-8B")
    found = find_base_weights(
        "meta-llama/Llama-3.1-8B",
        "unsloth/Llama-3.1-8B-unsloth-bnb-4bit",
        "qlora",
        catalog_bf16="unsloth/Llama-3.1-8B",
    )
    assert found.source == "hf_cache" and found.path == original and "Hugging Face cache" in found.why


def test_without_a_catalog_entry_the_name_without_its_suffix_is_tried():
    assert candidates("org/x-bnb-4bit", "org/x-bnb-4bit", "qlora", None) == ["org/x-bnb-4bit", "org/x"]
    assert candidates("m", "m", "lora", None) == ["m"]


def test_offline_and_not_cached_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as error:
        find_base_weights(
            "meta-llama/Llama-3.1-8B",
            "unsloth/Llama-3.1-8B-unsloth-bnb-4bit",
            "qlora",
            catalog_bf16="unsloth/Llama-3.1-8B",
        )
    message = str(error.value)
    assert message.startswith("The 16-bit weights of the base model are not on this machine")
    assert "unsloth/Llama-3.1-8B (not in the cache" in message and "HF_HUB_OFFLINE is set" in message
    assert message.endswith("or pass --base-weights DIR.")


def test_online_and_not_cached_is_downloaded_by_the_exporter(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    found = find_base_weights(
        "meta-llama/Llama-3.1-8B",
        "unsloth/Llama-3.1-8B-unsloth-bnb-4bit",
        "qlora",
        catalog_bf16="unsloth/Llama-3.1-8B",
    )
    assert found.source == "download" and found.path is None and found.repo == "unsloth/Llama-3.1-8B"


def test_given_folder_must_hold_16bit_weights(tmp_path):
    four_bit = model_folder(tmp_path / "q", quantized=True)
    with pytest.raises(UserError, match="holds quantized weights; give the original 16-bit model"):
        find_base_weights("m", "m", "qlora", given=str(four_bit))
    good = model_folder(tmp_path / "g")
    assert find_base_weights("m", "m", "qlora", given=str(good)).path == good.resolve()
