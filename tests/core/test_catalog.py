"""The catalog as shipped: every entry loads, lookups are forgiving, and the contract others call holds."""

import re
from pathlib import Path

import pytest

from ftui.core.catalog import CHAT_TEMPLATES, load_catalog
from ftui.core.dims import ModelDims

FACTS = Path(__file__).resolve().parents[3] / "shared/reference/model-facts.json"
VENV_UNSLOTH = (
    Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/unsloth/chat_templates.py"
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_reference_model_is_in_the_catalog(catalog):
    import json

    if not FACTS.exists():
        pytest.skip("the shared reference table is not on this machine")
    for entry in json.loads(FACTS.read_text()):
        model = catalog.find(entry["hf_id"])
        assert model is not None, entry["hf_id"]
        assert model.license == entry["license"]
        assert model.commercial_use == entry["commercial_use"]


def test_find_accepts_hf_ids_unsloth_repos_legacy_names_and_any_case(catalog):
    llama = catalog.find("meta-llama/Llama-3.1-8B-Instruct")
    assert llama is not None
    assert catalog.find("META-LLAMA/llama-3.1-8b-instruct") is llama
    assert catalog.find("unsloth/Llama-3.1-8B-Instruct-bnb-4bit") is llama
    assert catalog.find("unsloth/llama-3.1-8b-instruct-unsloth-bnb-4bit") is llama
    assert catalog.find("https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct") is llama
    assert catalog.find("no-such/model") is None


def test_repo_for_each_method(catalog):
    llama = catalog.find("meta-llama/Llama-3.1-8B-Instruct")
    assert llama.repo_for("qlora") == "unsloth/Llama-3.1-8B-Instruct-unsloth-bnb-4bit"
    assert llama.repo_for("lora") == "unsloth/Llama-3.1-8B-Instruct"
    assert llama.repo_for("full") == "unsloth/Llama-3.1-8B-Instruct"
    coder = catalog.find("Qwen/Qwen2.5-Coder-7B-Instruct")  # Unsloth has only the plain 4-bit
    assert coder.repo_for("qlora") == "unsloth/Qwen2.5-Coder-7B-Instruct-bnb-4bit"
    phi_vision = catalog.find("microsoft/Phi-3.5-vision-instruct")  # no Unsloth copy at all
    assert phi_vision.repo_for("qlora") == "microsoft/Phi-3.5-vision-instruct"


def test_dims_are_model_dims_with_params(catalog):
    for model in catalog.models:
        assert isinstance(model.dims, ModelDims)
        assert model.dims.params_b == model.params_b
        assert model.dims.heads % model.dims.kv_heads == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("h100", "H100 80GB"),
        ("H100 80GB", "H100 80GB"),
        ("NVIDIA H100 80GB HBM3", "H100 80GB"),
        ("H100 NVL", "H100 NVL"),
        ("rtx 4090", "RTX 4090"),
        ("NVIDIA GeForce RTX 3090", "RTX 3090"),
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("a100 40gb", "A100 40GB"),
        ("a100", "A100 40GB"),
        ("Tesla T4", "T4"),
        ("l4", "L4"),
        ("L40S", "L40S"),
        ("NVIDIA H200", "H200"),
        ("b200", "B200"),
        ("A10G", "A10G"),
        ("RTX5090", "RTX 5090"),
    ],
)
def test_gpu_lookup_is_forgiving(catalog, name, expected):
    assert catalog.gpu(name).name == expected


def test_unknown_gpu_is_none(catalog):
    assert catalog.gpu("voodoo 3") is None


def test_gpu_memory_is_nvidia_smi_gib(catalog):
    assert catalog.gpu("h100").memory_gib == pytest.approx(81559 / 1024, abs=0.01)
    assert catalog.gpu("t4").bf16 is False
    assert all(g.bf16 for g in catalog.gpus if g.name != "T4")


def test_catalog_chat_templates_exist_in_installed_unsloth():
    if not VENV_UNSLOTH.exists():
        pytest.skip("unsloth is not installed in .venv")
    keys = set(re.findall(r'CHAT_TEMPLATES\["([^"]+)"\]\s*=', VENV_UNSLOTH.read_text()))
    for loop in re.findall(
        r"for version in \(([^)]*)\):\s*\n\s*CHAT_TEMPLATES\[version\]", VENV_UNSLOTH.read_text()
    ):
        keys |= set(re.findall(r'"([^"]+)"', loop))  # llama-3.2 and llama-3.3 are added in a loop
    assert set(CHAT_TEMPLATES) <= keys, set(CHAT_TEMPLATES) - keys


def test_every_license_id_used_has_an_entry(catalog):
    for model in catalog.models:
        assert catalog.license(model.license) is not None, model.hf_id
