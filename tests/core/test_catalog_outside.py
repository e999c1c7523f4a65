"""Models outside the catalog: a local folder, the local HF cache, and the offline answer."""

import json
import subprocess
import sys

import pytest

from ftui.core.catalog import dims_for, load_catalog
from ftui.core.errors import UserError

TINY_CONFIG = {
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
}


def test_catalog_models_come_from_the_catalog():
    assert (
        dims_for("unsloth/Llama-3.1-8B-Instruct-bnb-4bit")
        == load_catalog().find("meta-llama/Llama-3.1-8B-Instruct").dims
    )


def test_a_local_folder_is_read_from_its_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
    dims = dims_for(str(tmp_path))
    assert (dims.layers, dims.hidden, dims.kv_heads, dims.tied_embeddings, dims.context) == (
        4,
        256,
        2,
        True,
        2048,
    )


def test_a_local_folder_without_config_is_one_sentence(tmp_path):
    with pytest.raises(
        UserError, match=r"has no config.json; point ftui at a folder that holds a Hugging Face model\.$"
    ):
        dims_for(str(tmp_path))


def test_a_broken_config_is_one_sentence(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="could not be read as JSON"):
        dims_for(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UserError, match="lacks the field"):
        dims_for(str(tmp_path))


def cache_with(root, repo_id: str, config: dict, revision: str = "0123abcd") -> None:
    """The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<rev>/config.json}."""
    folder = root / ("models--" + repo_id.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(revision)
    (folder / "snapshots" / revision).mkdir(parents=True)
    (folder / "snapshots" / revision / "config.json").write_text(json.dumps(config))


def test_a_repo_in_the_hf_cache_is_read_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache_with(tmp_path / "hub", "someone/tiny-llama", TINY_CONFIG)
    assert dims_for("someone/tiny-llama").hidden == 256
    assert dims_for("SOMEONE/Tiny-Llama").hidden == 256  # the cache keeps the repo's case; lookups need not


def test_hf_hub_cache_wins_over_hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    cache_with(tmp_path / "cache", "someone/tiny-llama", {**TINY_CONFIG, "hidden_size": 512})
    assert dims_for("someone/tiny-llama").hidden == 512


def test_offline_and_not_cached_is_one_clear_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as caught:
        dims_for("someone/not-downloaded")
    message = str(caught.value)
    assert "HF_HUB_OFFLINE is set" in message and message.count(". ") == 0 and message.endswith(".")


def test_a_name_that_is_not_a_repo_is_refused(monkeypatch):
    with pytest.raises(UserError, match="neither a catalog model, a local model folder nor a Hub repo id"):
        dims_for("no such model!")


def test_the_knowledge_base_imports_no_heavy_modules():
    """`ftui advise` must start fast: no huggingface_hub, torch or transformers on the catalog/advice path."""
    code = (
        "import sys; import ftui.core.advice, ftui.core.names, ftui.core.catalog;"
        "from ftui.core.advice import advise; from ftui.core.plan import Plan; advise(Plan());"
        "heavy = [m for m in ('huggingface_hub', 'torch', 'transformers', 'textual', 'requests') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_an_unreachable_hub_fails_fast_in_one_sentence(tmp_path):
    # A port nobody listens on stands for a machine without a network: huggingface_hub alone would retry
    # each request five times with back-off (20 s and more of "Retrying" lines).
    import os
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HOME=str(tmp_path / "hf"))
    for command in (["estimate", "someone/unknown-model"], ["license", "someone/unknown-model"]):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "ftui", *command], capture_output=True, text=True, env=env
        )
        assert time.monotonic() - started < 5
        assert result.returncode == 1
        assert result.stderr.startswith(
            "ftui: Cannot reach the Hub at 127.0.0.1 to look up someone/unknown-model"
        )
        assert result.stderr.count("\n") == 1 and "Retrying" not in result.stderr
