"""The catalog as shipped: every entry loads, lookups are forgiving, and the contract others call holds."""

import importlib.util
import re
from pathlib import Path

import pytest

from ftui.core.catalog import CHAT_TEMPLATES, load_catalog
from ftui.core.dims import ModelDims

# A copy of ../shared/reference/model-facts.json (the verified table the catalog was built from), kept
# in the repo so that this check runs on every CI machine, not only where ../shared exists.
FACTS = Path(__file__).resolve().parents[1] / "data/model-facts.json"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_reference_model_is_in_the_catalog(catalog):
    import json

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
    # Read as text, not imported: importing unsloth takes seconds and pulls in torch.
    spec = importlib.util.find_spec("unsloth")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("unsloth is not installed (the training extra): its template names cannot be checked")
    source = (Path(next(iter(spec.submodule_search_locations))) / "chat_templates.py").read_text()
    keys = set(re.findall(r'CHAT_TEMPLATES\["([^"]+)"\]\s*=', source))
    for loop in re.findall(r"for version in \(([^)]*)\):\s*\n\s*CHAT_TEMPLATES\[version\]", source):
        keys |= set(re.findall(r'"([^"]+)"', loop))  # llama-3.2 and llama-3.3 are added in a loop
    assert set(CHAT_TEMPLATES) <= keys, set(CHAT_TEMPLATES) - keys


def test_every_license_id_used_has_an_entry(catalog):
    for model in catalog.models:
        assert catalog.license(model.license) is not None, model.hf_id


# The 14 models the issue adds beyond model-facts.json, with the license facts established for each.
EXTRA_MODELS = {
    "Qwen/Qwen2.5-72B": ("qwen", "yes_with_conditions"),
    "Qwen/Qwen2.5-72B-Instruct": ("qwen", "yes_with_conditions"),
    "Qwen/Qwen2.5-VL-3B-Instruct": ("qwen-research", "no"),
    "mistralai/Codestral-22B-v0.1": ("mnpl-0.1", "no"),
    "deepseek-ai/DeepSeek-Coder-V2-Lite-Base": ("deepseek-license", "yes_with_conditions"),
    "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct": ("deepseek-license", "yes_with_conditions"),
    "google/gemma-3-27b-pt": ("gemma", "yes_with_conditions"),
    "google/gemma-3-27b-it": ("gemma", "yes_with_conditions"),
    "openai/gpt-oss-20b": ("apache-2.0", "yes"),
    "mistralai/Mistral-Small-24B-Base-2501": ("apache-2.0", "yes"),
    "mistralai/Mistral-Small-24B-Instruct-2501": ("apache-2.0", "yes"),
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": ("llama3.1", "yes_with_conditions"),
    "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": ("llama3.3", "yes_with_conditions"),
    "microsoft/Phi-4-mini-instruct": ("mit", "yes"),
}


@pytest.mark.parametrize(("hf_id", "facts"), EXTRA_MODELS.items())
def test_the_extra_models_and_their_licenses(catalog, hf_id, facts):
    model = catalog.find(hf_id)
    assert model is not None and model.hf_id == hf_id
    assert (model.license, model.commercial_use) == facts
    assert model.license_sources and model.dims.params_b


def test_the_catalog_holds_the_reference_table_and_the_extras(catalog):
    assert len(catalog.models) >= 80 + len(EXTRA_MODELS)


def test_mixture_of_experts_dims(catalog):
    gpt_oss = catalog.find("openai/gpt-oss-20b").dims
    assert (gpt_oss.experts, gpt_oss.experts_per_token, gpt_oss.head_dim) == (32, 4, 64)
    coder = catalog.find("deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct")
    assert (coder.dims.experts, coder.dims.shared_experts, coder.params_active_b) == (64, 2, 2.4)


def test_tied_embeddings_and_head_dims_where_they_differ(catalog):
    assert catalog.find("meta-llama/Llama-3.2-1B").dims.tied_embeddings
    assert not catalog.find("meta-llama/Llama-3.1-8B").dims.tied_embeddings
    assert catalog.find("Qwen/Qwen2.5-3B").dims.tied_embeddings
    assert not catalog.find("Qwen/Qwen2.5-7B").dims.tied_embeddings
    assert not catalog.find(
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    ).dims.tied_embeddings  # unlike Qwen2.5-1.5B
    for hf_id, head_dim in [
        ("google/gemma-2-9b", 256),
        ("google/gemma-3-27b-it", 128),
        ("Qwen/Qwen3-32B", 128),
    ]:
        dims = catalog.find(hf_id).dims
        assert dims.head_dim == head_dim and dims.hidden // dims.heads != head_dim


def test_unverified_facts_are_marked_unknown(catalog):
    assert catalog.find("mistralai/Codestral-22B-v0.1").gated is None
    assert catalog.find("Qwen/Qwen2.5-72B").context is None  # the base config was not reached
    assert "not verified" in catalog.find("mistralai/Codestral-22B-v0.1").notes
