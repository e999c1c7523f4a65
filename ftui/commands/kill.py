"""`ftui kill RUN`: end a run at once (SIGKILL). Checkpoints written so far stay; `ftui resume` continues."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag, emit

ORDER = 73


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "kill",
        help="end a run at once (no save); its checkpoints stay for `ftui resume`",
        description="Send SIGKILL to the run's process group. Nothing more is saved; checkpoints already "
        "written stay, and `ftui resume RUN` continues from the last one. Prefer `ftui stop`.",
    )
    parser.add_argument("run", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument("--runs-dir", help="where runs are kept")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftui.core.runs import find_run, kill, summarize
    from ftui.core.text import one_line

    found = find_run(args.run, args.runs_dir)
    status = kill(found)
    summary = summarize(found, status)
    emit(args, summary.to_json(), f"{found.run_id}: {status.state}. {one_line(status.error or '')}".strip())
    return 0
