"""Rows to training text: what the trainer consumes (issue 5, item 5)."""

from __future__ import annotations

import json

import pytest

from ftui.core.data import BadRowError, get_template, preview, template_markers, training_texts
from ftui.core.errors import UserError


def write_jsonl(path, rows):
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def test_alpaca_rows_render_with_the_chosen_template_and_the_prompt_ends_at_the_answer(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"instruction": "Say hi", "input": "", "output": "Hi!"},
            {"instruction": "Add", "input": "2 and 2", "output": "4"},
        ],
    )
    texts = list(training_texts(path, template="chatml"))
    assert [t.line for t in texts] == [1, 2]
    assert texts[0].text == "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>\n"
    assert texts[1].text.startswith("<|im_start|>user\nAdd\n\n2 and 2<|im_end|>")
    for t in texts:
        assert t.text.startswith(t.prompt) and t.prompt.endswith(template_markers("chatml")[1])


def test_base_model_prompt_uses_the_eos_token(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Say hi", "output": "Hi!"}])
    (text,) = training_texts(path, template="alpaca", eos_token="</s>")
    assert text.text == (
        "Below are some instructions that describe some tasks. Write responses that appropriately complete each request.\n\n"
        "### Instruction:\nSay hi\n\n### Response:\nHi!</s>\n\n"
    )
    assert text.prompt.endswith("### Response:\n") and text.text.startswith(text.prompt)


def test_sharegpt_maps_from_value_onto_the_chat_template(tmp_path):
    row = {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Capital of France?"},
            {"from": "gpt", "value": "Paris."},
            {"from": "human", "value": "And Spain?"},
            {"from": "gpt", "value": "Madrid."},
        ]
    }
    path = write_jsonl(tmp_path / "s.jsonl", [row])
    (text,) = training_texts(
        path, template="llama-3.1", bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"
    )
    messages = [
        {"role": {"system": "system", "human": "user", "gpt": "assistant"}[t["from"]], "content": t["value"]}
        for t in row["conversations"]
    ]
    assert text.text == get_template("llama-3.1").render(
        messages, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"
    )
    assert text.prompt.endswith(
        "Capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_messages_prompt_completion_and_text(tmp_path):
    messages = write_jsonl(
        tmp_path / "m.jsonl",
        [{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}],
    )
    pc = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "completion": "A"}])
    assert [t.text for t in training_texts(messages, template="phi-3")] == [
        t.text for t in training_texts(pc, template="phi-3")
    ]
    plain = write_jsonl(tmp_path / "t.jsonl", [{"text": "Once upon a time."}])
    (text,) = training_texts(plain, template="chatml", eos_token="<|im_end|>")
    assert (text.text, text.prompt) == ("Once upon a time.<|im_end|>", "")


def test_qwen3_prompt_stops_before_the_think_block(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"prompt": "Q", "completion": "A"}])
    (text,) = training_texts(path, template="qwen3")
    assert (
        text.text
        == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n"
    )
    assert text.prompt == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def test_a_bad_row_raises_one_sentence_naming_its_line(tmp_path):
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"instruction": "ok", "output": "fine"},
            "",
            {"instruction": "no answer", "output": "  "},
        ],
    )
    texts = training_texts(path, template="chatml")
    assert next(texts).line == 1
    with pytest.raises(BadRowError) as caught:
        next(texts)
    error = caught.value
    assert isinstance(error, UserError) and error.line == 3 and error.kind == "empty_field"
    assert str(error) == "Line 3 of bad.jsonl: 'output' is empty; fill it in or delete the row."


def test_malformed_json_and_template_refusals_are_bad_rows(tmp_path):
    path = write_jsonl(tmp_path / "broken.jsonl", ['{"instruction": "x", "output": '])
    with pytest.raises(BadRowError, match=r"^Line 1 of broken.jsonl: the JSON is malformed"):
        list(training_texts(path, template="chatml", format="alpaca"))


def test_mapping_overrides_column_names(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"q": "Why?", "a": "Because."}])
    with pytest.raises(UserError, match="does not recognise the format"):
        list(training_texts(path, template="chatml"))
    (text,) = training_texts(
        path, template="chatml", format="prompt_completion", mapping={"prompt": "q", "completion": "a"}
    )
    assert "Why?" in text.prompt and text.text.endswith("Because.<|im_end|>\n")


def test_preview_skips_bad_rows_and_shows_exact_text(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"instruction": "", "output": "x"},
            {"instruction": "One", "output": "1"},
            {"instruction": "Two", "output": "2"},
        ],
    )
    shown = preview(path, template="chatml", n=1)
    assert shown == ["<|im_start|>user\nOne<|im_end|>\n<|im_start|>assistant\n1<|im_end|>\n"]
