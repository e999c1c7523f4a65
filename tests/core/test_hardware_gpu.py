"""On a machine with an NVIDIA GPU (the H200 of the device machine): the real NVML, no stand-in."""

import json
import os
import subprocess
import sys

import pytest

from ftui.core.hardware import probe, sample_gpus

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not probe(processes=False).gpus, reason="needs an NVIDIA GPU"),
]


def ftui_probe_json(**env_extra):
    env = {**os.environ, **env_extra}
    result = subprocess.run(
        [sys.executable, "-m", "ftui", "probe", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_probe_json_reads_the_real_gpu():
    payload = ftui_probe_json()
    assert payload["gpu_error"] is None and payload["gpus"]
    assert payload["driver_version"] and payload["cuda_version"]
    for gpu in payload["gpus"]:
        assert gpu["name"] and gpu["uuid"].startswith("GPU-")
        assert gpu["memory_total_bytes"] > 8 * 1024**3
        assert 0 <= gpu["memory_used_bytes"] <= gpu["memory_total_bytes"]
        assert gpu["memory_used_bytes"] + gpu["memory_free_bytes"] <= gpu["memory_total_bytes"]
        major, minor = (int(x) for x in gpu["compute_capability"].split("."))
        assert gpu["bf16"] == (major >= 8)
        if "H200" in gpu["name"]:
            assert gpu["compute_capability"] == "9.0" and 135 < gpu["memory_total_gib"] < 145
    print(json.dumps(payload, indent=1))  # kept in the device log for BENCHMARKS.md


def test_cuda_visible_devices_by_uuid_and_hidden():
    everything = ftui_probe_json()
    last = everything["gpus"][-1]
    chosen = ftui_probe_json(CUDA_VISIBLE_DEVICES=last["uuid"])
    assert [(g["index"], g["nvml_index"], g["uuid"]) for g in chosen["gpus"]] == [
        (0, last["nvml_index"], last["uuid"])
    ]
    hidden = ftui_probe_json(CUDA_VISIBLE_DEVICES="")
    assert hidden["gpus"] == [] and "hides every GPU" in hidden["gpu_error"]


def test_samples_are_live():
    import time

    first = sample_gpus()
    started = time.perf_counter()
    for _ in range(20):
        samples = sample_gpus()
    per_call = (time.perf_counter() - started) / 20
    assert samples.gpu_error is None and len(samples.gpus) == len(first.gpus)
    assert all(s.memory_used is not None and s.memory_total > 0 for s in samples.gpus)
    print(
        f"sample_gpus: {per_call * 1000:.2f} ms per call for {len(samples.gpus)} GPU(s)"
    )  # a figure, not a gate
