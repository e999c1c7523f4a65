"""The preflight against real files, real processes and the probe reading the stand-in NVML (the one fake:
there is no GPU here). The Hub is a real TCP listener on this machine where a test needs one reachable."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time

import pytest

from ftui.core.hardware import probe
from ftui.core.plan import GpuChoice, TrainingSettings
from ftui.core.preflight import lines_words, preflight
from ftui.core.run_config import RunConfig
from ftui.core.runs import create_run
from tests.fakes.nvml import FakeNvml, h200

GOOD_ROWS = "".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(40))


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(GOOD_ROWS)
    return path


@pytest.fixture
def small_model(tmp_path):
    folder = tmp_path / "small-llama"
    folder.mkdir()
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "vocab_size": 256,
        "max_position_embeddings": 512,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def machine(gpus: int, runs_dir):  # type: ignore[no-untyped-def]
    import pynvml

    nvml = (
        FakeNvml([h200(i) for i in range(gpus)])
        if gpus
        else FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    )
    return probe(nvml, runs_dir=runs_dir, processes=False)


def check(result, name):  # type: ignore[no-untyped-def]
    return next(c for c in result.checks if c.name == name)


def test_a_small_local_model_on_a_gpu_with_clean_data_is_ready(small_model, data, runs_dir):
    result = preflight(RunConfig(model=str(small_model), data=str(data)), hardware=machine(1, runs_dir))
    assert result.ok, [c.sentence for c in result.checks]
    assert check(result, "where").sentence == "Trains here, on GPU 0 NVIDIA H200."
    assert "fits" in check(result, "memory").sentence
    assert check(result, "model").sentence.startswith("Loads the local folder")
    assert check(result, "data").sentence == "Every one of the 40 rows converts."
    assert result.seconds < 2.0  # offline: no Hub round trip


def test_a_big_model_on_a_machine_without_a_gpu_is_refused_with_its_time(data, runs_dir):
    config = RunConfig(model="google/gemma-2-27b", data=str(data))
    result = preflight(config, hardware=machine(0, runs_dir))
    cpu = check(result, "cpu")
    assert cpu.verdict == "block" and cpu.override == "force"
    assert (
        "27.2B model" in cpu.sentence and "would take about" in cpu.sentence and "GiB of RAM" in cpu.sentence
    )
    assert check(result, "where").sentence.startswith("Trains on this machine's CPU")
    assert cpu in result.blocking() and cpu not in result.blocking(force=True)
    assert result.seconds < 2.0


def test_a_small_model_on_a_cpu_is_allowed_with_its_time(small_model, data, runs_dir):
    result = preflight(RunConfig(model=str(small_model), data=str(data)), hardware=machine(0, runs_dir))
    cpu = check(result, "cpu")
    assert cpu.verdict == "warn" and "on this CPU" in cpu.sentence and result.ok


def test_a_plan_made_for_a_rented_card_is_named(small_model, data, runs_dir):
    rented = GpuChoice("A100 80GB", 80.0, True, detected=False)
    result = preflight(
        RunConfig(model=str(small_model), data=str(data)), hardware=machine(1, runs_dir), plan_gpu=rented
    )
    where = check(result, "where")
    assert where.verdict == "warn" and "made for the A100 80GB (a card to rent)" in where.sentence
    assert "GPU 0 NVIDIA H200" in where.sentence


def test_a_run_too_big_for_the_gpu_is_blocked_and_can_be_forced(data, runs_dir):
    settings = TrainingSettings(method="full")
    config = RunConfig(model="meta-llama/Llama-3.1-70B", data=str(data), settings=settings)
    result = preflight(config, hardware=machine(1, runs_dir))
    memory = check(result, "memory")
    assert memory.verdict == "block" and "does not fit" in memory.sentence and memory.override == "force"


def test_a_missing_python_blocks_and_cannot_be_forced(small_model, data, runs_dir):
    config = RunConfig(model=str(small_model), data=str(data), python="/nonexistent/python3")
    result = preflight(config, hardware=machine(1, runs_dir))
    python = check(result, "python")
    assert python.verdict == "block" and python.override is None
    assert python in result.blocking(force=True, skip_bad_rows=True)


def test_every_bad_row_is_listed_and_blocks_unless_skipped(small_model, tmp_path, runs_dir):
    path = tmp_path / "bad.jsonl"
    lines = GOOD_ROWS.splitlines()
    lines[2] = '{"instruction": "x", "output": ""}'
    lines[3] = '{"instruction": "x",'
    lines[9] = "not json"
    path.write_text("\n".join(lines) + "\n")
    config = RunConfig(model=str(small_model), data=str(path))
    result = preflight(config, hardware=machine(1, runs_dir))
    data = check(result, "data")
    assert data.verdict == "block" and data.override == "skip_bad_rows"
    assert "3 of 40 rows cannot be trained on" in data.sentence and "lines 3, 4, 10" in data.sentence
    assert [d.split(":")[0] for d in data.details] == [
        "Line 3 of bad.jsonl",
        "Line 4 of bad.jsonl",
        "Line 10 of bad.jsonl",
    ]
    assert result.blocking(skip_bad_rows=True) == []
    skipping = dataclasses.replace(config, settings=TrainingSettings(skip_bad_rows=True))
    assert check(preflight(skipping, hardware=machine(1, runs_dir)), "data").verdict == "warn"


def test_lines_are_listed_as_ranges():
    assert lines_words([3, 4]) == "3, 4"
    assert lines_words([3, 4, 5, 9]) == "3-5, 9"
    assert lines_words(list(range(1, 200, 2)), limit=3) == "1, 3, 5 and 97 more ranges"


def test_a_hub_model_not_cached_while_offline_is_blocked(data, runs_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = preflight(RunConfig(model="Qwen/Qwen3-8B", data=str(data)), hardware=machine(1, runs_dir))
    model = check(result, "model")
    assert model.verdict == "block" and "HF_HUB_OFFLINE is set" in model.sentence


@pytest.fixture
def reachable_hub(monkeypatch, tmp_path):
    """A real listener standing where the Hub would be: reachable, though it answers nothing."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    yield
    server.close()


def test_a_gated_model_without_a_token_is_blocked(data, runs_dir, reachable_hub, monkeypatch):
    config = RunConfig(model="meta-llama/Llama-3.1-8B", data=str(data), repo="meta-llama/Llama-3.1-8B")
    model = check(preflight(config, hardware=machine(1, runs_dir)), "model")
    assert model.verdict == "block" and "gated" in model.sentence and "hf auth login" in model.sentence
    monkeypatch.setenv("HF_TOKEN", "hf_" + "Q" * 34)
    model = check(preflight(config, hardware=machine(1, runs_dir)), "model")
    assert "gated" not in model.sentence and "hf_" not in model.sentence  # the token is found, never shown
    # past the token the check sizes the download against this machine's free disk (15 GiB for the 8B in
    # 16 bits), which the test does not control: either verdict is that check's own
    assert model.verdict == "ok" or "GiB free" in model.sentence


def test_a_download_is_sized_against_the_free_disk(data, runs_dir, reachable_hub):
    config = RunConfig(model="Qwen/Qwen3-8B", data=str(data), repo="unsloth/Qwen3-8B-unsloth-bnb-4bit")
    model = check(preflight(config, hardware=machine(1, runs_dir)), "model")
    assert model.verdict == "ok" and "downloads it from the Hub, about 5." in model.sentence
    assert "GiB free" in model.sentence


def test_another_live_run_on_the_same_gpu_is_named(small_model, data, runs_dir):
    import psutil

    other = create_run(RunConfig(model=str(small_model), data=str(data), name="other"), runs_dir)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        other.update_status(
            state="running",
            pid=process.pid,
            host=socket.gethostname(),
            pid_started=psutil.Process(process.pid).create_time(),
            peak_gpu_gib=31.5,
        )
        started = time.perf_counter()
        result = preflight(
            RunConfig(model=str(small_model), data=str(data)),
            hardware=machine(1, runs_dir),
            runs_dir=runs_dir,
        )
        others = check(result, "others")
        assert others.verdict == "warn" and other.run_id in others.sentence and "31.5 GiB" in others.sentence
        assert time.perf_counter() - started < 2.0
    finally:
        process.kill()
        process.wait()


def test_gpus_that_are_not_here_block_unless_there_is_no_gpu_at_all(small_model, data, runs_dir):
    config = RunConfig(model=str(small_model), data=str(data), settings=TrainingSettings(gpus=(0, 3)))
    on_one_gpu = check(preflight(config, hardware=machine(1, runs_dir)), "where")
    assert (
        on_one_gpu.verdict == "block" and "GPU 3 is not on this machine (CUDA sees 0)" in on_one_gpu.sentence
    )
    # without any GPU, torchrun's processes train on the CPU (what the multi-process tests do): a warning
    on_cpu = preflight(config, hardware=machine(0, runs_dir))
    assert check(on_cpu, "where").verdict == "warn" and "2 processes" in check(on_cpu, "where").sentence
    assert on_cpu.ok
