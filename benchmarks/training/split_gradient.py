"""Does the split of a step's rows change the gradient? One optimizer step of ftui's own trainer, captured.

  python benchmarks/training/split_gradient.py grad --model DIR --data FILE --batch 8 --grad-accum 1 \\
      --out A.pt [--method qlora] [--padding auto|padded|padding_free]
  python benchmarks/training/split_gradient.py compare A.pt B.pt [C.pt ...]

`grad` builds the trainer as `ftui train` does (Unsloth's loader, get_peft_model, ftui's sft_config and
build_trainer, ChatML rows with ftui's EOS), trains one optimizer step and saves, just before the optimizer
applies it, every LoRA gradient (summed over the step's micro-batches, before the Trainer's clipping to
norm 1), with the step's logged loss and gradient norm. The first step's rows are the same at every split
(the sampler's order does not depend on the split), so two splits must give the same gradient direction
(cosine 1 to float noise) and the same loss. `compare` prints, for each file against the first, the
cosine of the whole gradient, the ratio of the pre-clip norms and the two losses; `--padding` forces
Unsloth's batches (`padded`: padding_free=False; `padding_free`: True) instead of its own choice, to tell
whether padding-free batches are what changes the gradient.

On CPU (a tiny model) it rehearses the same code: Unsloth's CPU path keeps padded batches.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def grad(args: argparse.Namespace) -> None:
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    # isort: off
    import unsloth  # noqa: F401  (first, as in training)
    from unsloth import FastLanguageModel, is_bfloat16_supported
    from unsloth.chat_templates import get_chat_template

    import torch
    from transformers import TrainerCallback
    # isort: on

    from ftui.core.data import training_texts
    from ftui.core.plan import TrainingSettings
    from ftui.trainer.train import build_trainer, sft_config

    settings = TrainingSettings(
        method=args.method,
        batch=args.batch,
        grad_accum=args.grad_accum,
        seq=args.seq,
        max_steps=1,
        optimizer=args.optim,
    )
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=args.model,
        max_seq_length=settings.seq,
        dtype=None,
        load_in_4bit=settings.method == "qlora",
    )
    tokenizer = get_chat_template(tokenizer, chat_template="chatml")
    model = FastLanguageModel.get_peft_model(
        model,
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        bias="none",
        target_modules=list(settings.target_modules),
        use_gradient_checkpointing="unsloth",
        random_state=settings.seed,
    )
    rows = list(training_texts(args.data, template="chatml", eos_token=tokenizer.eos_token or ""))
    gpu = torch.cuda.is_available()
    bf16 = gpu and is_bfloat16_supported()
    overrides = {} if args.padding == "auto" else {"padding_free": args.padding == "padding_free"}
    config = sft_config(
        settings,
        output_dir=str(Path(args.out).with_suffix(".trainer")),
        total_steps=1,
        evaluate=False,
        bf16=bf16,
        fp16=gpu and not bf16,
        **overrides,
    )
    captured: dict = {"split": f"{args.batch} x {args.grad_accum}", "padding": args.padding}

    grads: dict = {}

    def keeper(name: str):  # type: ignore[no-untyped-def]
        def keep(p) -> None:  # type: ignore[no-untyped-def]
            # after each micro-batch's backward: the last call of the step holds the accumulated sum
            grads[name] = p.grad.detach().float().clone()

        return keep

    for name, p in model.named_parameters():
        if p.requires_grad:
            p.register_post_accumulate_grad_hook(keeper(name))

    class Capture(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
            if logs and "loss" in logs:
                captured["loss"], captured["grad_norm"] = logs["loss"], logs.get("grad_norm")
                captured["num_tokens"] = state.num_input_tokens_seen

    trainer = build_trainer(model, tokenizer, config, rows, [], callbacks=[Capture()])
    captured["padding_free"] = bool(getattr(trainer.args, "padding_free", False))
    trainer.train()
    captured["grads"] = {n: g.cpu() for n, g in grads.items()}
    torch.save(captured, args.out)
    shown = {k: v for k, v in captured.items() if k != "grads"}
    print("split_gradient: " + json.dumps({**shown, "tensors": len(captured.get("grads", {}))}), flush=True)


def compare(files: list[str]) -> list[dict]:
    import torch

    runs = [torch.load(f, weights_only=False) for f in files]
    base = runs[0]
    out = []
    for name, run in zip(files, runs, strict=True):
        keys = sorted(base["grads"])
        assert sorted(run["grads"]) == keys, f"{name}: other parameters"
        # float64: over ~44 M values a float32 cosine drifts by 1% (2026-11-30: 1.011 of a file with itself)
        a = torch.cat([base["grads"][k].flatten() for k in keys]).double()
        b = torch.cat([run["grads"][k].flatten() for k in keys]).double()
        cosine = float(torch.nn.functional.cosine_similarity(a, b, dim=0))
        norms = (base.get("grad_norm"), run.get("grad_norm"))
        out.append(
            {
                "file": name,
                "split": run["split"],
                "padding_free": run["padding_free"],
                "loss": [base.get("loss"), run.get("loss")],
                "num_tokens": [base.get("num_tokens"), run.get("num_tokens")],
                "grad_cosine": round(cosine, 6),
                "pre_clip_norm_ratio": round(norms[1] / norms[0], 4) if all(norms) else None,
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    g = sub.add_parser("grad")
    g.add_argument("--model", required=True)
    g.add_argument("--data", required=True)
    g.add_argument("--batch", type=int, required=True)
    g.add_argument("--grad-accum", type=int, required=True)
    g.add_argument("--seq", type=int, default=2048)
    g.add_argument("--method", default="qlora", help="qlora (GPU) or lora (CPU rehearsal)")
    g.add_argument("--optim", default="adamw_8bit", help="CPU rehearsal: adamw_torch")
    g.add_argument("--padding", choices=("auto", "padded", "padding_free"), default="auto")
    g.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.what == "grad":
        grad(args)
    else:
        compare(args.files)


if __name__ == "__main__":
    main()
