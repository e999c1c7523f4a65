"""`ftui runs [RUN] [--follow]`: every run in the runs directory, or one run in detail (attach with --follow)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ftui.commands import _types as types
from ftui.commands._follow import step_text
from ftui.commands._output import add_json_flag, emit
from ftui.core.errors import UsageError
from ftui.core.text import one_line

if TYPE_CHECKING:
    from ftui.core.runs.summary import RunSummary

ORDER = 71


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "runs",
        help="list training runs (also those started earlier or still running), or show one",
        description="List every run in the runs directory with its state, step and loss; a run whose process "
        "died is reported as failed. With RUN (an id, a unique part of one, `last`, or a path): that run "
        "in detail; --follow attaches to it until it ends.",
    )
    parser.add_argument("run", nargs="?", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument("--follow", action="store_true", help="attach: print progress until the run ends")
    parser.add_argument(
        "--log",
        type=types.COUNT_OR_ZERO,
        metavar="N",
        default=10,
        help="lines of train.log to show (default 10)",
    )
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _table(summaries: list[RunSummary]) -> str:
    if not summaries:
        return "No runs yet; start one with `ftui train --model M --data D`."
    rows = [("RUN", "STATE", "STEP", "LOSS", "EVAL", "MODEL")]
    for s in summaries:
        step = f"{s.step}/{s.max_steps}" if s.max_steps else str(s.step if s.step is not None else "-")
        loss = "-" if s.loss is None else f"{s.loss:.4f}"
        eval_loss = "-" if s.eval_loss is None else f"{s.eval_loss:.4f}"
        state = f"{s.state} (slurm {s.slurm_state})" if s.slurm_state else s.state
        rows.append((s.run_id, state, step, loss, eval_loss, one_line(s.model or "?")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + r[-1] for r in rows]
    for s in summaries:
        if s.error and s.state in ("failed", "oom"):
            lines.append(f"{s.run_id}: {one_line(s.error)}")
    return "\n".join(lines)


def _detail(summary: RunSummary, tail: list[str]) -> str:
    lines = [f"{summary.run_id}  {summary.state}  {step_text(summary)}"]
    fields = summary.to_json()
    for key in (
        "model",
        "method",
        "name",
        "loss",
        "eval_loss",
        "tokens_per_second",
        "peak_gpu_gib",
        "stack",
        "sharding",
        "world_size",
        "nodes",
        "failed_rank",
        "slurm_job_id",
        "slurm_state",
        "started_at",
        "ended_at",
        "pid",
        "last_checkpoint",
        "output",
        "path",
    ):
        if fields.get(key) is not None:
            lines.append(f"  {key}: {one_line(str(fields[key]))}")
    if summary.error:
        lines.append(f"  error: {one_line(summary.error)}")
    for warning in summary.warnings:
        lines.append(f"  warning: {one_line(warning)}")
    if tail:
        lines.append("  train.log:")
        lines.extend(f"    {one_line(line)}" for line in tail)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ftui.core.runs import find_run, list_runs, summarize
    from ftui.core.runs.records import to_builtins

    if args.run is None:
        if args.follow:
            raise UsageError("--follow needs a RUN to attach to (an id, or `last`).")
        summaries = [summarize(r) for r in list_runs(args.runs_dir)]
        emit(args, [s.to_json() for s in summaries], lambda: _table(summaries))
        return 0
    found = find_run(args.run, args.runs_dir)
    if args.follow:
        from ftui.commands._follow import follow_and_report

        return follow_and_report(args, found, from_now=True)
    summary = summarize(found)
    tail = found.log_tail(args.log) if args.log else []
    payload = {**summary.to_json(), "log_tail": tail, "samples": [to_builtins(s) for s in found.samples()]}
    emit(args, payload, lambda: _detail(summary, tail))
    return 0
