"""Following a run from the command line: progress lines while it trains, its state at the end.

Shared by `ftui train`, `ftui resume` and `ftui runs RUN --follow`. Ctrl-C detaches; the run goes on.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def progress_line(record: dict[str, Any], eta_s: float | None) -> str:
    step, total = record.get("step"), record.get("max_steps")
    parts = [f"step {step}/{total}"]
    if record.get("kind") == "eval":
        parts.append(f"eval_loss {_num(record.get('eval_loss'))}")
    else:
        parts.append(f"loss {_num(record.get('loss'))}")
        if record.get("learning_rate") is not None:
            parts.append(f"lr {record['learning_rate']:.2e}")
        if record.get("tokens_per_second"):
            parts.append(f"{record['tokens_per_second']:,.0f} tok/s")
    if record.get("gpu_mem_gib") is not None:
        parts.append(f"gpu {record['gpu_mem_gib']:.1f} GiB")
    if eta_s is not None:
        parts.append(f"eta {_duration(eta_s)}")
    line = "  ".join(parts)
    if record.get("warning"):
        line += f"\n  warning: {record['warning']}"
    return line


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def final_line(summary: dict[str, Any]) -> str:
    state = summary.get("state")
    step = f"step {summary.get('step')}/{summary.get('max_steps')}"
    loss = f", loss {_num(summary.get('loss'))}" if summary.get("loss") is not None else ""
    if state in ("completed", "stopped"):
        where = f"; saved in {summary['output']}" if summary.get("output") else ""
        return f"{summary['run_id']}: {state} at {step}{loss}{where}."
    return f"{summary['run_id']}: {state} at {step}{loss}."


def follow_and_report(
    args: argparse.Namespace, run: Any, process: Any = None, *, from_now: bool = False
) -> int:
    """Print progress until the run ends; return the exit code for its final state. `from_now` skips what
    the run logged before (a resumed or re-attached run), showing its latest step only."""
    from ftui.commands._output import emit
    from ftui.core.runs import follow

    # With --json the progress goes to stderr, so that stdout holds the JSON alone.
    out = sys.stderr if getattr(args, "json", False) else sys.stdout
    started: tuple[float, int] | None = None
    last_print = 0.0
    pending: dict[str, Any] | None = None
    log_offset = metrics_offset = 0
    if from_now:
        earlier, metrics_offset = run.read_metrics(0)
        log_offset = run.log_path.stat().st_size if run.log_path.exists() else 0
        latest = [r for r in earlier if r.get("kind") == "train"][-1:]
        for record in latest:
            print(progress_line(record, None), file=out, flush=True)
    try:
        for event in follow(run, process=process, log_offset=log_offset, metrics_offset=metrics_offset):
            if event.status and event.status.get("phase"):
                print(f"[{event.status.get('state')}] {event.status['phase']}", file=out, flush=True)
            for record in event.metrics:
                if record.get("kind") not in ("train", "eval"):
                    continue
                now = time.monotonic()
                step = record.get("step") or 0
                if started is None:
                    started = (now, step)
                eta = None
                if step > started[1] and record.get("max_steps"):
                    rate = (now - started[0]) / (step - started[1])
                    eta = rate * (record["max_steps"] - step)
                # At most a line a second (plus every eval): a fast GPU logs many steps a second.
                if record.get("kind") == "eval" or now - last_print >= 1.0 or step == record.get("max_steps"):
                    print(progress_line(record, eta), file=out, flush=True)
                    last_print, pending = now, None
                else:
                    pending = record
        if pending is not None:
            print(progress_line(pending, None), file=out, flush=True)
    except KeyboardInterrupt:
        print(
            f"\nDetached from {run.run_id}; it goes on. `ftui runs {run.run_id} --follow` attaches again, "
            f"`ftui stop {run.run_id}` stops it.",
            file=sys.stderr,
            flush=True,
        )
        return 130
    summary = run.summary()
    emit(args, summary, lambda: final_line(summary))
    if summary.get("state") in ("failed", "oom"):
        print(
            f"ftui: {summary.get('error') or 'the run failed; see train.log.'}", file=sys.stderr, flush=True
        )
        return 1
    return 0
