"""`ftui decode NAME`: what a model's name says (org, family, size, base/instruct, quantization)."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag, emit

ORDER = 12


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "decode",
        help="explain a model name: org, family, size, base/instruct, quantization",
        description="Decode a Hub repo name, a Hub URL or a local path, and say what its quantization means for training.",
    )
    parser.add_argument("name", help="e.g. unsloth/llama-3.1-8b-unsloth-bnb-4bit or ./my-model")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftui.core.errors import UsageError
    from ftui.core.names import decode

    if not args.name.strip():
        raise UsageError(
            "The model name is empty; give a repo name such as unsloth/llama-3.1-8b-unsloth-bnb-4bit."
        )
    decoded = decode(args.name)
    emit(args, decoded.to_json(), lambda: _text(decoded))
    return 0


def _text(d) -> str:
    size = (
        "unknown"
        if d.size_b is None
        else f"{d.size_b:g}B" + (f" ({d.active_b:g}B active)" if d.active_b else "")
    )
    lines = [
        f"Name:          {d.name}",
        f"Published by:  {d.org}",
        f"Family:        {d.family}"
        + (f" {d.version}" if d.version != "unknown" and d.version not in d.family else "")
        + (f" ({d.vendor})" if d.vendor != "unknown" else ""),
        f"Size:          {size}",
        f"Kind:          {d.kind}",
        f"Modality:      {d.modality}",
        f"Quantization:  {d.quantization}" + ("" if d.trainable else " (not for training)"),
    ]
    if d.catalog_id:
        lines.append(f"Catalog:       {d.catalog_id}")
    if d.unknown:
        lines.append(f"Unknown:       {', '.join(d.unknown)}")
    lines.append("")
    lines.append(d.explanation)
    return "\n".join(lines)
