"""The runner without training: real run directories, real processes standing in for nothing but
themselves (a sleeping Python is a live pid; killing it makes a dead one)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from ftui.core.errors import UserError
from ftui.core.run_config import RunConfig
from ftui.core.runs import RunDirectory, create_run, find_run, list_runs, resume, stop, trainer_command


@pytest.fixture
def run(runs_dir) -> RunDirectory:
    return create_run(RunConfig(model="org/model", data="/d.jsonl", name="My Run!"), runs_dir)


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


def as_running(run: RunDirectory, process: subprocess.Popen) -> None:
    import psutil

    run.update_status(
        state="running",
        pid=process.pid,
        host=socket.gethostname(),
        pid_started=psutil.Process(process.pid).create_time(),
        step=7,
    )


def test_create_run_writes_config_and_starting_status(run, runs_dir):
    assert run.path.parent == runs_dir and run.run_id.endswith("-my-run")
    assert RunConfig.read(run.config_path).model == "org/model"
    assert run.read_status().state == "starting"
    again = create_run(RunConfig(model="org/model", data="/d.jsonl", name="My Run!"), runs_dir)
    assert again.run_id != run.run_id  # same second, same name: still its own folder


def test_a_live_process_stays_running_and_a_dead_one_becomes_failed_with_the_log_tail(run):
    process = sleeper()
    try:
        as_running(run, process)
        run.log_path.write_text("loading\rloaded\n{'loss': 1.2}\nSegmentation fault\n")
        assert run.status().state == "running"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        process.kill()
    status = run.status()
    assert status.state == "failed"
    assert "ended without saving its state" in status.error and "Segmentation fault" in status.error
    assert status.log_tail == ["loaded", "{'loss': 1.2}", "Segmentation fault"]
    assert json.loads(run.status_path.read_text())["state"] == "failed"  # written back


def test_a_zombie_counts_as_dead(run):
    process = sleeper()
    as_running(run, process)
    os.kill(process.pid, signal.SIGKILL)
    import psutil

    # Not reaped: a zombie, as a child of a TUI that has not waited for it.
    while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)
    try:
        assert run.status().state == "failed"
    finally:
        process.wait()


def test_a_recycled_pid_is_not_our_process(run):
    process = sleeper()
    try:
        as_running(run, process)
        run.update_status(pid_started=time.time() - 3600)  # our process started an hour ago
        assert run.status().state == "failed"
    finally:
        process.kill()
        process.wait()


def test_a_run_on_another_host_is_left_alone(run):
    run.update_status(state="running", pid=999999, host="another-host")
    assert run.status().state == "running"


def test_read_metrics_returns_complete_lines_and_resumes_at_the_offset(run):
    with open(run.metrics_path, "w") as f:
        f.write(
            '{"kind": "train", "step": 1}\n{"kind": "train", "step": 2}\n{"kind": "train", "step": 3, "lo'
        )
    records, offset = run.read_metrics(0)
    assert [r.step for r in records] == [1, 2]
    with open(run.metrics_path, "a") as f:
        f.write(
            'ss": 0.5}\nnot json\n{"kind": "from-a-newer-ftui", "step": 9}\n{"kind": "eval", "step": 4, "x": 1}\n'
        )
    records, offset = run.read_metrics(offset)
    assert [(r.step, type(r).__name__) for r in records] == [(3, "TrainRecord"), (4, "EvalRecord")]
    assert records[0].loss == 0.5
    assert run.read_metrics(offset) == ([], offset)


def test_read_log_from_any_offset(run):
    run.log_path.write_bytes("hé\nwörld\n".encode())
    pieces, offset = [], 0
    while True:  # two bytes at a time: every character that spans two reads comes out whole
        text, offset = run.read_log(offset, max_bytes=2)
        if not text and offset == run.log_path.stat().st_size:
            break
        pieces.append(text)
    assert "".join(pieces) == "hé\nwörld\n"
    with open(run.log_path, "ab") as f:
        f.write(b"more\n")
    assert run.read_log(offset) == ("more\n", offset + 5)


def test_find_run_by_id_prefix_part_last_and_path(runs_dir):
    first = create_run(RunConfig(model="a/alpha", data="/d"), runs_dir)
    second = create_run(RunConfig(model="b/beta", data="/d"), runs_dir)
    assert find_run(first.run_id) == first
    assert find_run("beta") == second
    assert find_run("last") == second
    assert find_run(str(first.path)).path == first.path
    assert [r.run_id for r in list_runs()] == sorted([first.run_id, second.run_id])
    with pytest.raises(UserError, match="matches 2 runs"):
        find_run(first.run_id[:8])
    with pytest.raises(UserError, match="No run matches"):
        find_run("gamma")


def test_stop_and_resume_refuse_what_cannot_be_done(run):
    run.update_status(state="completed", pid=None)
    with pytest.raises(UserError, match="not running"):
        stop(run)
    with pytest.raises(UserError, match="already completed"):
        resume(run)
    process = sleeper()
    try:
        as_running(run, process)
        with pytest.raises(UserError, match=f"is running by pid {process.pid}"):
            resume(run)
    finally:
        process.kill()
        process.wait()


def test_several_gpus_launch_under_torchrun(run):
    config = RunConfig(model="m", data="d")
    config.settings.gpus = (0, 1)
    command = trainer_command(config, run)
    # ftui's launcher is torchrun (torch.distributed.run, in process), given torchrun's own flags.
    assert command[1:5] == ["-m", "ftui.trainer.launch", str(run.path), "--node=0"]
    assert command[command.index("--") + 1 :] == ["--standalone", "--nproc-per-node=2", "--max-restarts=0"]
    config.settings.gpus = (1,)
    assert trainer_command(config, run, resume=True)[1:] == ["-m", "ftui.trainer", str(run.path), "--resume"]


def test_a_python_that_does_not_exist_is_refused_before_starting(runs_dir):
    run = create_run(RunConfig(model="m", data="/d.jsonl", python="/no/such/python3"), runs_dir)
    with pytest.raises(UserError, match="/no/such/python3 named in the config does not exist"):
        from ftui.core.runs import start

        start(run)
    status = run.read_status()
    assert status.pid is None  # nothing was started
    assert status.state == "failed" and "does not exist" in status.error  # and no ghost left in "starting"


def test_a_named_python_finds_this_ftui_through_pythonpath():
    from pathlib import Path

    from ftui.core.runs import trainer_environment

    env = trainer_environment(RunConfig(model="m", data="d", python="/opt/unsloth/bin/python"))
    root = Path(__file__).resolve().parents[2]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(root)
    # ftui's own interpreter already imports this ftui: its PYTHONPATH is left as it is.
    assert trainer_environment(RunConfig(model="m", data="d")).get("PYTHONPATH") == os.environ.get(
        "PYTHONPATH"
    )


def test_a_run_that_never_got_a_process_is_failed_after_a_grace_period(run):
    import datetime

    long_ago = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)).isoformat()
    run.update_status(created_at=long_ago)
    status = run.status()
    assert status.state == "failed" and "never started" in status.error and "ftui resume" in status.error
