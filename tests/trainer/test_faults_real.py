"""The classifier against errors raised by the installed libraries themselves, not stand-ins of them.

ftui turns a library's exception into one sentence by its class name and message (faults.py); a release
that renames the class or rewords the message would silently degrade that sentence to "Training failed
with ...". These tests make the libraries raise for real, so a lock refresh that changes them fails here.
"""

import pytest

from ftui.core.plan import TrainingSettings
from ftui.trainer.faults import FaultContext, classify


def raised(call) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        call()
    except BaseException as error:  # noqa: BLE001 - whatever the library raises is what is classified
        return error
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize("name", ["nobody-here/not-a-model-at-all", "/nonexistent/model/folder"])
def test_a_model_that_is_not_there_is_named_as_not_found(name, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    from transformers import AutoTokenizer

    error = raised(lambda: AutoTokenizer.from_pretrained(name))
    fault = classify(error, FaultContext(model=name))
    assert fault.state == "failed" and "was not found" in fault.error, fault.error


def test_torchs_out_of_memory_error_is_an_oom():
    import torch

    error = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    fault = classify(error, FaultContext(model="m", settings=TrainingSettings(batch=2, seq=2048)))
    assert fault.state == "oom"


def test_unsloths_every_label_masked_error_says_what_to_fix():
    # In a process of its own: importing unsloth patches transformers for the rest of the process.
    import subprocess
    import sys

    script = (
        "from ftui.trainer.compat import hide_broken_torchvision; hide_broken_torchvision()\n"
        "import unsloth\n"
        "from datasets import Dataset\n"
        "from unsloth_zoo.training_utils import fix_zero_training_loss\n"
        "from ftui.trainer.faults import FaultContext, classify\n"
        "masked = Dataset.from_dict({'input_ids': [[1, 2, 3]] * 4, 'labels': [[-100, -100, -100]] * 4})\n"
        "try:\n"
        "    fix_zero_training_loss(None, None, masked)\n"
        "except BaseException as error:\n"
        "    print('SENTENCE:', classify(error, FaultContext(model='m')).error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert "SENTENCE: Every label was masked" in result.stdout, result.stdout + result.stderr


def test_the_hubs_gated_and_missing_errors_keep_their_names():
    import httpx
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    request = httpx.Request("GET", "https://huggingface.co/meta-llama/Llama-3.1-8B/resolve/main/config.json")
    gated = GatedRepoError(
        "Access to model meta-llama/Llama-3.1-8B is restricted.",
        response=httpx.Response(401, request=request),
    )
    missing = RepositoryNotFoundError("404 Client Error.", response=httpx.Response(404, request=request))
    assert (
        "is a gated repo and no HF token is set"
        in classify(gated, FaultContext(model="meta-llama/Llama-3.1-8B")).error
    )
    assert "was not found" in classify(missing, FaultContext(model="x/y")).error
