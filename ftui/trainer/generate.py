"""A greedy answer to one prompt. The run's own samples (the trainer, after training) and its base
model's answers (`ftui eval`) are both made here, so that the two columns compare like for like: the same
prompt text, token budget and decoding."""

from __future__ import annotations

from typing import Any


def greedy_answer(
    model: Any, tokenizer: Any, prompt: str, max_new_tokens: int, device: Any
) -> tuple[str, int]:
    """The model's greedy continuation of `prompt` (the prompt has a BOS only when the tokenizer does not
    add one itself) and how many tokens it has."""
    import torch

    inputs = tokenizer(prompt, return_tensors="pt")
    inputs = {k: v.to(device) for k, v in inputs.items()}
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new = output[0][inputs["input_ids"].shape[1] :]
    return tokenizer.decode(new, skip_special_tokens=True), int(new.shape[0])
