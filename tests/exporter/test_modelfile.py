"""The Ollama Modelfile: written from Unsloth's templates, parsed by a parser that follows Ollama's grammar."""

from __future__ import annotations

import importlib.util
import json

import pytest

from ftui.core.modelfile import ModelfileError, modelfile_text, parse_modelfile
from ftui.core.paths import assets_dir


def test_chatml_modelfile_has_the_template_and_stop_tokens():
    text = modelfile_text("run-q8_0.gguf", "chatml", "<|im_end|>")
    parsed = parse_modelfile(text)
    assert parsed[0] == ("FROM", "./run-q8_0.gguf")
    template = dict(parsed)["TEMPLATE"]
    assert (
        template.startswith("{{ if .System }}<|im_start|>system\n")
        and "{{ .Response }}<|im_end|>" in template
    )
    stops = [v for k, v in parsed if k == "PARAMETER"]
    assert stops == ["stop <|im_start|>", "stop <|im_end|>"]  # no sampling defaults


@pytest.mark.parametrize(
    "name", ["llama-3.1", "llama-3.2", "qwen-2.5", "alpaca", "mistral", "gemma-3", "phi-4"]
)
def test_every_shipped_template_gives_a_modelfile_that_parses(name):
    parsed = parse_modelfile(modelfile_text("m.gguf", name, "</s>"))
    assert ("FROM", "./m.gguf") in parsed and any(k == "TEMPLATE" for k, _ in parsed)
    assert any(v.startswith("stop ") for k, v in parsed if k == "PARAMETER")


def test_the_models_own_template_is_left_to_the_gguf():
    parsed = parse_modelfile(modelfile_text("m.gguf", "model", "<|eot_id|>"))
    assert parsed == [("FROM", "./m.gguf"), ("PARAMETER", "stop <|eot_id|>")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('FROM ./m.gguf\nTEMPLATE """never closed', "unterminated triple-quoted"),
        ('FROM ./m.gguf\nPARAMETER stop "<x>\nPARAMETER x 1', "unterminated quoted"),
        ("FORM ./m.gguf\n", "unknown instruction 'FORM'"),
        ("PARAMETER stop x\n", "no FROM"),
        ("FROM ./m.gguf\nPARAMETER\n", "needs a name and a value"),
    ],
)
def test_the_parser_rejects_what_ollama_rejects(text, problem):
    with pytest.raises(ModelfileError, match=problem):
        parse_modelfile(text)


@pytest.mark.skipif(importlib.util.find_spec("unsloth") is None, reason="the training stack is not installed")
def test_stored_templates_are_unsloths():
    from tests.exporter.ollama_source import unsloth_templates

    stored = json.loads((assets_dir() / "templates" / "ollama.json").read_text())["templates"]
    assert stored == unsloth_templates()
