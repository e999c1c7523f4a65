"""Keeping the runs directory tidy: rename a run (its label), delete a run (its folder); and which runs
are live or have ended, in words, for the app's start-up note and its notices.

A run's id is its folder's name and every path in its status (the adapter, the last checkpoint) lives
under it, so renaming changes the label kept in config.toml (`name`), shown wherever runs are listed,
never the folder. Deleting removes the whole folder, and refuses a run that is still training.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from ftui.core.errors import UserError
from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.summary import RunSummary, summarize
from ftui.core.text import strip_control

MAX_NAME = 80


def check_name(name: str) -> str:
    """The name as it will be kept; UserError when it cannot be one."""
    cleaned = strip_control(name).strip()
    if not cleaned:
        raise UserError("A run's name cannot be empty; type a few words that tell the run apart.")
    if "\n" in cleaned or len(cleaned) > MAX_NAME:
        raise UserError(f"A run's name is one line of at most {MAX_NAME} characters; shorten it.")
    return cleaned


def rename_run(run: RunDirectory, name: str) -> str:
    """Give the run a new label (config.toml's `name`); returns the name kept."""
    name = check_name(name)
    config = run.config()
    try:
        dataclasses.replace(config, name=name).write(run.config_path)
    except OSError as error:
        raise UserError(
            f"Cannot write {run.config_path} ({error.strerror or error}); check the folder's permissions."
        ) from None
    return name


def run_size(run: RunDirectory) -> int:
    """Bytes the run's folder holds (checkpoints and adapters make most of it)."""
    total = 0
    for folder, _dirs, files in os.walk(run.path):
        for file in files:
            try:
                total += os.lstat(os.path.join(folder, file)).st_size
            except OSError:
                continue
    return total


def delete_run(run: RunDirectory) -> None:
    """Remove the run's folder and everything in it. A live run is refused: stop or kill it first."""
    if not run.exists():
        raise UserError(f"{run.path} is not a run folder (it has no config.toml); nothing was deleted.")
    status = run.status()
    if status.is_live:
        raise UserError(
            f"Run {run.run_id} is {status.state}; stop it (`ftui stop {run.run_id}`) before deleting it."
        )
    try:
        shutil.rmtree(run.path)
    except OSError as error:
        raise UserError(
            f"Could not delete all of {run.path} ({error.strerror or error}); remove what is left by hand."
        ) from None


# ----- which runs are live, which ended ---------------------------------------------------------------
def live_runs(runs_dir: str | os.PathLike[str] | None = None) -> list[RunSummary]:
    """Every run still starting or training (a run whose process died is noticed, and is not live)."""
    from ftui.core.runs.process import list_runs

    found = []
    for run in list_runs(runs_dir):
        status = run.status()
        if status.is_live:
            found.append(summarize(run, status))
    return found


def ended_runs(paths: list[Path]) -> list[RunSummary]:
    """Of these run folders, the runs that have ended (completed, failed, stopped, out of memory)."""
    ended = []
    for path in paths:
        run = RunDirectory(path)
        status = run.status()
        if status.is_final:
            ended.append(summarize(run, status))
    return ended


def _at_step(summary: RunSummary) -> str:
    if summary.step is None:
        return "before its first step"
    return f"at step {summary.step}/{summary.max_steps}" if summary.max_steps else f"at step {summary.step}"


def live_words(summaries: list[RunSummary]) -> str:
    """'2 runs are still training: a (step 12/60), b (starting).'"""
    parts = []
    for s in summaries:
        where = s.state if s.step is None else f"step {s.step}/{s.max_steps or '?'}"
        parts.append(f"{s.name or s.run_id} ({where})")
    verb = "run is" if len(summaries) == 1 else "runs are"
    return f"{len(summaries)} {verb} still training: {', '.join(parts)}."


def ended_words(summary: RunSummary) -> str:
    """One sentence on how a run ended, with what to do next."""
    name = summary.name or summary.run_id
    loss = f", loss {summary.loss:.4f}" if summary.loss is not None else ""
    if summary.state == "completed":
        saved = f"; saved in {summary.output}" if summary.output else ""
        return f"Run {name} completed {_at_step(summary)}{loss}{saved}."
    if summary.state == "stopped":
        return f"Run {name} stopped {_at_step(summary)}{loss}; r on the train step resumes it."
    why = f" {summary.error}" if summary.error else ""
    return f"Run {name} {'ran out of GPU memory' if summary.state == 'oom' else 'failed'} {_at_step(summary)}.{why}"
