"""The stored templates are Unsloth's, and render exactly as a real tokenizer's apply_chat_template does."""

from __future__ import annotations

import json

import pytest

from ftui.core.data import get_template, template_markers, template_names
from ftui.core.data.templates import TemplateRenderError, templates_dir
from ftui.core.errors import UserError
from tests.core.data import unsloth_source

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
    [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "  Name a colour.  "},
        {"role": "assistant", "content": "Rouge — comme une tomate 🍅."},
        {"role": "user", "content": "Another?\nPlease."},
        {"role": "assistant", "content": "Bleu."},
    ],
]

UNSLOTH = unsloth_source.source_path()
needs_unsloth = pytest.mark.skipif(UNSLOTH is None, reason="unsloth is not installed")


def _index() -> dict:
    return json.loads((templates_dir() / "templates.json").read_text())["templates"]


@needs_unsloth
@pytest.mark.parametrize(
    "name", sorted({n for entry in _index().items() for n in (entry[0], *entry[1]["aliases"])})
)
def test_each_stored_template_is_unsloths_as_set_on_the_tokenizer(name):
    theirs = unsloth_source.read_templates(UNSLOTH)
    assert name in theirs, f"Unsloth no longer has a template called {name}"
    ours = get_template(name)
    assert ours.jinja == unsloth_source.as_set_on_tokenizer(theirs[name])
    assert ours.stop_word == theirs[name]["stop_word"]


def _tiny_tokenizer(chat_template: str, bos: str, eos: str):
    """A real fast tokenizer (a word-level vocabulary trained on nothing) carrying Unsloth's template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    model = Tokenizer(models.WordLevel({"[UNK]": 0, bos: 1, eos: 2}, unk_token="[UNK]"))
    model.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=model, bos_token=bos, eos_token=eos, unk_token="[UNK]"
    )
    tokenizer.chat_template = chat_template
    return tokenizer


@needs_unsloth
@pytest.mark.parametrize("name", template_names())
def test_render_equals_transformers_apply_chat_template(name):
    pytest.importorskip("transformers")
    theirs = unsloth_source.as_set_on_tokenizer(unsloth_source.read_templates(UNSLOTH)[name])
    tokenizer = _tiny_tokenizer(theirs, "<|begin_of_text|>", "<|eot_id|>")
    ours = get_template(name)
    for messages in CONVERSATIONS:
        if name == "mistral" and messages[0]["role"] == "system":
            pass  # Mistral folds the system turn into the first user turn: still renders
        for generation in (False, True):
            try:
                expected = tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=generation
                )
            except Exception as error:  # the template's own raise_exception: ours must refuse too
                with pytest.raises(TemplateRenderError):
                    ours.render(
                        messages,
                        add_generation_prompt=generation,
                        bos_token="<|begin_of_text|>",
                        eos_token="<|eot_id|>",
                    )
                assert str(error)
                continue
            got = ours.render(
                messages,
                add_generation_prompt=generation,
                bos_token="<|begin_of_text|>",
                eos_token="<|eot_id|>",
            )
            assert got == expected


def test_chatml_and_llama31_render_the_known_strings():
    messages = CONVERSATIONS[0]
    assert get_template("chatml").render(messages) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
    )
    assert get_template("llama-3.1").render(messages, bos_token="<|begin_of_text|>") == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "Cutting Knowledge Date: December 2023\nToday Date: 26 July 2024\n\n<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
    )


@pytest.mark.parametrize("name", template_names())
def test_markers_frame_every_turn(name):
    instruction, response = template_markers(name)
    template = get_template(name)
    text = template.render(CONVERSATIONS[1], bos_token="<s>", eos_token="</s>")
    if name != "mistral":  # Mistral's [INST] carries the system text too: it still starts each user turn
        assert text.count(instruction) == 2, text
    assert text.count(response) == 2, text
    # Each answer follows its response marker.
    assert text.index("Rouge") > text.index(response)


def test_aliases_and_unknown_names():
    assert get_template("llama-3.2").name == "llama-3.1"
    assert get_template("qwen2.5-coder").name == "qwen-2.5"
    assert get_template("phi-3.5").name == "phi-3"
    with pytest.raises(UserError, match="no chat template called 'llama-9'"):
        get_template("llama-9")


def test_a_custom_jinja_file_gets_markers_read_off_renders(tmp_path):
    path = tmp_path / "mine.jinja"
    path.write_text(
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    assert template_markers(get_template(str(path))) == ("<|user|>", "<|assistant|>")


def test_a_custom_template_without_markers_still_renders_but_cannot_mask(tmp_path):
    path = tmp_path / "bare.jinja"
    path.write_text(
        "{% for m in messages %}{% generation %}{{ m['content'] }}{% endgeneration %}|{% endfor %}"
    )
    template = get_template(str(path))
    assert template.render(CONVERSATIONS[0]) == "Hi|Hello!|"
    with pytest.raises(UserError, match="cannot train on responses only"):
        template_markers(template)


def test_a_custom_template_that_does_not_compile_is_refused(tmp_path):
    path = tmp_path / "broken.jinja"
    path.write_text("{% for m in messages %}{{ m['content'] }")
    with pytest.raises(UserError, match="does not compile"):
        get_template(str(path))
