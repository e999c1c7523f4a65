"""`ftui stop RUN`: stop a run gracefully; it saves a checkpoint and the adapter, then ends as stopped."""

from __future__ import annotations

import argparse

from ftui.commands import _types as types
from ftui.commands._output import add_json_flag, emit

ORDER = 72


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "stop",
        help="stop a run gracefully (checkpoint and adapter saved); `ftui resume` continues it",
        description="Send the run SIGTERM: it finishes the current step, saves a checkpoint and the adapter, "
        "and ends as `stopped`. Waits for that (up to --wait seconds) unless --no-wait.",
    )
    parser.add_argument("run", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument(
        "--wait",
        type=types.SECONDS,
        default=600.0,
        metavar="S",
        help="seconds to wait for it to end (default 600)",
    )
    parser.add_argument("--no-wait", action="store_true", help="return as soon as the signal is sent")
    parser.add_argument("--runs-dir", help="where runs are kept")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftui.commands._follow import step_text
    from ftui.core.runs import find_run, stop, summarize
    from ftui.core.text import one_line

    found = find_run(args.run, args.runs_dir)
    status = stop(found, wait=None if args.no_wait else args.wait)
    summary = summarize(found, status)
    if status.is_final:
        text = f"{found.run_id}: {summary.state} at {step_text(summary)}" + (
            f"; saved in {summary.output}."
            if summary.output and summary.state in ("stopped", "completed")
            else "."
        )
        if summary.error and summary.state in ("failed", "oom"):
            text += f"\n{one_line(summary.error)}"
    elif args.no_wait:
        text = f"Asked {found.run_id} to stop; it saves a checkpoint and the adapter first (`ftui runs {found.run_id}`)."
    else:
        text = f"{found.run_id} is still saving after {args.wait:.0f} s; `ftui kill {found.run_id}` ends it at once."
    emit(args, summary.to_json(), text)
    return 0
