"""Padding-free batches change the speed, not the loss, and responses-only masking survives them.

On a GPU, Unsloth turns TRL's padding-free batching on for ftui's runs (ftui leaves `padding_free` unset):
a micro-batch's rows are concatenated into one row with position_ids restarting at 0, and no pad token is
computed. Unsloth's CPU path keeps padded batches, so this test takes the pieces apart: the training rows
are built by ftui's own trainer code (sft_config, build_trainer, Unsloth's train_on_responses_only, the
tiny Llama loaded by Unsloth on CPU) in a separate process, exactly as a run builds them; here the same
rows are collated by TRL's collator both ways, and a real transformers Llama computes the loss and the
gradients of each batch in training mode (where transformers keeps packed rows apart by their
position_ids). Equal within float tolerance, with the prompts and the row boundaries masked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers.datasets import write_jsonl
from tests.helpers.tiny_model import tiny_llama_for_session

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("unsloth") is None, reason="the training stack is not installed"
    ),
]

# What ftui's trainer does for a run with responses_only, up to the dataset the collator sees.
BUILD_ROWS = textwrap.dedent(
    """
    import json, sys
    from ftui.trainer.compat import hide_broken_torchvision
    hide_broken_torchvision()
    import unsloth  # noqa: F401  (first, as in training)
    from unsloth import FastLanguageModel
    from ftui.core.data import training_texts
    from ftui.core.plan import TrainingSettings
    from ftui.trainer.train import build_trainer, sft_config

    model_dir, data, out = sys.argv[1:4]
    settings = TrainingSettings(method="lora", batch=4, grad_accum=1, seq=128, responses_only=True, rank=8)
    model, tokenizer = FastLanguageModel.from_pretrained(model_name=model_dir, max_seq_length=settings.seq)
    model = FastLanguageModel.get_peft_model(model, r=8, lora_alpha=8, target_modules=list(settings.target_modules))
    rows = list(training_texts(data, template="chatml", eos_token=tokenizer.eos_token))
    args = sft_config(settings, output_dir=out, total_steps=1, evaluate=False, bf16=False, fp16=False)
    trainer = build_trainer(model, tokenizer, args, rows, [], responses_only_template="chatml")
    examples = [
        {
            "input_ids": list(trainer.train_dataset[i]["input_ids"]),
            "labels": list(trainer.train_dataset[i]["labels"]),
            "prompt_tokens": len(tokenizer(rows[i].prompt, add_special_tokens=False).input_ids),
        }
        for i in range(len(rows))
    ]
    print("ROWS" + json.dumps({"examples": examples, "pad": tokenizer.pad_token_id, "eos": tokenizer.eos_token_id}))
    """
)


def conversations() -> list[dict]:
    """Rows of different lengths (so that padding happens) with one answer each."""
    rows = []
    for i in range(8):
        question = "what is " + " plus ".join(str((i + k) % 10) for k in range(2 + i % 4))
        answer = " ".join(["the answer is", str(i)] + ["and so on"] * (i % 3))
        rows.append(
            {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
        )
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple:
    model = tiny_llama_for_session(tmp_path_factory)
    folder = tmp_path_factory.mktemp("padding-free")
    data = write_jsonl(folder / "chats.jsonl", conversations())
    result = subprocess.run(
        [sys.executable, "-c", BUILD_ROWS, str(model), str(data), str(folder / "out")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "UNSLOTH_FORCE_CPU": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("ROWS"))
    return model, json.loads(line[len("ROWS") :])


def test_the_trainer_masks_every_prompt_token_and_keeps_every_answer_token(built):
    _, rows = built
    assert len(rows["examples"]) == 8
    for example in rows["examples"]:
        ids, labels, prompt = example["input_ids"], example["labels"], example["prompt_tokens"]
        assert prompt > 0 and len(labels) == len(ids)
        trained = [i for i, label in enumerate(labels) if label != -100]
        # the question is not trained on; the answer is, up to and with its end-of-turn token, and nothing
        # after it (the template's newline and the EOS that TRL appends)
        assert trained == list(range(prompt, trained[-1] + 1))
        assert [labels[i] for i in trained] == ids[prompt : trained[-1] + 1]
        assert ids[trained[-1]] == rows["eos"] and rows["eos"] not in ids[prompt : trained[-1]]


def loss_and_gradients(model, batch):  # type: ignore[no-untyped-def]
    model.zero_grad()
    out = model(**batch, use_cache=False)
    out.loss.backward()
    return out.loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_padding_free_batches_give_the_padded_loss_and_gradients(built):
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model_dir, rows = built
    examples = [{"input_ids": e["input_ids"], "labels": e["labels"]} for e in rows["examples"]]
    padding_free = DataCollatorForLanguageModeling(pad_token_id=rows["pad"], padding_free=True)(examples)
    padded = DataCollatorForLanguageModeling(pad_token_id=rows["pad"])(examples)

    # one row, no padding; each row's first label masked so that no row learns from the one before it
    assert padding_free["input_ids"].shape[0] == 1 and "attention_mask" not in padding_free
    lengths = [len(e["input_ids"]) for e in examples]
    assert padding_free["input_ids"].shape[1] == sum(lengths) < padded["input_ids"].numel()
    starts = torch.cumsum(torch.tensor([0, *lengths[:-1]]), 0)
    assert (padding_free["position_ids"][0, starts] == 0).all()
    assert (padding_free["labels"][0, starts] == -100).all()
    # the same tokens are trained on, and no others
    trained = padding_free["labels"] != -100
    assert trained.sum() == (padded["labels"] != -100).sum() > 0
    assert padding_free["labels"][trained].tolist() == padded["labels"][padded["labels"] != -100].tolist()

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.train()
    loss_free, grads_free = loss_and_gradients(model, padding_free)
    loss_padded, grads_padded = loss_and_gradients(model, padded)
    assert loss_free == pytest.approx(loss_padded, rel=1e-5)
    assert grads_free.keys() == grads_padded.keys() and grads_free
    for name, grad in grads_free.items():
        torch.testing.assert_close(grad, grads_padded[name], rtol=1e-4, atol=1e-6, msg=name)

    # the test can fail: rows that attend across their boundary give another loss
    leaky = {"input_ids": padding_free["input_ids"], "labels": padding_free["labels"]}
    assert model(**leaky, use_cache=False).loss.item() != pytest.approx(loss_padded, rel=1e-5)
