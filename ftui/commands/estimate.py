"""`ftui estimate`: peak GPU memory, whether it fits a card, the largest batch and sequence, and time."""

from __future__ import annotations

import argparse

from ftui.commands import _types as types
from ftui.commands._output import add_json_flag, emit
from ftui.core.plan import METHODS

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "estimate",
        help="peak GPU memory and time of fine-tuning a model, and whether it fits a GPU",
        description="Peak GPU memory (what nvidia-smi shows at the worst moment) of fine-tuning MODEL with "
        "Unsloth, part by part; whether it fits a GPU; the largest micro-batch and sequence that fit; which "
        "methods fit; seconds per step and, given the dataset's tokens, the whole run's time. MODEL is a "
        "catalog name, a local model folder or config.json, or a Hub id (its config.json).",
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        type=types.text("a model name or folder"),
        help="e.g. meta-llama/Llama-3.1-8B, Qwen2.5-7B, ./my-model",
    )
    parser.add_argument("--method", choices=METHODS, default="qlora", help="default qlora")
    parser.add_argument("--batch", type=types.COUNT, default=2, help="micro-batch per GPU (default 2)")
    parser.add_argument("--seq", type=types.COUNT, default=2048, help="max length in tokens (default 2048)")
    parser.add_argument("--rank", type=types.COUNT, default=16, help="LoRA rank (default 16)")
    parser.add_argument(
        "--grad-accum", type=types.COUNT, default=4, help="gradient accumulation steps (default 4)"
    )
    parser.add_argument(
        "--effective-batch",
        type=types.COUNT,
        metavar="N",
        help="rows per optimizer step (default: batch x grad-accum); batch_choice splits it",
    )
    parser.add_argument(
        "--checkpointing",
        choices=("unsloth", "plain", "none"),
        default="unsloth",
        help="gradient checkpointing: Unsloth's offloaded kind (default), plain, or none",
    )
    parser.add_argument(
        "--optimizer",
        type=types.text("an optimizer name", 100),
        default="adamw_8bit",
        help="e.g. adamw_8bit (default), adamw_torch",
    )
    gpu = parser.add_mutually_exclusive_group()
    gpu.add_argument(
        "--gpu",
        metavar="NAME",
        type=types.text("a GPU name", 200),
        help="a card, e.g. h100, 'rtx 4090', t4 (default: this machine's)",
    )
    gpu.add_argument("--vram-gib", type=types.GIB, metavar="X", help="a GPU with this much memory (GiB)")
    parser.add_argument(
        "--tokens", type=types.COUNT, help="the dataset's total tokens: adds the whole run's time"
    )
    parser.add_argument(
        "--rows", type=types.COUNT, help="the dataset's rows (with --tokens; default: packed rows)"
    )
    parser.add_argument(
        "--epochs", type=types.EPOCHS, default=1.0, help="epochs for the run's time (default 1)"
    )
    vision = parser.add_argument_group("vision models", "the images each row carries, and what is tuned")
    vision.add_argument(
        "--images-per-row", type=int, default=1, help="images in a row (default 1; 0: text rows only)"
    )
    vision.add_argument(
        "--image-size", default="1024x1024", metavar="WxH", help="pixels of each image (default 1024x1024)"
    )
    from ftui.commands.train import PARTS

    for part, what in PARTS.items():
        vision.add_argument(
            f"--finetune-{part}", action=argparse.BooleanOptionalAction, default=True, help=what
        )
    parser.add_argument(
        "--gpus",
        type=types.COUNT,
        default=1,
        metavar="N",
        help="GPUs to train on (default 1): adds the per-GPU peak with DDP and sharded, and which ftui uses",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _settings(args: argparse.Namespace):
    from ftui.core.errors import UsageError
    from ftui.core.memory import OPTIMIZERS
    from ftui.core.plan import TrainingSettings

    if args.optimizer not in OPTIMIZERS:
        raise UsageError(
            f"ftui does not know the optimizer {args.optimizer!r}; use one of {', '.join(OPTIMIZERS)}."
        )
    if args.epochs <= 0:
        raise UsageError(f"--epochs must be more than 0, not {args.epochs:g}.")
    batch, grad_accum = args.batch, args.grad_accum
    if args.effective_batch is not None:  # rows a step over every GPU, as `ftui train` takes it
        if args.effective_batch % (batch * args.gpus):
            gpus = f" x {args.gpus} GPUs" if args.gpus > 1 else ""
            raise UsageError(
                f"--effective-batch {args.effective_batch} is not a multiple of the micro-batch {batch}{gpus}; "
                "give a multiple, or leave --batch out."
            )
        grad_accum = args.effective_batch // (batch * args.gpus)
    return TrainingSettings(
        finetune_vision_layers=args.finetune_vision,
        finetune_language_layers=args.finetune_language,
        finetune_attention_modules=args.finetune_attention,
        finetune_mlp_modules=args.finetune_mlp,
        method=args.method,
        batch=batch,
        seq=args.seq,
        rank=args.rank,
        alpha=args.rank,
        grad_accum=grad_accum,
        gradient_checkpointing=args.checkpointing,
        optimizer=args.optimizer,
        epochs=args.epochs,
    )


def _vision(args: argparse.Namespace, dims):  # -> VisionLoad | None
    """The images per row when MODEL is a vision model of a family ftui knows (None: a text estimate)."""
    import re

    from ftui.core.errors import UsageError
    from ftui.core.memory_vision import VisionLoad
    from ftui.core.vision import family_for

    found = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", args.image_size or "")
    if not found or min(int(found[1]), int(found[2])) < 1:
        raise UsageError(
            f"--image-size takes width x height in pixels, like 1024x768, not {args.image_size!r}."
        )
    if args.images_per_row < 0:
        raise UsageError(f"--images-per-row must be 0 or more, not {args.images_per_row}.")
    if family_for(dims.architecture) is None or args.images_per_row == 0:
        return None
    settings = _settings(args)
    if settings.method != "full" and not (
        settings.finetune_vision_layers or settings.finetune_language_layers
    ):
        raise UsageError(
            "Neither the vision nor the language layers are tuned; drop one of the --no-finetune flags."
        )
    if settings.method != "full" and not (
        settings.finetune_attention_modules or settings.finetune_mlp_modules
    ):
        raise UsageError("Neither attention nor the MLP is tuned; drop one of the --no-finetune flags.")
    return VisionLoad(args.images_per_row, (int(found[1]), int(found[2])))


def _gpu(args: argparse.Namespace) -> tuple[str | None, float | None, bool]:
    """(name, memory in GiB, detected) of the card to plan for; (None, None, False) when there is none."""
    from ftui.core.catalog import load_catalog
    from ftui.core.errors import UserError

    if args.gpu:
        catalog = load_catalog()
        card = catalog.gpu(args.gpu)
        if card is None:
            names = ", ".join(g.name for g in catalog.gpus)
            raise UserError(f"{args.gpu!r} is not a GPU ftui knows; use one of {names}, or give --vram-gib.")
        return card.name, card.memory_gib, False
    if args.vram_gib is not None:
        return None, args.vram_gib, False
    try:  # no card named: this machine's first GPU, if it has one
        from ftui.core.hardware import probe

        detected = probe(processes=False).gpus
    except Exception:  # a broken driver must not stop a memory estimate
        detected = []
    if detected:
        return detected[0].name, detected[0].memory_total_gib, True
    return None, None, False


def run(args: argparse.Namespace) -> int:
    from ftui.core.catalog import dims_for
    from ftui.core.memory import estimate_peak_vram, max_batch, max_seq, methods_that_fit
    from ftui.core.speed import estimate_eta, estimate_step_time

    settings = _settings(args)
    dims = dims_for(args.model)
    vision = _vision(args, dims)
    gpu_name, vram, detected = _gpu(args)
    estimate = estimate_peak_vram(dims, settings, vision=vision)
    payload = {
        "model": args.model,
        "settings": {
            "method": settings.method,
            "batch": settings.batch,
            "seq": settings.seq,
            "rank": settings.rank,
            "grad_accum": settings.grad_accum,
            "gradient_checkpointing": settings.gradient_checkpointing,
            "optimizer": settings.optimizer,
            "target_modules": list(settings.target_modules),
        },
        "total_gib": estimate.total_gib,
        "breakdown": estimate.breakdown,
        "trainable_params": estimate.trainable_params,
        "gpu": None if vram is None else {"name": gpu_name, "vram_gib": vram, "detected": detected},
        "fits": None,
        "max_batch": None,
        "max_seq": None,
        "methods": {},
        "seconds_per_step": None,
        "tokens_per_second": None,
        "eta": None,
        "vision": _vision_json(dims, settings, vision),
        **_several_gpus(dims, settings, args.gpus, vram, gpu_name, vision),
        "batch_choice": None,
    }
    for method, other in methods_that_fit(dims, settings, vram or 0, vision=vision).items():
        payload["methods"][method] = {
            "total_gib": other.total_gib,
            "fits": other.fit(vram) if vram is not None else None,
        }
    if vram is not None:
        from ftui.core.batching import choose_batch

        payload["fits"] = estimate.fit(vram)
        payload["max_batch"] = max_batch(dims, settings, vram, vision=vision)
        payload["max_seq"] = max_seq(dims, settings, vram, vision=vision)
        mean_row = round(args.tokens / args.rows) if args.tokens and args.rows else None
        # What `ftui train` would run for these rows a step: the split is ftui's choice there by default.
        choice = choose_batch(
            dims, settings, vram_gib=vram, gpu=gpu_name, gpus=args.gpus, mean_row=mean_row, vision=vision
        )
        payload["batch_choice"] = choice.to_json()
    if gpu_name is not None:
        step = estimate_step_time(dims, settings, gpu_name, vision=vision)
        if step is not None:
            payload["seconds_per_step"] = round(step.seconds_per_step, 3)
            payload["tokens_per_second"] = round(step.tokens_per_second)
        if args.tokens:
            from ftui.core.plan import DatasetSummary

            data = DatasetSummary(
                source="(command line)", rows=args.rows or 0, format="unknown", total_tokens=args.tokens
            )
            eta = estimate_eta(dims, settings, gpu_name, data, vision)
            if eta is not None:
                payload["eta"] = {"steps": eta.steps, "seconds": round(eta.seconds), "tokens": eta.tokens}
    emit(args, payload, lambda: _text(payload))
    return 0


def _vision_json(dims, settings, vision) -> dict | None:
    if vision is None:
        return None
    from ftui.core.memory_vision import vision_extra
    from ftui.core.vision import family_for

    family = family_for(dims.architecture)
    if family is None:  # a load is only made for a model of a vision family (ftui.core.memory_vision)
        return None
    extra = vision_extra(family, settings, vision, dims.hidden)
    return {
        "family": family.name,
        "images_per_row": vision.images_per_row,
        "image_size": list(vision.image_size),
        "image_tokens_per_row": extra.image_tokens_per_row,
        "tower_patches_per_row": extra.tower_patches_per_row,
        "finetune_vision_layers": settings.finetune_vision_layers,
        "finetune_language_layers": settings.finetune_language_layers,
        "finetune_attention_modules": settings.finetune_attention_modules,
        "finetune_mlp_modules": settings.finetune_mlp_modules,
        "measured": True,  # 2026-11-30, H200: Qwen2.5-VL-3B and Gemma-3-4B (BENCHMARKS.md, vision estimator)
    }


def _several_gpus(dims, settings, gpus: int, vram: float | None, card: str | None, vision) -> dict:
    """`gpus`, `strategy`, `strategy_reason`, `per_gpu`: the per-GPU peak of each way to use the GPUs."""
    from ftui.core.sharding import choose_way

    choice = choose_way(dims, settings, gpus, vram, card=card, vision=vision)
    return {
        "gpus": gpus,
        "strategy": choice.way,
        "strategy_reason": choice.reason,
        "per_gpu": None
        if gpus == 1
        else {way: estimate.to_json(vram) for way, estimate in choice.options.items()},
    }


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"


def _text(p: dict) -> str:
    from ftui.core.fit import FIT_WORDS

    s = p["settings"]
    lines = [
        f"{p['model']}: {s['method']}, batch {s['batch']} x {s['seq']} tokens, r={s['rank']}, "
        f"{s['gradient_checkpointing']} checkpointing, {s['optimizer']}",
        f"Peak GPU memory: {p['total_gib']:.1f} GiB",
    ]
    width = max(len(name) for name in p["breakdown"])
    for name, value in p["breakdown"].items():
        lines.append(f"  {name.replace('_', ' '):{width}}  {value:6.2f} GiB")
    gpu = p["gpu"]
    if gpu is None:
        lines.append("No GPU here or named: give --gpu NAME or --vram-gib X to check the fit.")
    else:
        where = gpu["name"] or f"a {gpu['vram_gib']:g} GiB GPU"
        where += " (this machine)" if gpu["detected"] else ""
        lines.append(f"On {where} ({gpu['vram_gib']:.1f} GiB): {FIT_WORDS[p['fits']].sentence}.")
        lines.append(f"  largest micro-batch at {s['seq']} tokens: {p['max_batch']}")
        lines.append(f"  longest sequence at batch {s['batch']}: {p['max_seq']} tokens")
        others = ", ".join(
            f"{m} {e['total_gib']:.1f} GiB ({e['fits'].replace('_', ' ')})" for m, e in p["methods"].items()
        )
        lines.append(f"  methods: {others}")
    if p["per_gpu"]:
        where = f"{p['gpus']} x {gpu['name'] or 'GPU'}" if gpu else f"{p['gpus']} GPUs"
        lines.append(f"On {where}, per GPU:")
        from ftui.core.sharding import WAY_WORDS

        for way, e in p["per_gpu"].items():
            fit = f" ({FIT_WORDS[e['fits']].sentence})" if e["fits"] else ""
            loading = (
                f"; {e['loading_gib']:.1f} GiB while it loads"
                if e["loading_gib"] >= e["training_gib"]
                else ""
            )
            lines.append(f"  {WAY_WORDS[way]:34} {e['total_gib']:5.1f} GiB{fit}{loading}")
        lines.append(f"  ftui uses {p['strategy']}: {p['strategy_reason']}")
    if p["batch_choice"]:
        choice = p["batch_choice"]
        lines.append(f"Batch: {choice['reason']}")
    if p["seconds_per_step"] is not None:
        lines.append(
            f"Time: {p['seconds_per_step']:.2f} s per step ({s['batch']} x {s['grad_accum']} rows), "
            f"{p['tokens_per_second']:,} tokens/s"
        )
    if p["eta"]:
        lines.append(f"Whole run: {p['eta']['steps']} steps, about {_duration(p['eta']['seconds'])}")
    vision = p["vision"]
    if vision:
        tuned = [
            name
            for name, key in (("vision", "finetune_vision_layers"), ("language", "finetune_language_layers"))
            if vision[key]
        ]
        lines.append(
            f"Vision ({vision['family']}): {vision['images_per_row']} image(s) of {vision['image_size'][0]}x"
            f"{vision['image_size'][1]} per row, {vision['image_tokens_per_row']:,} tokens in the text, "
            f"{vision['tower_patches_per_row']:,} patches through the tower; tuned: {' and '.join(tuned)} layers."
        )
        lines.append(
            "The vision part is calibrated on Qwen2.5-VL-3B and Gemma-3-4B runs measured on an H200 (BENCHMARKS.md, "
            "vision estimator; Qwen2.5-VL-7B and Llama 3.2 Vision not yet measured); the text part on Unsloth "
            "text runs."
        )
    else:
        lines.append("Calibrated on Unsloth runs measured on an H200 (BENCHMARKS.md, section estimator).")
    return "\n".join(lines)
