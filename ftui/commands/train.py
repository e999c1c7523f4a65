"""`ftui train [CONFIG.toml] [flags]`: fine-tune headless in a detached process and follow it."""

from __future__ import annotations

import argparse

from ftui.commands import _types as types
from ftui.commands._output import add_json_flag
from ftui.core.plan import METHODS

ORDER = 70
# --finetune-X / --no-finetune-X -> TrainingSettings.finetune_X_... (vision runs only)
PARTS = {
    "vision": "the image tower's layers",
    "language": "the language model's layers",
    "attention": "attention (q, k, v, o) in the chosen layers",
    "mlp": "the MLP in the chosen layers",
}
SETTING_OF_PART = {
    "vision": "finetune_vision_layers",
    "language": "finetune_language_layers",
    "attention": "finetune_attention_modules",
    "mlp": "finetune_mlp_modules",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="fine-tune a model with Unsloth (headless); the run goes on if you disconnect",
        description="Fine-tune a model with Unsloth in a detached process (it survives ftui exiting and "
        "SSH dropping), print progress, and end with the run's state. A CONFIG.toml (a run's config.toml, "
        "or `ftui script`'s input) gives every setting; flags override it.",
    )
    parser.add_argument("config", nargs="?", help="a run config (TOML); flags override it")
    parser.add_argument(
        "--model",
        type=types.text("a model name or folder"),
        help="catalog name, Hub repo id or local model folder",
    )
    parser.add_argument(
        "--data",
        type=types.text("a dataset file or id"),
        help="dataset file (JSONL, JSON, CSV, Parquet) or HF dataset id",
    )
    parser.add_argument("--method", choices=METHODS, help="QLoRA 4-bit (default), LoRA 16-bit, full")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--max-steps", type=types.COUNT, help="optimizer steps to train (wins over epochs)")
    steps.add_argument("--epochs", type=types.EPOCHS, help="passes over the data (default 1)")
    parser.add_argument("--batch", type=types.COUNT, help="micro-batch per GPU (default 2)")
    parser.add_argument("--grad-accum", type=types.COUNT, help="gradient accumulation steps (default 4)")
    parser.add_argument("--seq", type=types.COUNT, help="max length in tokens (default 2048)")
    parser.add_argument("--lr", type=types.LEARNING_RATE, help="learning rate (default 2e-4)")
    parser.add_argument("--rank", type=types.COUNT, help="LoRA rank (default 16)")
    parser.add_argument("--alpha", type=types.COUNT, help="LoRA alpha (default 16)")
    parser.add_argument(
        "--eval-split", type=types.FRACTION, help="fraction of rows held out for eval_loss (default 0)"
    )
    parser.add_argument("--save-steps", type=types.COUNT, help="save a checkpoint every N steps (default 50)")
    parser.add_argument(
        "--optimizer",
        type=types.text("an optimizer name", 100),
        help="e.g. adamw_8bit (default), adamw_torch",
    )
    parser.add_argument(
        "--responses-only", action="store_true", default=None, help="train on the answers only"
    )
    parser.add_argument(
        "--save-merged", action="store_true", default=None, help="also save a merged 16-bit model"
    )
    parser.add_argument("--gguf", metavar="QUANT", help="also export GGUF, e.g. q4_k_m (needs llama.cpp)")
    parser.add_argument(
        "--template",
        help="chat template or prompt (chatml, llama-3.1, alpaca, ..., a .jinja file, "
        "or `model` for the model's own)",
    )
    parser.add_argument("--format", help="dataset format, when detection should be overridden")
    parts = parser.add_argument_group(
        "vision models", "which parts get LoRA adapters (Unsloth's FastVisionModel flags; all on by default)"
    )
    for flag, what in PARTS.items():
        parts.add_argument(
            f"--finetune-{flag}", action=argparse.BooleanOptionalAction, default=None, help=what
        )
    parser.add_argument("--name", type=types.text("a name", 100), help="a label for the run (part of its id)")
    parser.add_argument(
        "--python",
        type=types.text("a path to a Python"),
        help="the Python that trains (an env with Unsloth); default: this one",
    )
    parser.add_argument("--gpus", help="GPU indices, e.g. 0,1 (several: torchrun, one model copy per GPU)")
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    parser.add_argument("--detach", action="store_true", help="start the run and return at once")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace):  # -> RunConfig
    from pathlib import Path

    from ftui.core.errors import UsageError
    from ftui.core.run_config import RunConfig, parse_gpus, resolve

    overrides = dict(
        model=args.model,
        data=args.data,
        method=args.method,
        max_steps=args.max_steps,
        epochs=args.epochs,
        batch=args.batch,
        grad_accum=args.grad_accum,
        seq=args.seq,
        learning_rate=args.lr,
        rank=args.rank,
        alpha=args.alpha,
        eval_split=args.eval_split,
        save_steps=args.save_steps,
        optimizer=args.optimizer,
        responses_only=args.responses_only,
        save_merged=args.save_merged,
        save_gguf=args.gguf,
        template=args.template,
        format=args.format,
        name=args.name,
        python=args.python,
        gpus=parse_gpus(args.gpus),
        **{SETTING_OF_PART[part]: getattr(args, f"finetune_{part}") for part in PARTS},
    )
    base_dir = None
    if args.config:
        config = RunConfig.read(args.config)
        base_dir = Path(args.config).resolve().parent
        # A run's own config.toml names the repo it resolved; a new --method resolves it again.
        config = config.with_overrides(**{k: v for k, v in overrides.items() if k not in ("model", "data")})
        if args.model or args.data:
            config = config.with_overrides(model=args.model, data=args.data)
            if args.model:
                config.repo = None
                config.template = args.template
    else:
        if not args.model or not args.data:
            raise UsageError("ftui train needs a CONFIG.toml, or both --model and --data.")
        config = RunConfig(model=args.model, data=args.data).with_overrides(
            **{k: v for k, v in overrides.items() if k not in ("model", "data")}
        )
    return resolve(config, base_dir=base_dir, method_changed=args.method is not None)


def run(args: argparse.Namespace) -> int:
    from ftui.commands._follow import follow_and_report
    from ftui.commands._output import emit
    from ftui.core.runs import create_run, start

    config = build_config(args)
    created = create_run(config, args.runs_dir)
    process = start(created)
    if args.detach:
        payload = {
            "run_id": created.run_id,
            "path": str(created.path),
            "pid": process.pid,
            "state": "starting",
        }
        emit(
            args,
            payload,
            f"Started {created.run_id} (pid {process.pid}) in {created.path}.\n"
            f"Follow it with `ftui runs {created.run_id} --follow`; stop it with `ftui stop {created.run_id}`.",
        )
        return 0
    import sys

    out = sys.stderr if args.json else sys.stdout
    print(
        f"Run {created.run_id} in {created.path} (pid {process.pid}); Ctrl-C detaches, the run goes on.",
        file=out,
        flush=True,
    )
    return follow_and_report(args, created, process)
