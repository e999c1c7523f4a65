"""Keeping the runs directory tidy: rename a run (its label), delete a run (its folder).

A run's id is its folder's name and every path in its status (the adapter, the last checkpoint) lives
under it, so renaming changes the label kept in config.toml (`name`), shown wherever runs are listed,
never the folder. Deleting removes the whole folder, and refuses a run that is still training.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

from ftui.core.errors import UserError
from ftui.core.runs.directory import RunDirectory
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
