"""Renaming and deleting runs: real run folders, a real process for a live run."""

import socket
import subprocess
import sys

import pytest

from ftui.core.errors import UserError
from ftui.core.run_config import RunConfig
from ftui.core.runs import RunDirectory, create_run, summarize
from ftui.core.runs.manage import delete_run, rename_run, run_size


@pytest.fixture
def run(runs_dir) -> RunDirectory:
    made = create_run(RunConfig(model="org/model", data="/d.jsonl", name="first try"), runs_dir)
    made.update_status(state="completed")
    return made


def test_rename_keeps_the_folder_and_every_setting_and_changes_the_label(run):
    before = run.config()
    assert rename_run(run, "  base model, 3 epochs \x1b[31m ") == "base model, 3 epochs"
    after = run.config()
    assert after.name == "base model, 3 epochs" and run.path.is_dir()
    assert (after.model, after.data, after.settings) == (before.model, before.data, before.settings)
    assert summarize(run).name == "base model, 3 epochs"


@pytest.mark.parametrize("bad", ["", "   ", "x" * 81, "two\nlines"])
def test_a_name_that_cannot_be_one_is_refused_and_nothing_changes(run, bad):
    with pytest.raises(UserError):
        rename_run(run, bad)
    assert run.config().name == "first try"


def test_delete_removes_the_folder(run):
    (run.path / "adapter").mkdir()
    (run.path / "adapter" / "weights.bin").write_bytes(b"x" * 5000)
    assert run_size(run) > 5000
    delete_run(run)
    assert not run.path.exists()


def test_a_live_run_is_not_deleted(run):
    import psutil

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        run.update_status(
            state="running",
            pid=process.pid,
            host=socket.gethostname(),
            pid_started=psutil.Process(process.pid).create_time(),
        )
        with pytest.raises(UserError, match="stop it"):
            delete_run(run)
        assert run.config_path.is_file()
    finally:
        process.kill()
        process.wait()


def test_a_folder_that_is_not_a_run_is_not_deleted(tmp_path):
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("...")
    with pytest.raises(UserError, match="not a run folder"):
        delete_run(RunDirectory(folder))
    assert (folder / "thesis.tex").is_file()
