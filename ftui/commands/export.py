"""`ftui export RUN --format adapter|merged|gguf`: write a finished run's model where it can be used
elsewhere, in a separate process that the record in the run directory follows, and verify it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ftui.commands._output import add_json_flag

ORDER = 75


def register(sub: argparse._SubParsersAction) -> None:
    from ftui.core.exports import DEFAULT_QUANT, FORMATS, QUANTS

    parser = sub.add_parser(
        "export",
        help="export a finished run: the adapter, a merged 16-bit model, or GGUF for llama.cpp/Ollama",
        description="Export a finished run in a separate process: the LoRA adapter as it is, the adapter "
        "merged into the base model's 16-bit weights (safetensors, loadable by transformers and vLLM), or "
        "GGUF through llama.cpp's converter and quantizer with an Ollama Modelfile. The export is written "
        "under a hidden name and renamed when complete, then loaded again and checked against the run's "
        "held-out prompts.",
    )
    parser.add_argument("run", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    parser.add_argument(
        "--quant",
        metavar="TYPE",
        help=f"GGUF type (default {DEFAULT_QUANT}): {', '.join(QUANTS)}",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="the folder to create (default RUN/exports/FORMAT[-TYPE])"
    )
    parser.add_argument(
        "--base-weights", metavar="DIR", help="the base model's 16-bit weights, when ftui cannot find them"
    )
    parser.add_argument("--no-verify", action="store_true", help="skip loading the export to check it")
    parser.add_argument("--detach", action="store_true", help="start the export and return at once")
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def describe(record: dict[str, Any]) -> str:
    from ftui.core.exports import gib

    lines = [
        f"{record['export_id']}: {record['state']}  {record['format']}{' ' + record['quant'] if record.get('quant') else ''}"
    ]
    if record.get("state") == "completed":
        lines.append(
            f"  written to {record['out']} ({gib(record.get('size_bytes') or 0)}) in {record.get('seconds')} s"
        )
        if record.get("gguf_file"):
            lines.append(
                f"  GGUF: {record['gguf_file']}; Ollama: cd {record['out']} && ollama create NAME -f Modelfile"
            )
    base = record.get("base_weights")
    if base:
        lines.append(f"  base weights: {base.get('why')}")
    verification = record.get("verification") or {}
    for row in verification.get("rows", []):
        lines.append(f"  prompt (line {row.get('line')}): {_short(row['prompt'])}")
        lines.append(f"    adapter: {_short(row['adapter'])}")
        for kind in ("merged", "gguf"):
            if kind in row:
                agreement = row.get(f"{kind}_agreement")
                share = "" if agreement is None else f"  [{agreement:.0%} of the adapter's tokens]"
                lines.append(f"    {kind + ':':8} {_short(row[kind])}{share}")
        for flag in row.get("flags", []):
            lines.append(f"    FLAG: {flag}")
    if verification.get("note"):
        lines.append(f"  {verification['note']}")
    for warning in record.get("warnings") or []:
        lines.append(f"  warning: {warning}")
    return "\n".join(lines)


def _short(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def run(args: argparse.Namespace) -> int:
    from ftui.commands._output import emit
    from ftui.core.exports import gib, plan_export, read_run, start_export, wait_for_export

    found = read_run(args.run, args.runs_dir)
    plan = plan_export(found, args.format, args.quant, args.out, args.base_weights)
    record, process = start_export(plan, verify=not args.no_verify)
    out = sys.stderr if args.json else sys.stdout
    if plan.base is not None:
        print(f"Base weights: {plan.base.why}", file=out, flush=True)
    print(
        f"Export {record['export_id']} of {found.run_id} to {plan.out}: about {gib(plan.needed['final'])} "
        f"({gib(plan.needed['peak'])} while it is written; {gib(plan.free)} free there); "
        f"pid {process.pid}, log {found.path / 'exports' / (record['export_id'] + '.log')}.",
        file=out,
        flush=True,
    )
    if args.detach:
        where = found.path / "exports" / (record["export_id"] + ".json")
        emit(args, record, f"Started; the record {where} follows it (state, phase, progress, result).")
        return 0
    last_phase = None
    for current in wait_for_export(found.path, record["export_id"], process=process):
        phase = current.get("phase")
        progress = current.get("progress") or {}
        if phase and phase != last_phase:
            print(f"[{current.get('state')}] {phase}", file=out, flush=True)
            last_phase = phase
        elif progress.get("bytes_expected") and not args.json:
            done = progress["bytes_written"] / progress["bytes_expected"]
            print(
                f"  {gib(progress['bytes_written'])} of about {gib(progress['bytes_expected'])} ({min(done, 1):.0%})",
                file=out,
                flush=True,
            )
        record = current
    emit(args, record, lambda: describe(record))
    if record.get("state") != "completed":
        print(
            f"ftui: {record.get('error') or 'the export failed; see its log.'}", file=sys.stderr, flush=True
        )
        return 1
    return 0
