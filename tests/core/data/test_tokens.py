"""Token counts with a real tokenizer.json (trained here, in a model folder and in the Hub cache) and the estimate."""

from __future__ import annotations

import json

import pytest

from ftui.core.data import get_template, inspect
from ftui.core.data.tokens import estimate_text, find_tokenizer

tokenizers = pytest.importorskip("tokenizers")

SPECIALS = ["<|im_start|>", "<|im_end|>", "<s>", "</s>"]


def make_model_folder(folder, *, chat_template=None):
    """A byte-level BPE tokenizer trained on a few sentences, saved as a model folder would hold it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(
        ["Name a colour. Blue is a colour.", "Add two and two. Four."] * 20, trainer
    )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {"bos_token": "<s>", "eos_token": {"content": "</s>"}}
    if chat_template:
        config["chat_template"] = chat_template
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return tokenizer


ROWS = [
    {"instruction": "Name a colour.", "output": "Blue."},
    {"instruction": "Add two and two.", "output": "Four is the answer, and it is a long answer " * 3},
]


def write(path):
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_counts_with_the_models_own_tokenizer_and_chat_template(tmp_path):
    chatml = get_template("chatml").jinja
    tokenizer = make_model_folder(tmp_path / "model", chat_template=chatml)
    report = inspect(write(tmp_path / "d.jsonl"), model=str(tmp_path / "model"))
    assert report.tokens.counted_with == "tokenizer"
    assert report.tokens.tokenizer.endswith("tokenizer.json")
    expected = []
    for row in ROWS:
        messages = [
            {"role": "user", "content": row["instruction"]},
            {"role": "assistant", "content": row["output"]},
        ]
        text = get_template("chatml").render(messages)
        expected.append(len(tokenizer.encode(text, add_special_tokens=False).ids))
    assert report.tokens.max == max(expected) and report.tokens.total == sum(expected)
    assert report.template == "the model's own"


def test_a_named_template_wins_and_long_rows_are_counted_exactly(tmp_path):
    make_model_folder(tmp_path / "model")
    report = inspect(
        write(tmp_path / "d.jsonl"), model=str(tmp_path / "model"), template="alpaca", max_length=20
    )
    assert report.template == "alpaca"
    assert report.problem_counts.get("too_long") == 2
    assert all("(estimated)" not in p.message for p in report.problems)


def test_tokenizer_found_in_the_hub_cache_without_network(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    repo = hub / "models--someone--tiny-model"
    make_model_folder(repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    found = find_tokenizer("someone/tiny-model")
    assert found is not None and found.bos_token == "<s>" and found.eos_token == "</s>"


def test_without_a_tokenizer_the_estimate_is_used_and_labelled(tmp_path):
    report = inspect(write(tmp_path / "d.jsonl"), model="nobody/not-downloaded")
    assert report.tokens.counted_with == "estimate" and report.tokens.tokenizer is None


def test_the_estimate():
    assert estimate_text("abcd" * 10) == 10
    assert estimate_text("日本語のテキスト") == 8  # one per CJK character
    assert estimate_text("") == 0
