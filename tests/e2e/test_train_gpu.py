"""The same end-to-end training on the GPU path (Unsloth's CUDA kernels, bitsandbytes 4-bit): QLoRA and LoRA.

Skipped without an NVIDIA GPU; run on the GPU machine with `pytest -m gpu tests/e2e/test_train_gpu.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ftui.core.runs import find_run
from ftui.core.runs.records import TrainRecord
from tests.helpers.datasets import arithmetic_rows, write_jsonl
from tests.helpers.tiny_model import build_tiny_llama


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
def small_model(tmp_path_factory):
    # Head size 64 and widths that are multiples of 64, as real models have (Unsloth's kernels expect it).
    return build_tiny_llama(
        tmp_path_factory.getbasetemp() / "small-llama-gpu",
        hidden=256,
        intermediate=512,
        heads=4,
        kv_heads=2,
        layers=2,
    )


@pytest.mark.parametrize("method", ["qlora", "lora"])
def test_train_on_the_gpu(small_model, tmp_path, runs_dir, method):
    data = write_jsonl(tmp_path / "data.jsonl", arithmetic_rows(120))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ftui",
            "train",
            "--model",
            str(small_model),
            "--data",
            str(data),
            "--method",
            method,
            "--max-steps",
            "30",
            "--batch",
            "4",
            "--grad-accum",
            "1",
            "--seq",
            "128",
            "--lr",
            "5e-3",
            "--save-steps",
            "10",
            "--template",
            "chatml",
            "--eval-split",
            "0.1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    run = find_run(json.loads(result.stdout)["run_id"])
    status = run.status()
    assert status.state == "completed" and "GiB" in status.device
    steps = [r for r in run.metrics() if isinstance(r, TrainRecord)]
    assert [r.step for r in steps] == list(range(1, 31))
    assert all(r.gpu_mem_gib and r.gpu_mem_gib > 0 for r in steps)
    assert all(r.tokens_per_second > 0 for r in steps[1:])
    assert status.peak_gpu_gib > 0
    assert sum(r.loss for r in steps[-5:]) / 5 < steps[0].loss - 0.3
    log = run.log_path.read_text()
    assert "no GPU found" not in log
    # Unsloth turns padding-free batching on for ftui's runs on the GPU (padding_free is left unset)
    assert "batches: micro-batch 4 x accumulation 1 x 1 GPU(s), padding-free" in log

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(small_model, dtype=torch.bfloat16).cuda()
    tuned = PeftModel.from_pretrained(base, run.adapter_dir)
    ids = torch.tensor([[1, 5, 9, 12]], device="cuda")
    with torch.no_grad():
        assert torch.isfinite(tuned(ids).logits).all()


@pytest.mark.parametrize("method", ["qlora", "lora"])
def test_the_split_does_not_change_the_training_on_the_gpu(small_model, tmp_path, runs_dir, method):
    """8 x 1 and 2 x 4 on the GPU path, where Unsloth batches padding-free (a micro-batch of 8 rows is one
    packed row, of 2 rows a short one): the same loss each step and the same adapter. The H200 run of
    2026-11-30 (BENCHMARKS.md) had ftui at 8 x 1 falling much faster than the notebook at 2 x 4 (step 15:
    9.80 against 11.84); on CPU (padded batches) the splits agree to float noise (tests/e2e/test_split.py).
    Tolerances are bf16's, not yet measured on a GPU: the gap this test is for is 5-25% in the loss."""
    from tests.e2e.test_split import assert_same_training, train_with_split, varied_rows

    data = write_jsonl(tmp_path / "varied.jsonl", varied_rows())
    whole = train_with_split(small_model, data, 8, 1, method=method)
    split = train_with_split(small_model, data, 2, 4, method=method)
    assert "micro-batch 8 x accumulation 1 x 1 GPU(s), padding-free" in whole[2]
    assert "micro-batch 2 x accumulation 4 x 1 GPU(s), padding-free" in split[2]
    assert_same_training(whole, split, loss_tol=0.02, weight_tol=0.1)
