"""The strongest check: Unsloth's own get_chat_template, on a real tokenizer built here, renders the
same text as ftui's training_texts. Slow (importing unsloth takes seconds), so it runs in its own process."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from ftui.core.data import training_texts

# find_spec, not importorskip: importing unsloth in the test process would pull in torch.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("unsloth") is None, reason="the training stack is not installed"
)

CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Spain?"},
    {"role": "assistant", "content": "Madrid."},
]
NAMES = ["chatml", "llama-3.1", "qwen-2.5", "phi-3", "mistral", "alpaca", "vicuna", "zephyr"]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from ftui.trainer.compat import hide_broken_torchvision
    hide_broken_torchvision()
    import unsloth  # noqa: F401  (first, as in training)
    from unsloth.chat_templates import get_chat_template
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    names, messages = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    out = {}
    for name in names:
        vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2, "<|im_end|>": 3, "<|end|>": 4}
        model = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        model.pre_tokenizer = pre_tokenizers.Whitespace()
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=model, bos_token="<s>", eos_token="</s>", unk_token="[UNK]", pad_token="[UNK]")
        tokenizer = get_chat_template(tokenizer, chat_template=name)
        chat = messages[1:] if name == "mistral" else messages
        out[name] = {
            "text": tokenizer.apply_chat_template(chat, tokenize=False),
            "bos": tokenizer.bos_token or "",
            "eos": tokenizer.eos_token or "",
        }
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.slow
def test_training_texts_equal_unsloth_get_chat_template(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(NAMES), json.dumps(CONVERSATION)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "UNSLOTH_FORCE_CPU": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
    theirs = json.loads(line[len("RESULT") :])
    for name in NAMES:
        chat = CONVERSATION[1:] if name == "mistral" else CONVERSATION
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"messages": chat}) + "\n")
        (ours,) = training_texts(
            path, template=name, bos_token=theirs[name]["bos"], eos_token=theirs[name]["eos"]
        )
        assert "Madrid." in theirs[name]["text"]  # Unsloth rendered the whole conversation
        assert ours.text == theirs[name]["text"], name
