"""Following a run from the command line: progress lines while it trains, its state at the end.

Shared by `ftui train`, `ftui resume` and `ftui runs RUN --follow`. Ctrl-C detaches; the run goes on.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from ftui.core.text import one_line

if TYPE_CHECKING:  # the run machinery is imported when a command runs, not when the parser is built
    from ftui.core.runs.progress import Progress
    from ftui.core.runs.records import EvalRecord, TrainRecord
    from ftui.core.runs.summary import RunSummary


def progress_line(record: TrainRecord | EvalRecord, progress: Progress) -> str:
    """One line per logged step: the record's figures and the run's ETA (ftui.core.runs.progress)."""
    from ftui.core.runs.progress import clock
    from ftui.core.runs.records import EvalRecord, TrainRecord

    parts = [f"step {record.step}/{record.max_steps}"]
    if isinstance(record, EvalRecord):
        parts.append(f"eval_loss {_num(record.eval_loss)}")
    else:
        parts.append(f"loss {_num(record.loss)}")
        if record.learning_rate is not None:
            parts.append(f"lr {record.learning_rate:.2e}")
        if record.tokens_per_second:
            parts.append(f"{record.tokens_per_second:,.0f} tok/s")
    if record.gpu_mem_gib is not None:
        parts.append(f"gpu {record.gpu_mem_gib:.1f} GiB")
    eta = progress.eta()
    if eta is not None:
        parts.append(f"eta {clock(eta)}")
    line = "  ".join(parts)
    if isinstance(record, TrainRecord) and record.warning:
        line += f"\n  warning: {one_line(record.warning)}"
    return line


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def step_text(summary: RunSummary) -> str:
    if summary.step is None:
        return "before its first step"
    return f"step {summary.step}/{summary.max_steps}" if summary.max_steps else f"step {summary.step}"


def final_line(summary: RunSummary) -> str:
    state = summary.state
    at = "" if summary.step is None else " at"
    loss = f", loss {_num(summary.loss)}" if summary.loss is not None else ""
    if state in ("completed", "stopped"):
        where = f"; saved in {summary.output}" if summary.output else ""
        return f"{summary.run_id}: {state}{at} {step_text(summary)}{loss}{where}."
    return f"{summary.run_id}: {state}{at} {step_text(summary)}{loss}."


def follow_and_report(
    args: argparse.Namespace, run: Any, process: Any = None, *, from_now: bool = False
) -> int:
    """Print progress until the run ends; return the exit code for its final state. `from_now` skips what
    the run logged before (a resumed or re-attached run): only what happens from now on is printed."""
    from ftui.commands._output import emit
    from ftui.core.runs import follow, summarize
    from ftui.core.runs.progress import Progress
    from ftui.core.runs.records import EvalRecord, TrainRecord

    # With --json the progress goes to stderr, so that stdout holds the JSON alone.
    out = sys.stderr if getattr(args, "json", False) else sys.stdout
    progress = Progress()
    last_print = 0.0
    pending: TrainRecord | EvalRecord | None = None
    log_offset = metrics_offset = 0
    if from_now:
        # Earlier records only feed the progress (its step and totals): the first line printed is news.
        earlier, metrics_offset = run.read_metrics(0)
        for record in earlier:
            progress.add(record)
        log_offset = run.log_path.stat().st_size if run.log_path.exists() else 0
    try:
        for event in follow(run, process=process, log_offset=log_offset, metrics_offset=metrics_offset):
            if event.status is not None and event.status.phase:
                print(f"[{event.status.state}] {one_line(event.status.phase)}", file=out, flush=True)
            for record in event.metrics:
                progress.add(record)
                if not isinstance(record, TrainRecord | EvalRecord):
                    continue
                now = time.monotonic()
                # At most a line a second (plus every eval): a fast GPU logs many steps a second.
                if (
                    isinstance(record, EvalRecord)
                    or now - last_print >= 1.0
                    or record.step == record.max_steps
                ):
                    print(progress_line(record, progress), file=out, flush=True)
                    last_print, pending = now, None
                else:
                    pending = record
        if pending is not None:
            print(progress_line(pending, progress), file=out, flush=True)
    except KeyboardInterrupt:
        print(
            f"\nDetached from {run.run_id}; it goes on. `ftui runs {run.run_id} --follow` attaches again, "
            f"`ftui stop {run.run_id}` stops it.",
            file=sys.stderr,
            flush=True,
        )
        return 130
    summary = summarize(run)
    emit(args, summary.to_json(), lambda: final_line(summary))
    if summary.state in ("failed", "oom"):
        print(
            f"ftui: {one_line(summary.error or 'the run failed; see train.log.')}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return 0
