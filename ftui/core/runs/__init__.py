"""Run directories and the detached training process.

  records    the typed format of status.json, metrics.jsonl and samples.jsonl (the one definition)
  directory  RunDirectory: one run's files, read and written through those records
  process    create, start/resume (one atomic claim), stop, kill, notice a dead process; find runs
  follow     attach to a run: what is new in its log and metrics until it ends
  progress   step, rate, ETA and durations, the same for the CLI and the TUI
  summary    one run in a line, for `ftui runs` and the runs step

Everything here is plain Python (no Textual); the training process imports records and directory too.
"""

from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.follow import FollowEvent, follow, wait_until_final
from ftui.core.runs.process import (
    check_python,
    create_run,
    find_run,
    kill,
    last_step,
    list_runs,
    process_alive,
    resume,
    runs_root,
    start,
    stop,
    trainer_command,
    trainer_environment,
)
from ftui.core.runs.records import FINAL_STATES, LIVE_STATES, STATES, RunStatus, now_iso
from ftui.core.runs.summary import RunSummary, summarize

__all__ = [
    "FINAL_STATES",
    "LIVE_STATES",
    "STATES",
    "FollowEvent",
    "RunDirectory",
    "RunStatus",
    "RunSummary",
    "check_python",
    "create_run",
    "find_run",
    "follow",
    "kill",
    "last_step",
    "list_runs",
    "now_iso",
    "process_alive",
    "resume",
    "runs_root",
    "start",
    "stop",
    "summarize",
    "trainer_command",
    "trainer_environment",
    "wait_until_final",
]
