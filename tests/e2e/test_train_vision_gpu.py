"""Vision QLoRA and LoRA through `ftui train` on the GPU path (FastVisionModel, bitsandbytes 4-bit, Unsloth's
collator), on Qwen2.5-VL-3B with random weights of the real dims, and the run's peak against the estimate.

Skipped without an NVIDIA GPU; on the GPU machine: `bash benchmarks/training/vision_gpu.sh train` (`measure` runs
the H200 vision memory measurements). The estimate is held to the text estimator's standard for a single
run: no more than 10% below the measured peak (the table's median rule is in test_memory_vision_measured).

The run's peak is the card's (NVML: every process on it), so the test keeps the card to itself: the model
is built in a child process (this one never opens CUDA), the run inherits the GPU the caller chose
(CUDA_VISIBLE_DEVICES), the card must have no other process when the run starts, and the card's use
before the run is subtracted, as measure.py does. On 2026-11-30 the run was pinned to GPU 0 while its job
had GPU 1 and another job trained Llama-3.2-3B on GPU 0: the QLoRA "peak" of 28.77 GiB was that card's
total (BENCHMARKS.md, vision estimator).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftui.core.runs import find_run
from ftui.core.runs.records import TrainRecord
from tests.helpers.images import colour_rows, write_rows

ROOT = Path(__file__).resolve().parents[2]
ARCH = "Qwen/Qwen2.5-VL-3B-Instruct"


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not _cuda(), reason="needs an NVIDIA GPU"),
]


@pytest.fixture(scope="module")
def qwen_vl(tmp_path_factory) -> Path:
    """Built on the GPU in a child process: memory this process cached would count in the run's peak."""
    folder = tmp_path_factory.getbasetemp() / "qwen2.5-vl-3b-random"
    code = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'benchmarks' / 'vram')!r}]; "
        f"import pathlib, vision_models; vision_models.build({ARCH!r}, pathlib.Path({str(folder)!r}), 'cuda')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
    return folder


def _card():  # type: ignore[no-untyped-def]
    """NVML's handle of the GPU the run will use (the first that CUDA_VISIBLE_DEVICES names)."""
    import pynvml

    pynvml.nvmlInit()
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    if first.startswith(("GPU-", "MIG-")):
        return pynvml.nvmlDeviceGetHandleByUUID(first)
    return pynvml.nvmlDeviceGetHandleByIndex(int(first or 0))


@pytest.mark.parametrize("method", ["qlora", "lora"])
def test_vision_training_on_the_gpu_and_its_peak_against_the_estimate(qwen_vl, tmp_path, runs_dir, method):
    import pynvml

    data = write_rows(tmp_path / "data.jsonl", colour_rows(tmp_path, 32, size=(1024, 768)))
    card = _card()
    try:
        others = pynvml.nvmlDeviceGetComputeRunningProcesses(card)
    except pynvml.NVMLError:  # some containers do not list processes; the idle reading below still counts
        others = []
    assert not others, f"another process is on the GPU ({[p.pid for p in others]}): its memory would count"
    idle = pynvml.nvmlDeviceGetMemoryInfo(card).used / 1024**3
    result = subprocess.run(
        [sys.executable, "-m", "ftui", "train", "--model", str(qwen_vl), "--data", str(data), "--method", method,
         "--max-steps", "6", "--batch", "2", "--grad-accum", "1", "--seq", "1024", "--json"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = find_run(json.loads(result.stdout)["run_id"])
    steps = [r for r in run.metrics() if isinstance(r, TrainRecord)]
    assert [r.step for r in steps] == list(range(1, 7)) and all(r.loss is not None for r in steps)
    assert "CPU:" not in run.log_path.read_text()
    status = run.read_status()
    assert status.state == "completed" and status.peak_gpu_gib

    from ftui.core.dims import dims_from_hf_config
    from ftui.core.memory import estimate_peak_vram
    from ftui.core.memory_vision import VisionLoad
    from ftui.core.plan import TrainingSettings

    config = json.loads((qwen_vl / "config.json").read_text())
    dims = dims_from_hf_config(config, 3.754)
    settings = TrainingSettings(method=method, batch=2, seq=1024, grad_accum=1)
    estimate = estimate_peak_vram(dims, settings, vision=VisionLoad(1, (1024, 768)))
    measured = status.peak_gpu_gib - idle
    error = estimate.total_gib / measured - 1
    print(
        f"{method}: measured {measured:.2f} GiB ({status.peak_gpu_gib:.2f} on the card, {idle:.2f} before), "
        f"estimated {estimate.total_gib:.2f} GiB ({error:+.1%})"
    )
    (Path(os.environ.get("OUT", tmp_path)) / f"vision-gpu-{method}.json").write_text(
        json.dumps(
            {
                "method": method,
                "measured_gib": measured,
                "card_peak_gib": status.peak_gpu_gib,
                "idle_gib": idle,
                "estimate_gib": estimate.total_gib,
                "error": error,
            }
        )
    )
    if method == "qlora":  # loaded in 4 bit: 16-bit weights and the CUDA context alone would not fit under it
        lora = estimate_peak_vram(
            dims, dataclasses.replace(settings, method="lora"), vision=VisionLoad()
        ).breakdown
        assert measured < lora["weights"] + lora["cuda_context"], f"QLoRA peaked at {measured:.2f} GiB"
    assert error >= -0.10, f"estimate {estimate.total_gib:.2f} GiB is {error:+.1%} against {measured:.2f} GiB"
