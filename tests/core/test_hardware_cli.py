"""`ftui probe` as a user runs it: a real process, the real pynvml, this machine's RAM and disk."""

import json
import os
import subprocess
import sys

import psutil
import pytest

from ftui.core.hardware import probe

has_gpu = bool(probe(processes=False).gpus)


def ftui(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "ftui", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.skipif(has_gpu, reason="this machine has an NVIDIA GPU")
def test_probe_json_without_a_driver(tmp_path):
    result = ftui(
        "probe",
        "--json",
        env_extra={"FTUI_RUNS_DIR": str(tmp_path / "runs"), "HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["gpus"] == []
    assert payload["gpu_error"].startswith("No NVIDIA driver found")
    total = psutil.virtual_memory().total
    assert payload["ram_total_bytes"] == total and payload["ram_total_gib"] == round(total / 1024**3, 2)
    assert 0 < payload["ram_available_bytes"] <= total
    disks = {d["purpose"]: d for d in payload["disks"]}
    assert disks["runs"]["path"] == str(tmp_path / "runs")
    assert disks["hf_cache"]["path"] == str(tmp_path / "hf" / "hub")
    assert abs(disks["runs"]["free_bytes"] - psutil.disk_usage(str(tmp_path)).free) < 512 * 1024**2
    assert payload["cpu_threads"] == psutil.cpu_count()


@pytest.mark.skipif(has_gpu, reason="this machine has an NVIDIA GPU")
def test_probe_text_says_why_there_is_no_gpu():
    result = ftui("probe")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("GPUs: none. No NVIDIA driver found")
    assert "RAM: " in result.stdout and "Runs: " in result.stdout and "Traceback" not in result.stderr
