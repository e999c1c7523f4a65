"""Run integrity against a hostile environment: damaged run folders, racing starts, tokens in logs,
escape sequences, special files. Real files, real processes, the real `ftui` command; no trainer (the
same races with the real trainer are in tests/e2e/test_run_integrity.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftui.core.errors import UserError
from ftui.core.run_config import RunConfig
from ftui.core.runs import STATES, create_run, find_run, kill, resume, stop, summarize
from ftui.core.runs.records import SummaryRecord, TrainRecord

FAKE_TOKEN = "hf_" + "Z" * 34


def ftui(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def one_sentence(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("ftui: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.fixture
def run(runs_dir):
    return create_run(RunConfig(model="org/model", data="/d.jsonl", name="integrity"), runs_dir)


def finish(run, steps: int = 60) -> None:
    """What a run that trained to its end leaves beside status.json: its records and its summary."""
    for step in range(1, steps + 1):
        run.append_record(TrainRecord(time=float(step), step=step, max_steps=steps, loss=1.0))
    run.append_record(SummaryRecord(time=99.0, step=steps, max_steps=steps, train_loss=1.0))
    run.adapter_dir.mkdir()


DAMAGE = {
    "truncated": b'{"state": "completed", "step": 6',
    "garbage": b"\x00\xff not json at all",
    "empty": b"",
    "null": b"null",
    "a list": b'["completed"]',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "an unknown state": b'{"state": "exploded", "step": 60}',
    "wrong types": b'{"state": "completed", "step": "sixty"}',
}


@pytest.mark.parametrize("damage", [*DAMAGE, "deleted"])
def test_a_damaged_status_never_reopens_a_finished_run(run, damage):
    finish(run)
    if damage == "deleted":
        run.status_path.unlink()
    else:
        run.status_path.write_bytes(DAMAGE[damage])
    status = run.status()
    assert status.state == "completed" and "the run finished" in status.warnings[0]
    with pytest.raises(UserError, match="already completed .*summary at the final step"):
        resume(run)
    listed = ftui("runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [entry["state"] for entry in json.loads(listed.stdout)] == ["completed"]


@pytest.mark.parametrize("damage", [*DAMAGE, "deleted"])
def test_a_damaged_status_of_an_unfinished_run_is_failed_with_what_to_do(run, damage):
    run.append_record(TrainRecord(time=1.0, step=1, max_steps=60, loss=1.0))
    os.utime(run.config_path, (time.time() - 3600, time.time() - 3600))  # made an hour ago, not just now
    if damage == "deleted":
        run.status_path.unlink()
    else:
        run.status_path.write_bytes(DAMAGE[damage])
    status = run.status()
    assert status.state == "failed"
    assert "no trainer is running" in status.error and f"ftui resume {run.run_id}" in status.error
    shown = ftui("runs", run.run_id)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr


def test_a_stopped_run_is_not_mistaken_for_a_finished_one(run):
    run.append_record(TrainRecord(time=1.0, step=20, max_steps=60, loss=1.0))
    run.append_record(SummaryRecord(time=2.0, step=20, max_steps=60))  # the Trainer's summary when stopped
    assert run.finished() is None


def holder(run) -> subprocess.Popen:
    """A process that holds the run's trainer.lock as the training process does."""
    code = (
        "import fcntl, sys, time\n"
        f"f = open({str(run.trainer_lock_path)!r}, 'a+b')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "f.seek(0); f.truncate(); f.write(str(__import__('os').getpid()).encode()); f.flush()\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_trainer_that_holds_the_lock_is_running_even_with_status_json_gone(run):
    process = holder(run)
    try:
        run.status_path.unlink()
        assert run.status().state == "running"
        assert run.trainer_holder() == process.pid
        with pytest.raises(UserError, match=f"is running by pid {process.pid}"):
            resume(run)
        status = kill(run)  # reaches the process that holds the lock, though status.json never named it
        assert status.state == "failed" and "Killed with `ftui kill`" in status.error
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert run.trainer_holder() is None


def test_kill_and_stop_of_a_run_that_is_not_running_say_so_and_kill_nothing(run):
    run.status_path.unlink()
    os.utime(run.config_path, (time.time() - 3600, time.time() - 3600))
    killed = ftui("kill", run.run_id)
    assert killed.returncode == 1 and "is not running (it failed" in one_sentence(killed)
    started = time.monotonic()
    stopped = ftui("stop", run.run_id)
    assert stopped.returncode == 1 and "nothing to stop" in one_sentence(stopped)
    assert time.monotonic() - started < 60  # it does not claim to have waited 600 s, nor wait


@pytest.fixture
def sleepy_python(tmp_path) -> Path:
    """An interpreter for the run's config that starts and stays, standing for the trainer's process:
    the claim on the run is under test here, not training."""
    path = tmp_path / "python-that-sleeps"
    # It keeps its arguments (the run folder among them), so the test can count the processes of the run.
    path.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import time; time.sleep(60)' \"$@\"\n")
    path.chmod(0o755)
    return path


def test_concurrent_resumes_start_exactly_one_process(runs_dir, sleepy_python):
    run = create_run(RunConfig(model="org/model", data="/d.jsonl", python=str(sleepy_python)), runs_dir)
    run.update_status(state="failed", error="killed")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ftui", "resume", run.run_id, "--detach"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    try:
        winners = [r for r in results if r[0] == 0]
        losers = [r for r in results if r[0] != 0]
        assert len(winners) == 1, results
        pid = run.read_status().pid
        for code, _, err in losers:
            assert code == 1 and f"is being started by pid {pid}" in err and "Traceback" not in err
        import psutil

        sleeping = [
            p for p in psutil.process_iter(["cmdline"]) if str(run.path) in " ".join(p.info["cmdline"] or [])
        ]
        assert [p.pid for p in sleeping] == [pid]
    finally:
        status = run.read_status()
        if status.pid:
            try:
                os.killpg(status.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_relative_runs_directory_is_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = create_run(RunConfig(model="org/model", data="/d.jsonl"), "relative/runs")
    assert run.path.is_absolute() and run.path.parent == tmp_path / "relative" / "runs"
    assert find_run(run.run_id, "relative/runs") == run


def test_the_hf_token_is_masked_in_every_reader(run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    # Printed by something below Python, and the trainer killed before its last scrub of the log.
    run.log_path.write_text(f"curl -H 'Authorization: Bearer {FAKE_TOKEN}'\nloading\n")
    run.update_status(state="failed", error=f"died saying {FAKE_TOKEN}", log_tail=[f"token {FAKE_TOKEN}"])
    for args in (("runs", run.run_id, "--log", "5"), ("runs", run.run_id, "--log", "5", "--json"), ("runs",)):
        result = ftui(*args, env={"HF_TOKEN": FAKE_TOKEN})
        assert result.returncode == 0 and FAKE_TOKEN not in result.stdout + result.stderr
        assert "hf_***" in result.stdout
    assert FAKE_TOKEN not in "".join(run.log_tail(10)) and FAKE_TOKEN not in run.read_status().error
    text, _ = run.read_log(0)
    assert FAKE_TOKEN not in text


def test_half_a_token_at_the_end_of_the_log_waits_for_the_rest(run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    run.log_path.write_text("step 1\n" + FAKE_TOKEN[:20])
    text, offset = run.read_log(0)
    assert text == "step 1\n"
    with open(run.log_path, "a") as handle:
        handle.write(FAKE_TOKEN[20:] + " done\n")
    rest, _ = run.read_log(offset)
    assert rest == "hf_*** done\n"


def test_escape_sequences_never_reach_the_terminal(run, tmp_path):
    evil = "\x1b]0;PWNED\x07\x1b[2J\u202eevil"
    run.log_path.write_text(f"line {evil}\n")
    shown = ftui("runs", run.run_id, "--log", "5")
    assert shown.returncode == 0 and "\x1b" not in shown.stdout and "\u202e" not in shown.stdout
    assert "line evil" in shown.stdout
    data = tmp_path / "evil.jsonl"
    data.write_text(json.dumps({"instruction": f"say {evil}", "output": "ok"}) + "\n")
    inspected = ftui("inspect", str(data), "--template", "alpaca", "--preview", "1")
    assert inspected.returncode == 0, inspected.stderr
    assert (
        "\x1b" not in inspected.stdout and "\u202e" not in inspected.stdout and "say evil" in inspected.stdout
    )
    as_json = ftui("inspect", str(data), "--template", "alpaca", "--preview", "1", "--json")
    assert evil in json.loads(as_json.stdout)["preview"][0]  # JSON keeps the data exact


def test_special_files_are_refused_instead_of_read_forever(tmp_path, runs_dir):
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)
    for args in (
        ("inspect", str(fifo)),
        ("train", "--model", "org/model", "--data", str(fifo), "--detach"),
        ("train", str(fifo)),
        ("inspect", "/dev/zero"),
    ):
        result = ftui(*args)
        assert result.returncode == 1 and "not a regular file" in one_sentence(result), args
    assert not runs_dir.exists() or not list(runs_dir.iterdir())  # no run folder was made


def mount_read_only(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


def test_a_read_only_runs_directory_is_one_sentence(tmp_path, sleepy_python):
    writable = tmp_path / "runs"
    run = create_run(RunConfig(model="org/model", data="/d.jsonl", python=str(sleepy_python)), writable)
    run.update_status(state="failed", error="killed")
    read_only = tmp_path / "ro"
    if not mount_read_only(read_only):
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        trained = ftui(
            "train", "--model", "org/model", "--data", str(tmp_path), "--runs-dir", str(read_only / "runs")
        )
        assert trained.returncode == 1 and "Cannot create the runs directory" in one_sentence(trained)
        subprocess.run(["mount", "-o", "remount,ro", "--bind", str(writable), str(writable)], check=False)
        bound = subprocess.run(["mount", "--bind", str(writable), str(writable)], capture_output=True)
        remounted = subprocess.run(["mount", "-o", "remount,ro,bind", str(writable)], capture_output=True)
        if bound.returncode or remounted.returncode:
            pytest.skip("cannot bind-mount the runs folder read-only here")
        resumed = ftui("resume", run.run_id, "--detach", "--runs-dir", str(writable))
        assert resumed.returncode == 1 and "Cannot write" in one_sentence(resumed)
    finally:
        subprocess.run(["umount", str(writable)], capture_output=True)
        subprocess.run(["umount", str(read_only)], capture_output=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(max_size=300)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda kids: (
            st.lists(kids, max_size=3)
            | st.dictionaries(
                st.sampled_from(["state", "step", "pid", "error", "warnings", "max_steps", "x"]),
                kids,
                max_size=4,
            )
        ),
        max_leaves=12,
    ).map(lambda v: json.dumps(v).encode())
)
def test_any_status_json_reads_as_a_state(run, content):
    run.status_path.write_bytes(content)
    summary = summarize(run)
    assert summary.state in STATES


def test_a_dataset_changed_before_a_resume_is_said(runs_dir, tmp_path, sleepy_python):
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "a", "output": "b"}\n')
    run = create_run(RunConfig(model="org/model", data=str(data), python=str(sleepy_python)), runs_dir)
    first = ftui("resume", run.run_id, "--detach")  # a run that never started can be started this way
    assert first.returncode == 0, first.stderr
    os.killpg(run.read_status().pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while run.status().state != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    data.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": "d"}\n')
    again = ftui("resume", run.run_id, "--detach")
    try:
        assert again.returncode == 0, again.stderr
        assert "warning: The dataset" in again.stderr and "changed since the run started" in again.stderr
    finally:
        os.killpg(run.read_status().pid, signal.SIGKILL)


def test_stop_of_a_run_whose_process_is_gone_does_not_wait(run):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    run.update_status(state="running", pid=process.pid)
    with pytest.raises(UserError, match="is not running"):
        stop(run, wait=600)


def test_readme_documents_every_field_of_the_run_directory():
    import msgspec

    from ftui.core.runs.records import EvalRecord, ResumeRecord, RunStatus, Sample, SummaryRecord
    from ftui.core.runs.summary import RunSummary

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for kind in (RunStatus, TrainRecord, EvalRecord, ResumeRecord, SummaryRecord, Sample, RunSummary):
        for name in msgspec.structs.fields(kind):
            assert f"`{name.name}`" in readme, f"README does not document {kind.__name__}.{name.name}"
