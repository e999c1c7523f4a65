"""The name decoder on real names from the Hub: what it can tell, and what it reports as unknown."""

import json

import pytest

from ftui.core.names import decode

# name -> (org, family, size_b, kind, quantization); None: don't check that field here
REAL_NAMES = [
    ("unsloth/llama-3.1-8b-unsloth-bnb-4bit", "unsloth", "Llama 3.1", 8.03, "base", "unsloth_bnb_4bit"),
    ("qwen-2.5-14b-bnb-4bit", "unknown", "Qwen2.5", 14.77, "base", "bnb_4bit"),
    ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama", "Llama 3.1", 8.03, "instruct", "16bit"),
    ("Qwen/Qwen2.5-Coder-7B-Instruct-GGUF", "Qwen", "Qwen2.5-Coder", 7.616, "instruct", "gguf"),
    ("unsloth/Llama-3.2-3B-Instruct-bnb-4bit", "unsloth", "Llama 3.2", 3.213, "instruct", "bnb_4bit"),
    ("unsloth/Meta-Llama-3.1-8B-bnb-4bit", "unsloth", "Llama 3.1", 8.03, "base", "bnb_4bit"),
    ("UNSLOTH/QWEN3-8B-UNSLOTH-BNB-4BIT", "UNSLOTH", "Qwen3", 8.191, "instruct", "unsloth_bnb_4bit"),
    ("Qwen/Qwen3-8B-Base", "Qwen", "Qwen3", 8.191, "base", "16bit"),
    ("Qwen/Qwen3-30B-A3B", "Qwen", "Qwen3 MoE", 30.532, "instruct", "16bit"),
    ("google/gemma-2-9b-it", "google", "Gemma 2", 9.242, "instruct", "16bit"),
    ("google/gemma-3-4b-pt", "google", "Gemma 3", 4.3, "base", "16bit"),
    ("unsloth/gemma-3-12b-it-unsloth-bnb-4bit", "unsloth", "Gemma 3", 12.187, "instruct", "unsloth_bnb_4bit"),
    ("mistralai/Mistral-7B-Instruct-v0.3", "mistralai", "Mistral", 7.248, "instruct", "16bit"),
    ("unsloth/mistral-7b-v0.3-bnb-4bit", "unsloth", "Mistral", 7.248, "base", "bnb_4bit"),
    ("mistralai/Mistral-Nemo-Instruct-2407", "mistralai", "Mistral Nemo", 12.248, "instruct", "16bit"),
    ("microsoft/phi-4", "microsoft", "Phi-4", 14.66, "instruct", "16bit"),
    ("unsloth/Phi-3.5-mini-instruct-bnb-4bit", "unsloth", "Phi-3.5", 3.821, "instruct", "bnb_4bit"),
    (
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "deepseek-ai",
        "DeepSeek-R1-Distill",
        7.616,
        "instruct",
        "16bit",
    ),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB", "SmolLM2", 0.135, "instruct", "16bit"),
    ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "TinyLlama", "TinyLlama", 1.1, "instruct", "16bit"),
    ("bartowski/Llama-3.2-3B-Instruct-GGUF", "bartowski", "Llama 3.2", 3.213, "instruct", "gguf"),
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct", "Qwen", "Qwen2.5", 7.616, "instruct", "16bit"),
    # Not in the catalog: read from the name alone.
    ("unsloth/llama-3-8b-bnb-4bit", "unsloth", "Llama", 8.0, "unknown", "bnb_4bit"),
    ("TheBloke/Mistral-7B-Instruct-v0.2-AWQ", "TheBloke", "Mistral", 7.0, "instruct", "awq"),
    ("TheBloke/Llama-2-13B-chat-GPTQ", "TheBloke", "Llama", 13.0, "instruct", "gptq"),
    ("mlx-community/Qwen2.5-7B-Instruct-4bit", "mlx-community", "Qwen2.5", 7.616, "instruct", "mlx"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai", "Mixtral", None, "instruct", "16bit"),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "Qwen", "Qwen", 30.0, "instruct", "16bit"),
    ("neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8", "neuralmagic", "Llama 3.1", 70.554, "instruct", "fp8"),
    ("ibm-granite/granite-3.1-8b-instruct", "ibm-granite", "Granite", 8.0, "instruct", "16bit"),
    ("allenai/OLMo-2-1124-7B", "allenai", "OLMo", 7.0, "unknown", "16bit"),
    ("someone/llama-3-8b-instruct-4bit", "someone", "Llama", 8.0, "instruct", "unknown"),
    ("bigcode/starcoder2-15b", "bigcode", "StarCoder", 15.0, "unknown", "16bit"),
]


@pytest.mark.parametrize(("name", "org", "family", "size_b", "kind", "quantization"), REAL_NAMES)
def test_decodes_real_names(name, org, family, size_b, kind, quantization):
    decoded = decode(name)
    assert decoded.org == org
    assert decoded.family == family
    assert decoded.size_b == (pytest.approx(size_b) if size_b is not None else None)
    assert decoded.kind == kind
    assert decoded.quantization == quantization
    assert decoded.explanation.endswith(".")


def test_at_least_thirty_real_names_are_pinned():
    assert len(REAL_NAMES) >= 30


def test_case_does_not_matter():
    a = decode("unsloth/llama-3.1-8b-unsloth-bnb-4bit")
    b = decode("UNSLOTH/LLAMA-3.1-8B-UNSLOTH-BNB-4BIT")
    assert (a.family, a.size_b, a.kind, a.quantization, a.catalog_id) == (
        b.family,
        b.size_b,
        b.kind,
        b.quantization,
        b.catalog_id,
    )


def test_unknowns_are_reported_not_guessed():
    decoded = decode("unsloth/llama-3-8b-bnb-4bit")  # Llama 3 without -Instruct: base or instruct?
    assert decoded.kind == "unknown"
    assert "kind" in decoded.unknown
    assert "base or an instruct model is unknown" in decoded.explanation
    nothing = decode("random-thing")
    assert set(nothing.unknown) >= {"org", "family", "size_b", "kind"}
    assert nothing.size_b is None
    mixtral = decode("mistralai/Mixtral-8x7B-Instruct-v0.1")  # 8x7B is not 56B: shared attention
    assert mixtral.size_b is None and "size_b" in mixtral.unknown


def test_moe_active_parameters():
    decoded = decode("Qwen/Qwen3-30B-A3B-Instruct-2507")
    assert (decoded.size_b, decoded.active_b) == (30.0, 3.0)
    assert "mixture of experts" in decoded.explanation


def test_quantization_trade_offs_are_explained():
    assert "not for training" in decode("Qwen/Qwen2.5-Coder-7B-Instruct-GGUF").explanation
    assert decode("Qwen/Qwen2.5-Coder-7B-Instruct-GGUF").trainable is False
    assert "more accurate" in decode("unsloth/llama-3.1-8b-unsloth-bnb-4bit").explanation
    assert decode("unsloth/llama-3.1-8b-unsloth-bnb-4bit").trainable is True
    assert decode("someone/llama-3-8b-instruct-4bit").trainable is None


def test_local_path_with_a_config(tmp_path):
    folder = tmp_path / "my-finetune"
    folder.mkdir()
    config = {
        "model_type": "llama",
        "quantization_config": {"load_in_4bit": True, "quant_method": "bitsandbytes"},
    }
    (folder / "config.json").write_text(json.dumps(config))
    decoded = decode(str(folder))
    assert decoded.org == "local"
    assert decoded.local_path == str(folder)
    assert decoded.quantization == "bnb_4bit"
    assert "model type llama" in decoded.explanation


def test_local_path_that_does_not_exist():
    decoded = decode("./checkpoints/run-7")
    assert decoded.org == "local"
    assert "without a readable config.json" in decoded.explanation


def _llama_config(layers: int, hidden: int, vocab: int) -> dict:
    return {
        "model_type": "llama",
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "intermediate_size": 4 * hidden,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": vocab,
    }


def test_a_local_folder_named_like_a_catalog_model_matches_only_with_its_dims(tmp_path):
    # A test's tiny Llama in "tiny-llama" is not TinyLlama-1.1B: the folder name alone is only a hint.
    tiny = tmp_path / "tiny-llama"
    tiny.mkdir()
    (tiny / "config.json").write_text(json.dumps(_llama_config(2, 64, 384)))
    decoded = decode(str(tiny))
    assert "Matches the catalog" not in decoded.explanation
    assert decoded.size_b != 1.1

    # A real download of TinyLlama keeps its name and has its dims: then the catalog's facts apply.
    real = tmp_path / "TinyLlama-1.1B-Chat-v1.0"
    real.mkdir()
    (real / "config.json").write_text(json.dumps(_llama_config(22, 2048, 32000)))
    assert "Matches the catalog's TinyLlama/TinyLlama-1.1B-Chat-v1.0" in decode(str(real)).explanation
