"""`python -m ftui.exporter.evaluate RUN_DIR --base-weights DIR`: held-out loss of the base model and of
the fine-tuned one on the run's own eval split, and the base model's answers to the run's held-out
prompts; prints one JSON object on its last stdout line and keeps it in RUN/base_eval.json
(ftui.core.base_eval), where the app reads it.

The rows are the ones the trainer held out: the same data conversion, template and seeded split
(ftui.trainer.train), so the fine-tuned loss matches the run's last logged eval_loss up to batching,
and the base model's loss on the same rows says what the fine-tune bought. The loss is the mean
cross-entropy per token over all held-out rows (the answers only for a --responses-only run),
truncated to the run's max length as in training.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any


def held_out_rows(run_dir: Path, tokenizer: Any) -> tuple[list[Any], Any]:
    from ftui.core.run_config import RunConfig
    from ftui.trainer.train import MODEL_TEMPLATE, _split, _training_texts  # the trainer's own split

    config = RunConfig.read(run_dir / "config.toml")
    template = config.template or MODEL_TEMPLATE
    if template == MODEL_TEMPLATE:
        own = run_dir / "chat_template.jinja"
        template = str(own) if own.is_file() else "alpaca"
    texts = _training_texts(config, template, tokenizer)
    settings = config.settings
    _, eval_rows, _ = _split(texts, settings.eval_split, config.samples, settings.seed)
    return eval_rows, config


def mean_loss(
    model: Any, tokenizer: Any, rows: list[Any], seq: int, responses_only: bool, torch: Any, where: str
) -> tuple[float, int]:
    total, count = 0.0, 0
    for row in rows:
        ids = tokenizer(row.text, truncation=True, max_length=seq).input_ids
        labels = list(ids)
        if responses_only and row.prompt:
            masked = min(len(tokenizer(row.prompt).input_ids), len(labels))
            labels[:masked] = [-100] * masked
        input_ids = torch.tensor([ids], device=where)
        with torch.inference_mode():
            logits = model(input_ids).logits[0, :-1].float()
        target = torch.tensor(labels[1:], device=where)
        losses = torch.nn.functional.cross_entropy(logits, target, ignore_index=-100, reduction="sum")
        total += float(losses)
        count += int((target != -100).sum())
    return (total / count if count else math.nan), count


def base_answers(
    model: Any, tokenizer: Any, samples: list[dict[str, Any]], max_new_tokens: int, where: str
) -> list[dict[str, Any]]:
    """The model's greedy answers to the run's held-out prompts, generated as the trainer generated the
    run's own (ftui.trainer.generate.greedy_answer, which the trainer calls too)."""
    from ftui.trainer.generate import greedy_answer

    answers = []
    for sample in samples:
        output, new_tokens = greedy_answer(model, tokenizer, sample["prompt"], max_new_tokens, where)
        answers.append(
            {
                "line": sample.get("line"),
                "prompt": sample["prompt"],
                "output": output,
                "new_tokens": new_tokens,
            }
        )
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftui.exporter.evaluate", description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--base-weights", required=True)
    args = parser.parse_args(argv)
    out, sys.stdout = sys.stdout, sys.stderr  # only the result on stdout
    import msgspec

    from ftui.core.base_eval import BaseAnswer, BaseEval, write_base_eval
    from ftui.core.exports import now_iso, read_run
    from ftui.exporter.models import device, load_causal_lm, load_tokenizer, prepare_torch, target_dtype

    torch = prepare_torch()
    started = time.monotonic()
    run_dir = Path(args.run_dir).resolve()
    run = read_run(str(run_dir))
    where = device()
    base_dir = Path(args.base_weights)
    dtype = target_dtype(base_dir) if where == "cuda" else "float32"
    tokenizer = load_tokenizer(run.weights_dir)
    rows, config = held_out_rows(run_dir, tokenizer) if run.eval_split else ([], None)
    if not rows and not run.samples:
        out.write(json.dumps({"error": "no_eval_rows"}) + "\n")
        return 0
    seq, responses_only = run.seq, bool(config and config.settings.responses_only)
    base_loss = run_loss = None
    tokens = 0
    if run.full:
        if rows:
            tuned = load_causal_lm(run.weights_dir, dtype, where)
            run_loss, tokens = mean_loss(tuned, tokenizer, rows, seq, responses_only, torch, where)
            del tuned
        base = load_causal_lm(base_dir, dtype, where)
        if rows:
            base_loss, _ = mean_loss(base, tokenizer, rows, seq, responses_only, torch, where)
        answers = base_answers(base, tokenizer, run.samples, run.max_new_tokens, where)
    else:
        from peft import PeftModel

        base = load_causal_lm(base_dir, dtype, where)
        if len(tokenizer) > base.get_input_embeddings().weight.shape[0]:
            base.resize_token_embeddings(len(tokenizer))
        model = PeftModel.from_pretrained(base, str(run.weights_dir)).to(where).eval()
        if rows:
            run_loss, tokens = mean_loss(model, tokenizer, rows, seq, responses_only, torch, where)
        with model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext():
            if rows:
                base_loss, _ = mean_loss(model, tokenizer, rows, seq, responses_only, torch, where)
            answers = base_answers(model, tokenizer, run.samples, run.max_new_tokens, where)
    result = BaseEval(
        run_id=run.run_id,
        rows=len(rows),
        tokens=tokens,
        base_loss=None if base_loss is None else round(base_loss, 4),
        run_loss=None if run_loss is None else round(run_loss, 4),
        logged_eval_loss=run.last_eval_loss,
        base_samples=msgspec.convert(answers, list[BaseAnswer]),
        base_model=str(base_dir),
        device=where,
        seconds=round(time.monotonic() - started, 1),
        computed_at=now_iso(),
    )
    write_base_eval(run_dir, result)  # the app's cache: shown again without loading anything
    out.write(json.dumps(result.to_json()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
