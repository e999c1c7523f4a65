"""`ftui advise`: which models to fine-tune for this data, use case, license policy and GPU, and why."""

from __future__ import annotations

import argparse

from ftui.commands import _types as types
from ftui.commands._output import add_json_flag, emit
from ftui.core.plan import DATA_FORMATS, LICENSE_POLICIES, METHODS, USE_CASES

ORDER = 11


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "advise",
        help="recommend models for your data size, use case, license and GPU, with reasons",
        description="A ranked shortlist of models with the reason for each, and every other model with why it was dropped.",
    )
    parser.add_argument(
        "--rows", type=types.COUNT, required=True, help="rows (examples) in your training data"
    )
    parser.add_argument("--use-case", choices=USE_CASES, default="general")
    parser.add_argument(
        "--license",
        choices=LICENSE_POLICIES,
        default="any",
        help="any; commercial: commercial use allowed (conditions shown); permissive: Apache/MIT only",
    )
    gpu = parser.add_mutually_exclusive_group()
    gpu.add_argument(
        "--gpu",
        metavar="NAME",
        type=types.text("a GPU name", 200),
        help="plan for this card, e.g. h100, 'rtx 4090', t4 (see assets/gpus.toml)",
    )
    gpu.add_argument(
        "--vram-gib", type=types.GIB, metavar="X", help="plan for a GPU with this much memory (GiB)"
    )
    parser.add_argument(
        "--gpus",
        type=types.COUNT,
        default=1,
        metavar="N",
        help="plan for N such cards (default 1): a model that fits one trains with a copy on each (DDP), "
        "one that does not is sharded over them",
    )
    parser.add_argument("--method", choices=METHODS, default="qlora", help="training method (default qlora)")
    parser.add_argument(
        "--format",
        dest="data_format",
        choices=DATA_FORMATS,
        help="your data's format (alpaca, sharegpt, messages, ...): picks the base-model template",
    )
    parser.add_argument(
        "--limit", type=types.COUNT, default=8, help="candidates on the shortlist (default 8)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftui.core.advice import advise
    from ftui.core.catalog import load_catalog
    from ftui.core.errors import UsageError, UserError
    from ftui.core.plan import DatasetSummary, GpuChoice, Plan, TrainingSettings

    catalog = load_catalog()
    gpu = None
    if args.gpu:
        card = catalog.gpu(args.gpu)
        if card is None:
            names = ", ".join(g.name for g in catalog.gpus)
            raise UserError(
                f"ftui does not know the GPU {args.gpu!r}; use one of {names}, or give --vram-gib."
            )
        gpu = GpuChoice(name=card.name, vram_gib=card.memory_gib, bf16=card.bf16, count=args.gpus)
    elif args.vram_gib is not None:
        if args.vram_gib <= 0:
            raise UsageError(f"--vram-gib must be more than 0, not {args.vram_gib:g}.")
        gpu = GpuChoice(name=f"{args.vram_gib:g} GiB GPU", vram_gib=args.vram_gib, count=args.gpus)
    elif args.gpus > 1:
        raise UsageError("--gpus N plans for N cards of a kind: name it with --gpu NAME or --vram-gib X.")
    plan = Plan(
        use_case=args.use_case,
        license_policy=args.license,
        gpu=gpu,
        dataset=DatasetSummary(source="(command line)", rows=args.rows, format=args.data_format or "unknown"),
        settings=TrainingSettings(method=args.method),
    )
    advice = advise(plan, catalog, limit=args.limit)
    emit(args, advice.to_json(), lambda: _text(advice))
    return 0


def fit_word(fit: str | None) -> str:
    from ftui.core.fit import FIT_WORDS, NO_GPU_WORDS

    return FIT_WORDS[fit].word if fit else NO_GPU_WORDS


def _text(advice) -> str:
    own = "the processor’s own" if advice.use_case == "vision" else "the tokenizer’s own"
    lines = [f"Model kind: {advice.model_kind}    template: {advice.template or own}"]
    lines += [f"  - {r}" for r in advice.reasons]
    lines.append("")
    if advice.candidates:
        lines.append("Shortlist:")
    for n, c in enumerate(advice.candidates, start=1):
        m = c.model
        est = c.est_vram_gib[c.method]
        lines.append(f"{n}. {m.hf_id}  ({m.params_b:g}B {m.kind}, {m.license})")
        how = {"fsdp": ", sharded", "ddp": ", a copy per GPU"}.get(c.strategy.get(c.method, ""), "")
        per = " per GPU" if advice.gpu is not None and advice.gpu.count > 1 else ""
        lines.append(
            f"   load {c.recommended_repo}  {c.method}: ~{est:.1f} GiB{per}{how}, {fit_word(c.fits[c.method])}"
        )
        lines += [f"   - {r}" for r in c.reasons]
    if advice.dropped:
        lines.append("")
        lines.append(f"Dropped ({len(advice.dropped)}; --json lists each with its reason):")
        seen: dict[str, int] = {}
        for d in advice.dropped:
            seen[d.category] = seen.get(d.category, 0) + 1
            if seen[d.category] <= 3:
                lines.append(f"  {d.category:12} {d.hf_id}: {d.reason}")
        for category, count in seen.items():
            if count > 3:
                lines.append(f"  {category:12} ... and {count - 3} more")
    return "\n".join(lines)
