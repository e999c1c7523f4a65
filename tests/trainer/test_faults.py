"""What a failure becomes: a state and one sentence with the fix. Pure: real exception objects, no GPU."""

import io

import pytest

from ftui.core.dims import ModelDims
from ftui.core.errors import UserError
from ftui.core.plan import TrainingSettings
from ftui.trainer.faults import FaultContext, classify
from ftui.trainer.redact import RedactingStream, redact, scrub_file

LLAMA_8B = ModelDims(layers=32, hidden=4096, intermediate=14336, heads=32, kv_heads=8, vocab=128256)


class OutOfMemoryError(RuntimeError):  # torch.OutOfMemoryError's name, without importing torch here
    pass


def test_cuda_oom_becomes_oom_with_the_estimators_fixes():
    settings = TrainingSettings(method="lora", batch=4, seq=4096)
    context = FaultContext(model="unsloth/Llama-3.1-8B", settings=settings, dims=LLAMA_8B, card_gib=24.0)
    fault = classify(OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), context)
    assert fault.state == "oom"
    assert fault.error.startswith("CUDA ran out of memory at micro-batch 4 x 4096 tokens (estimated ")
    assert "on a 24 GiB card); try --batch " in fault.error
    assert "--seq " in fault.error and fault.error.endswith("or --method qlora.")
    from ftui.core.memory import estimate_peak_vram

    estimate = estimate_peak_vram(LLAMA_8B, settings).total_gib
    assert f"estimated {estimate:.0f} GiB" in fault.error


def test_oom_wrapped_in_another_error_is_still_oom():
    try:
        try:
            raise RuntimeError("CUDA error: out of memory")
        except RuntimeError as inner:
            raise ValueError("step failed") from inner
    except ValueError as outer:
        fault = classify(
            outer, FaultContext(model="m", settings=TrainingSettings(batch=1, seq=128, method="qlora"))
        )
    assert fault.state == "oom"
    assert "this model does not fit this card" in fault.error


def test_oom_without_dims_still_names_the_fixes():
    fault = classify(
        OutOfMemoryError("x"), FaultContext(model="m", settings=TrainingSettings(batch=2, seq=2048))
    )
    assert (
        fault.error == "CUDA ran out of memory at micro-batch 2 x 2048 tokens; try --batch 1 or --seq 1024."
    )


def test_bad_rows_and_user_errors_keep_their_sentence():
    assert classify(
        UserError("Line 7 of d.jsonl: no assistant turn; add one."), FaultContext(model="m")
    ).error == ("Line 7 of d.jsonl: no assistant turn; add one")


class GatedRepoError(OSError):
    pass


class RepositoryNotFoundError(OSError):
    pass


@pytest.mark.parametrize(
    "error, token, words",
    [
        (GatedRepoError("401 Client Error"), False, "is a gated repo and no HF token is set"),
        (GatedRepoError("403"), True, "your HF account has no access yet"),
        (RepositoryNotFoundError("404"), False, "was not found"),
        (
            OSError("x is not a local folder and is not a valid model identifier listed on"),
            False,
            "was not found",
        ),
        (ZeroDivisionError("Unsloth: All labels in your dataset are -100"), False, "Every label was masked"),
        (ModuleNotFoundError("No module named 'unsloth'"), False, "Unsloth could not be imported"),
        (KeyError("boom"), False, "Training failed with KeyError"),
    ],
)
def test_other_faults_say_what_to_do(error, token, words):
    fault = classify(error, FaultContext(model="meta-llama/Llama-3.1-8B", token_set=token))
    assert fault.state == "failed" and words in fault.error
    assert "\n" not in fault.error


def test_redaction_masks_tokens_in_streams_and_files(tmp_path):
    token = "hf_" + "a1B2" * 9
    assert redact(f"Authorization: Bearer {token}") == "Authorization: Bearer hf_***"
    assert redact("my secret-value here", ("secret-value",)) == "my hf_*** here"
    sink = io.StringIO()
    stream = RedactingStream(sink)
    stream.write(f"url?token={token}\n")
    assert token not in sink.getvalue() and stream.getvalue() == sink.getvalue()  # delegates the rest
    log = tmp_path / "train.log"
    log.write_text(f"line one\nleaked {token} here\n")
    size = log.stat().st_size
    scrub_file(str(log), ())
    assert token not in log.read_text() and log.stat().st_size == size
