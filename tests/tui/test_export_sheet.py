"""The export sheet of the runs step (e): the size and the free space before it starts, Enter starts the
real exporter process on the tiny model trained in this session, the sheet follows its record live and
shows the verification table; refusals are one sentence in the sheet."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ftui.core.exports import read_record
from tests.helpers.environments import python_without
from tests.helpers.finished_run import copy_run
from tests.tui.conftest import (
    PROCESS_GUARD_S,
    ROOT,
    wait_for_text,
    wait_until,
    write_finished_run,
    write_run,
)

needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)


async def open_sheet(app, pilot):  # type: ignore[no-untyped-def]
    from ftui.screens.export_sheet import ExportSheet

    table = app.screen.query_one("#runs-table")
    await wait_until(pilot, lambda: table.row_count >= 1, "the run in the runs table")
    await pilot.press("x")
    await wait_until(pilot, lambda: isinstance(app.screen, ExportSheet), "the export sheet")
    return app.screen


def export_records(run: Path) -> list[dict]:
    return [read_record(p) for p in sorted((run / "exports").glob("*.json"))]


@pytest.mark.slow
async def test_a_merged_export_from_the_sheet_runs_live_and_shows_its_verification(
    make_app, finished_run, tmp_path
):
    run = copy_run(finished_run, tmp_path / "runs")
    app = make_app(gpus=0, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        sheet = await open_sheet(app, pilot)
        # Before anything starts: the size on disk, the free space there, where it goes, the base weights.
        size = await wait_for_text(app, pilot, "#export-size", "Enter starts the export")
        assert "on disk" in size and "GiB in " in size and str(run / "exports" / "merged") in size
        assert "16-bit weights from the folder" in size
        assert not (run / "exports").exists()  # sizing writes nothing

        await pilot.press("enter")
        view = sheet.query_one("#export-view")
        record = await wait_for_text(app, pilot, "#export-record", "completed", timeout=PROCESS_GUARD_S)
        assert "merging the adapter into the 16-bit weights" in record  # the phases, with their times
        assert "Done  written to" in record and str(run / "exports" / "merged") in record
        assert "Verification:" in record and "Merged" in record and "of the adapter's tokens" in record
        assert view.has_focus  # arrows scroll the table

        (written,) = export_records(run)
        assert (
            written["state"] == "completed" and (run / "exports" / "merged" / "model.safetensors").is_file()
        )
        assert len(written["verification"]["rows"]) == 3

        # Esc closes; x again: the folder is taken now (one sentence), and l shows the export just made.
        await pilot.press("escape")
        sheet = await open_sheet(app, pilot)
        taken = await wait_for_text(app, pilot, "#export-size", "already exists and is not empty")
        assert str(run / "exports" / "merged") in taken
        assert sheet.check_action("start", ()) is None  # shown, dimmed: there is nothing to start
        await pilot.press("l")
        shown = await wait_for_text(app, pilot, "#export-record", "Verification:")
        assert written["export_id"] in shown


@pytest.mark.slow
async def test_an_export_killed_half_way_is_shown_failed(make_app, finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "runs")
    app = make_app(gpus=0, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_sheet(app, pilot)
        await wait_for_text(app, pilot, "#export-size", "Enter starts the export")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: any("merging" in (r.get("phase") or "") for r in export_records(run)),
            "the export merging",
            timeout=PROCESS_GUARD_S,
        )
        await wait_for_text(app, pilot, "#export-record", "merging")  # followed live
        (record,) = export_records(run)
        os.killpg(record["pid"], signal.SIGKILL)
        shown = await wait_for_text(app, pilot, "#export-record", "failed", timeout=PROCESS_GUARD_S)
        assert "ended before finishing" in shown
        assert not (run / "exports" / "merged").exists()


@needs_llama_cpp
@pytest.mark.slow
async def test_a_gguf_export_from_the_sheet_shows_the_gguf_answers(make_app, finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "runs")
    app = make_app(gpus=0, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        sheet = await open_sheet(app, pilot)
        await wait_for_text(app, pilot, "#export-size", "Enter starts the export")
        await pilot.press("right")  # merged -> gguf
        assert sheet.query_one("#export-quant").display  # the llama.cpp type appears for GGUF only
        size = await wait_for_text(app, pilot, "#export-size", "while it is written")
        assert str(run / "exports" / "gguf-q8_0") in size
        await pilot.press("enter")
        record = await wait_for_text(app, pilot, "#export-record", "completed", timeout=PROCESS_GUARD_S)
        assert "converting to GGUF (q8_0) with llama.cpp's converter" in record
        assert "GGUF" in record and "ollama create NAME -f Modelfile" in record
        (written,) = export_records(run)
        assert written["gguf_file"].endswith("-q8_0.gguf")


async def test_a_run_that_is_not_finished_is_refused_in_one_sentence(make_app, tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "20260105-100000-failed", state="failed")
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        sheet = await open_sheet(app, pilot)
        said = await wait_for_text(app, pilot, "#export-size", "so there is no finished model to export")
        assert "Run 20260105-100000-failed ended failed" in said
        assert not sheet.query_one("#export-grid").display  # no form for a run that cannot be exported
        assert sheet.check_action("start", ()) is None
        await pilot.press("escape")
        assert app.current_step == "runs"


async def test_a_running_run_is_refused(make_app, tmp_path):
    write_run(tmp_path / "runs", "20260105-100000-live", state="running", pid=os.getpid())
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sheet(app, pilot)
        said = await wait_for_text(app, pilot, "#export-size", "is still running")
        assert "there is no finished model to export; wait for it" in said


async def test_the_folder_typed_is_sized_and_checked(make_app, tmp_path):
    runs = tmp_path / "runs"
    write_finished_run(runs, "20260105-100000-qwen3-8b", adapter_bytes=3 * 1024**2)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        sheet = await open_sheet(app, pilot)
        await wait_until(pilot, lambda: sheet.opened is not None, "the run read")
        await pilot.press("left")  # merged -> adapter
        size = await wait_for_text(app, pilot, "#export-size", "Enter starts the export")
        assert "about 3.0 MiB on disk" in size
        assert str(runs / "20260105-100000-qwen3-8b" / "exports" / "adapter") in size
        assert not sheet.query_one("#export-base").display  # no base weights for an adapter
        field = sheet.query_one("#export-out")
        field.focus()
        field.value = str(busy)
        said = await wait_for_text(app, pilot, "#export-size", "already exists and is not empty")
        assert str(busy) in said
        field.value = str(tmp_path / "elsewhere" / "adapter")
        size = await wait_for_text(app, pilot, "#export-size", "Enter starts the export")
        assert str(tmp_path / "elsewhere" / "adapter") in size
        assert not (tmp_path / "elsewhere").exists()  # sizing a folder never creates it


def _probe(runs: Path, run_id: str, fmt: str, folder: str = "", *, env: dict, mount: str = "", python=None):  # type: ignore[no-untyped-def]
    """tests/tui/sheet_probe.py in a process of its own; with `mount` (tmpfs options), in a private mount
    namespace with a fresh tmpfs at $MNT, where FOLDER may point (a real small or read-only disk)."""
    probe = [
        str(python or sys.executable),
        "-m",
        "tests.tui.sheet_probe",
        str(runs),
        run_id,
        fmt,
        *([folder] if folder else []),
    ]
    if mount:
        if shutil.which("unshare") is None:
            pytest.skip("unshare (util-linux) is not installed")
        script = 'mnt=$(mktemp -d) && mount -t tmpfs -o "$1" tmpfs "$mnt" && export MNT="$mnt" && shift && exec "$@"'
        probe = ["unshare", "-rm", "sh", "-c", script, "sh", mount, *probe]
    path = os.pathsep.join(p for p in (str(ROOT), env.pop("PYTHONPATH", os.environ.get("PYTHONPATH"))) if p)
    return subprocess.run(
        probe,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": path},
    )


def test_no_room_on_the_disk_is_refused_before_anything_is_written(tmp_path):
    runs = tmp_path / "runs"
    write_finished_run(runs, "20260105-100000-qwen3-8b", adapter_bytes=6 * 1024**2)
    # A real 4 MiB filesystem: the folder typed is on it ($MNT is expanded by the probe).
    result = _probe(runs, "20260105-100000-qwen3-8b", "adapter", "$MNT/adapter", env={}, mount="size=4m")
    assert result.returncode == 0, result.stderr[-3000:]
    said = " ".join(result.stdout.split())
    assert "export needs about" in said and "only 4.0 MiB is free; free some space" in said
    assert "Size about 6.0 MiB on disk" in said  # the size and the free space are shown with the refusal


def test_a_read_only_folder_is_refused_before_anything_is_written(tmp_path):
    runs = tmp_path / "runs"
    write_finished_run(runs, "20260105-100000-qwen3-8b")
    # A real read-only filesystem: the folder typed is on it.
    result = _probe(runs, "20260105-100000-qwen3-8b", "adapter", "$MNT/adapter", env={}, mount="ro,size=4m")
    assert result.returncode == 0, result.stderr[-3000:]
    said = " ".join(result.stdout.split())
    assert "Cannot write the export in " in said and "(Read-only file system); pass --out DIR" in said
    assert "Enter starts" not in said


def test_gguf_without_llama_cpp_is_refused_in_one_sentence(tmp_path):
    runs = tmp_path / "runs"
    write_finished_run(runs, "20260105-100000-qwen3-8b")
    # The app as installed without the export extra: a real environment with every package but llama.cpp's.
    python = python_without(tmp_path / "venv", "llama_cpp*")
    check = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('llama_cpp') is None)"],
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "True", check.stderr
    result = _probe(runs, "20260105-100000-qwen3-8b", "gguf", env={"PYTHONPATH": ""}, python=python)
    assert result.returncode == 0, result.stderr[-3000:]
    said = " ".join(result.stdout.split())
    assert "GGUF export needs llama.cpp's tools (llama-cpp-python), which are not installed here" in said
    assert "Enter starts" not in said
