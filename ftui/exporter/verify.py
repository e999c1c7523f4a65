"""Check that an export works: load it as its users will and replay the run's held-out prompts.

The reference is samples.jsonl: the adapter on the base it trained on, greedy, written by the trainer at
the end of the run (for QLoRA that base is the 4-bit one). Each export answers the same prompts, greedy,
with the same token budget; the answers go side by side in the record. Free-running answers diverge for
good once one token differs, so the flag is set on a steadier measure: with the adapter's answer fed in
(teacher forcing), the share of positions where the export's most likely next token is the adapter's.
The expected drift grows as the weights lose bits; below the threshold for its type the row is flagged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Least share of the adapter's tokens that an export must predict itself, by what it is. A merge changes
# only rounding (16-bit weights instead of the adapter added at run time); a QLoRA merge also trades the
# 4-bit base for the original 16-bit one; GGUF types lose bits step by step.
THRESHOLDS: dict[str, float] = {
    "merged": 0.95,
    "merged_qlora": 0.85,
    "f32": 0.95,
    "f16": 0.95,
    "bf16": 0.95,
    "q8_0": 0.9,
    "q6_k": 0.85,
    "q5": 0.85,
    "q4": 0.75,
    "q3": 0.6,
    "q2": 0.5,
}


def threshold(kind: str, quant: str | None = None, qlora: bool = False) -> float:
    if kind == "merged":
        return THRESHOLDS["merged_qlora" if qlora else "merged"]
    assert quant is not None
    if quant in THRESHOLDS:
        return THRESHOLDS[quant] - (0.1 if qlora else 0.0)
    return THRESHOLDS[quant[:2]] - (0.1 if qlora else 0.0)


def reference_tokens(tokenizer: Any, sample: dict[str, Any]) -> tuple[list[int], list[int]]:
    """(prompt ids, the adapter's answer as ids), tokenized as the trainer did; the EOS is added back
    when the adapter stopped by itself (decoding dropped it)."""
    prompt_ids = tokenizer(sample["prompt"]).input_ids
    joined = tokenizer(sample["prompt"] + sample["output"]).input_ids
    if joined[: len(prompt_ids)] == prompt_ids:
        answer = joined[len(prompt_ids) :]
    else:
        answer = tokenizer(sample["output"], add_special_tokens=False).input_ids
    if tokenizer.eos_token_id is not None and len(answer) < int(sample.get("new_tokens") or 0):
        answer = answer + [tokenizer.eos_token_id]
    return prompt_ids, answer


def _agreement(predicted: list[int], answer: list[int]) -> float | None:
    if not answer:
        return None
    return round(sum(p == a for p, a in zip(predicted, answer, strict=False)) / len(answer), 4)


def replay_transformers(
    folder: Path, tokenizer: Any, samples: list[dict[str, Any]], max_new_tokens: int
) -> list[dict[str, Any]]:
    from ftui.exporter.models import device, load_causal_lm, prepare_torch, target_dtype

    torch = prepare_torch()
    where = device()
    # On the CPU the 16-bit weights are computed in float32 (exact upcast), as llama.cpp does.
    model = load_causal_lm(folder, target_dtype(folder) if where == "cuda" else "float32", where)
    results = []
    for sample in samples:
        prompt_ids, answer = reference_tokens(tokenizer, sample)
        ids = torch.tensor([prompt_ids], device=where)
        with torch.inference_mode():
            output = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            new = output[0][len(prompt_ids) :].tolist()
            logits = model(torch.tensor([prompt_ids + answer], device=where)).logits[0]
        predicted = logits[len(prompt_ids) - 1 : len(prompt_ids) - 1 + len(answer)].argmax(-1).tolist()
        results.append(
            {
                "text": tokenizer.decode(new, skip_special_tokens=True),
                "tokens": new,
                "agreement": _agreement(predicted, answer),
            }
        )
    del model
    return results


def replay_gguf(
    path: Path, tokenizer: Any, samples: list[dict[str, Any]], max_new_tokens: int
) -> tuple[list[dict[str, Any]], bool]:
    """The GGUF through llama.cpp (llama-cpp-python); also whether llama.cpp tokenizes each prompt as
    the model's own tokenizer does (a GGUF with a wrong vocabulary loads but answers garbage)."""
    from llama_cpp import Llama

    pairs = [reference_tokens(tokenizer, s) for s in samples]
    longest = max((len(p) + max(len(a), max_new_tokens) for p, a in pairs), default=64)
    llm = Llama(
        model_path=str(path),
        n_ctx=max(128, longest + 8),
        logits_all=True,
        verbose=False,
        n_gpu_layers=0,
        n_threads=len(os.sched_getaffinity(0)),
        seed=0,
    )
    stops = {llm.token_eos()} | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())
    results, tokenizer_matches = [], True
    for sample, (prompt_ids, answer) in zip(samples, pairs, strict=True):
        has_bos = bool(prompt_ids) and prompt_ids[0] == tokenizer.bos_token_id
        own = llm.tokenize(sample["prompt"].encode("utf-8"), add_bos=has_bos, special=True)
        tokenizer_matches = tokenizer_matches and list(own) == list(prompt_ids)
        new: list[int] = []
        for token in llm.generate(
            prompt_ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True
        ):
            new.append(int(token))
            if token in stops or len(new) >= max_new_tokens:
                break
        llm.reset()
        llm.eval(prompt_ids + answer)
        scores = llm.scores[len(prompt_ids) - 1 : len(prompt_ids) - 1 + len(answer)]
        predicted = [int(i) for i in scores.argmax(axis=-1)]
        results.append(
            {
                "text": tokenizer.decode(new, skip_special_tokens=True),
                "tokens": new,
                "agreement": _agreement(predicted, answer),
            }
        )
    llm.close()
    return results, tokenizer_matches


def verify(
    samples: list[dict[str, Any]],
    tokenizer: Any,
    max_new_tokens: int,
    *,
    merged: Path | None,
    gguf: Path | None,
    quant: str | None,
    qlora: bool,
) -> dict[str, Any]:
    """Replay the held-out prompts on the merged model and the GGUF; rows side by side, with flags."""
    if not samples:
        return {
            "reference": None,
            "rows": [],
            "flagged": 0,
            "note": "The run has no held-out prompts (samples.jsonl is empty), so only loading was checked.",
        }
    merged_rows = replay_transformers(merged, tokenizer, samples, max_new_tokens) if merged else None
    gguf_rows, tokenizer_matches = (None, None)
    if gguf is not None:
        gguf_rows, tokenizer_matches = replay_gguf(gguf, tokenizer, samples, max_new_tokens)
    limits = {"merged": threshold("merged", qlora=qlora)}
    if quant:
        limits["gguf"] = threshold("gguf", quant, qlora)
    rows = []
    for i, sample in enumerate(samples):
        row: dict[str, Any] = {
            "line": sample.get("line"),
            "prompt": sample["prompt"],
            "adapter": sample["output"],
            "flags": [],
        }
        for kind, found in (("merged", merged_rows), ("gguf", gguf_rows)):
            if found is None:
                continue
            row[kind] = found[i]["text"]
            row[f"{kind}_agreement"] = found[i]["agreement"]
            row[f"{kind}_same_answer"] = found[i]["text"].strip() == sample["output"].strip()
            agreement = found[i]["agreement"]
            if agreement is not None and agreement < limits[kind]:
                row["flags"].append(
                    f"{kind} predicts {agreement:.0%} of the adapter's tokens, under the {limits[kind]:.0%} expected"
                )
        rows.append(row)
    if tokenizer_matches is False:
        rows[0]["flags"].append("llama.cpp tokenizes the prompts differently from the model's tokenizer")
    return {
        "reference": "samples.jsonl: the adapter on its base, greedy, written at the end of training",
        "thresholds": limits,
        "tokenizer_matches": tokenizer_matches,
        "rows": rows,
        "flagged": sum(1 for r in rows if r["flags"]),
    }
