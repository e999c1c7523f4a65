"""`ftui runs [RUN] [--follow]`: every run in the runs directory, or one run in detail (attach with --follow)."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag, emit

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
        "--log", type=int, metavar="N", default=10, help="lines of train.log to show (default 10)"
    )
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _table(summaries: list[dict]) -> str:
    if not summaries:
        return "No runs yet; start one with `ftui train --model M --data D`."
    rows = [("RUN", "STATE", "STEP", "LOSS", "EVAL", "MODEL")]
    for s in summaries:
        step = f"{s['step']}/{s['max_steps']}" if s.get("max_steps") else str(s.get("step") or "-")
        loss = "-" if s.get("loss") is None else f"{s['loss']:.4f}"
        eval_loss = "-" if s.get("eval_loss") is None else f"{s['eval_loss']:.4f}"
        rows.append((s["run_id"], s["state"] or "?", step, loss, eval_loss, s.get("model") or "?"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + r[-1] for r in rows]
    for s in summaries:
        if s.get("error") and s["state"] in ("failed", "oom"):
            lines.append(f"{s['run_id']}: {s['error']}")
    return "\n".join(lines)


def _detail(summary: dict, tail: list[str]) -> str:
    lines = [
        f"{summary['run_id']}  {summary['state']}  step {summary.get('step')}/{summary.get('max_steps')}"
    ]
    for key in (
        "model",
        "method",
        "loss",
        "eval_loss",
        "tokens_per_second",
        "peak_gpu_gib",
        "started_at",
        "ended_at",
        "pid",
        "last_checkpoint",
        "output",
        "path",
    ):
        if summary.get(key) is not None:
            lines.append(f"  {key}: {summary[key]}")
    if summary.get("error"):
        lines.append(f"  error: {summary['error']}")
    for warning in summary.get("warnings") or []:
        lines.append(f"  warning: {warning}")
    if tail:
        lines.append("  train.log:")
        lines.extend(f"    {line}" for line in tail)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ftui.core.runs import find_run, list_runs

    if args.run is None:
        if args.follow:
            from ftui.core.errors import UsageError

            raise UsageError("--follow needs a RUN to attach to (an id, or `last`).")
        summaries = [r.summary() for r in list_runs(args.runs_dir)]
        emit(args, summaries, lambda: _table(summaries))
        return 0
    found = find_run(args.run, args.runs_dir)
    if args.follow:
        from ftui.commands._follow import follow_and_report

        return follow_and_report(args, found, from_now=True)
    summary = found.summary()
    tail = found.log_tail(args.log) if args.log else []
    emit(args, {**summary, "log_tail": tail, "samples": found.samples()}, lambda: _detail(summary, tail))
    return 0
