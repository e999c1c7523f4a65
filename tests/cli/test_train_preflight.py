"""`ftui train` runs the preflight before it makes a run directory: what is refused, and how it says so.

Real `ftui` processes; the model is a folder with a config.json (the preflight sizes it from that) or a
catalog model. Nothing here trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ftui.core.run_config import RunConfig
from ftui.core.runs import create_run, start

GOOD_ROWS = "".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(20))


def ftui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(GOOD_ROWS)
    return path


@pytest.fixture
def small_model(tmp_path):
    folder = tmp_path / "small-llama"
    folder.mkdir()
    dims = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    config = {"model_type": "llama", "num_key_value_heads": 4, "vocab_size": 256, **dims}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def no_runs(runs_dir) -> bool:  # type: ignore[no-untyped-def]
    return not runs_dir.exists() or not list(runs_dir.iterdir())


def test_a_27b_model_on_a_machine_without_a_gpu_is_refused_and_nothing_is_made(data, runs_dir):
    result = ftui("train", "--model", "google/gemma-2-27b", "--data", str(data), "--max-steps", "5")
    assert result.returncode == 1
    assert "a CPU trains only small models" in result.stderr and "27.2B model" in result.stderr
    assert "--force starts it anyway" in result.stderr
    assert "no run directory was made" in result.stderr and "Traceback" not in result.stderr
    assert no_runs(runs_dir)


def test_bad_lines_3_and_4_are_refused_naming_both(small_model, tmp_path, runs_dir):
    lines = GOOD_ROWS.splitlines()
    lines[2], lines[3] = '{"instruction": "x", "output": ""}', '{"instruction": "x",'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    result = ftui("train", "--model", str(small_model), "--data", str(bad), "--max-steps", "5")
    assert result.returncode == 1
    assert "2 of 20 rows cannot be trained on" in result.stderr and "lines 3, 4" in result.stderr
    assert "Line 3 of bad.jsonl" in result.stderr and "Line 4 of bad.jsonl" in result.stderr
    assert "--skip-bad-rows leaves them out" in result.stderr
    assert no_runs(runs_dir)


def test_with_json_the_refusal_is_the_preflight_itself(small_model, data, runs_dir):
    result = ftui(
        "train", "--model", str(small_model), "--data", str(data), "--python", "/nonexistent", "--json"
    )
    assert result.returncode == 1
    payload = json.loads(result.stdout)["preflight"]
    python = next(c for c in payload["checks"] if c["name"] == "python")
    assert payload["ok"] is False and python["verdict"] == "block" and python["override"] is None


def test_python_that_does_not_exist_leaves_no_run_in_starting_or_running(small_model, data, runs_dir):
    result = ftui("train", "--model", str(small_model), "--data", str(data), "--python", "/nonexistent")
    assert result.returncode == 1 and "/nonexistent" in result.stderr and "does not exist" in result.stderr
    assert no_runs(runs_dir)
    # --force does not override it: nothing could start
    forced = ftui(
        "train", "--model", str(small_model), "--data", str(data), "--python", "/nonexistent", "--force"
    )
    assert forced.returncode == 1 and no_runs(runs_dir)


def test_a_model_that_is_not_here_while_offline_is_refused(data, runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = ftui("train", "--model", "no-such-org/no-such-model-xyz", "--data", str(data))
    assert result.returncode == 1
    assert "is not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in result.stderr
    assert no_runs(runs_dir)


def test_resume_of_a_run_whose_start_failed_says_what_to_fix(small_model, data, runs_dir):
    """A start that never got its process (its Python went away) ends failed, not a ghost in starting;
    `ftui resume` names the fix."""
    config = RunConfig(model=str(small_model), data=str(data), python="/nonexistent/python3")
    run = create_run(config, runs_dir)
    with pytest.raises(Exception, match="does not exist"):
        start(run)
    assert run.status().state == "failed" and "/nonexistent/python3" in run.status().error
    runs = json.loads(ftui("runs", "--json").stdout)
    assert [r["state"] for r in runs] == ["failed"]
    result = ftui("resume", run.run_id)
    assert result.returncode == 1
    assert "/nonexistent/python3" in result.stderr and "python = ..." in result.stderr
    assert run.status().state == "failed"
