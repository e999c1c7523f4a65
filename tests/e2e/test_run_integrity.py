"""The races of tests/core/test_run_integrity.py with the real trainer: however many resumes race, one
training process trains the run, and the others are told who won."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil
import pytest

from ftui.core.runs import find_run
from tests.e2e.test_train import FAST, data, ftui, tiny_model, wait_for  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def trainers_of(run) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = process.info["cmdline"] or []
        if "ftui.trainer" in line and str(run.path) in line:
            found.append(process)
    return found


def test_racing_resumes_leave_exactly_one_trainer(tiny_model, data, runs_dir):  # noqa: F811
    started = ftui(
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(data),
        *FAST,
        "--max-steps",
        "400",
        "--detach",
        "--json",
    )
    assert started.returncode == 0, started.stderr
    run = find_run(json.loads(started.stdout)["run_id"])
    wait_for(lambda: run.trainer_holder() is not None, what="the trainer to take its lock")
    killed = ftui("kill", run.run_id)
    assert killed.returncode == 0, killed.stderr
    wait_for(lambda: not trainers_of(run), what="the killed trainer to be gone")

    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "ftui", "resume", run.run_id, "--detach"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in racers]
    try:
        assert sorted(code for code, _ in results) == [0, 1, 1], results
        pid = run.read_status().pid
        assert all(f"is being started by pid {pid}" in err for code, err in results if code)
        wait_for(lambda: run.trainer_holder() is not None, what="the one trainer to take its lock")
        assert [p.pid for p in trainers_of(run) if p.ppid() != p.pid] and len(trainers_of(run)) == 1
        # A trainer started around ftui (the same command line by hand) refuses to touch the run.
        rogue = subprocess.run(
            [sys.executable, "-m", "ftui.trainer", str(run.path), "--resume"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=run.path,
        )
        assert rogue.returncode == 1 and "already running" in rogue.stderr
        assert run.read_status().pid == pid  # and left the status alone
    finally:
        status = run.read_status()
        if status.pid:
            try:
                os.killpg(status.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
