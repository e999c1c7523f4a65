"""Turn what went wrong in the training process into a state and one sentence that says what to do.

Pure: it looks at the exception's class name and message, so it is tested without torch or a GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ftui.core.dims import ModelDims
from ftui.core.errors import UserError
from ftui.core.plan import TrainingSettings


@dataclass(frozen=True)
class Fault:
    state: str  # "oom" or "failed"
    error: str  # one sentence: what happened, then what to do


@dataclass
class FaultContext:
    model: str
    settings: TrainingSettings = field(default_factory=TrainingSettings)
    dims: ModelDims | None = None
    card_gib: float | None = None  # the GPU's memory, when there is one
    python: str | None = None
    token_set: bool = False


def _names(error: BaseException) -> set[str]:
    """The class names of the error and its causes (libraries wrap each other's errors)."""
    names: set[str] = set()
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 8:
        names.update(cls.__name__ for cls in type(current).__mro__)
        current = current.__cause__ or current.__context__
        seen += 1
    return names


def _messages(error: BaseException) -> str:
    parts = []
    current: BaseException | None = error
    for _ in range(8):
        if current is None:
            break
        parts.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def is_out_of_memory(error: BaseException) -> bool:
    text = _messages(error)
    return "OutOfMemoryError" in _names(error) or bool(
        re.search(r"CUDA out of memory|out of memory|CUBLAS_STATUS_ALLOC_FAILED", text)
    )


def classify(error: BaseException, context: FaultContext) -> Fault:
    names = _names(error)
    text = _messages(error)
    model = context.model
    if is_out_of_memory(error):
        return Fault("oom", out_of_memory_sentence(context))
    if "BadRowError" in names or isinstance(error, UserError):
        return Fault("failed", _one_line(str(error)))
    if "GatedRepoError" in names or re.search(
        r"gated repo|awaiting a review|401 Client Error|403 Client Error", text
    ):
        if context.token_set:
            return Fault(
                "failed",
                f"{model} is a gated repo and your HF account has no access yet; accept its "
                f"license at https://huggingface.co/{model} and try again.",
            )
        return Fault(
            "failed",
            f"{model} is a gated repo and no HF token is set; accept its license at "
            f"https://huggingface.co/{model}, then run `hf auth login` (or set HF_TOKEN) and try again.",
        )
    if _missing_local_path(model) or (
        names & {"RepositoryNotFoundError", "LocalEntryNotFoundError", "EntryNotFoundError"}
        or re.search(
            r"is not a local folder and is not a valid model identifier|not a valid model identifier"
            r"|Can't load the configuration of|does not appear to have a file named config.json"
            r"|couldn't connect to 'https://huggingface.co'|outgoing traffic has been disabled",
            text,
        )
    ):
        return Fault(
            "failed",
            f"The model {model} was not found: it is not a local model directory and not in the "
            "HF cache; check the name, or download it where there is network "
            f"(`hf download {model}`).",
        )
    if "ZeroDivisionError" in names and "-100" in text:
        return Fault(
            "failed",
            "Every label was masked by responses-only training, so there is nothing to learn; "
            "check the chat template matches the model, or raise --seq so that answers are not "
            "cut off, or turn responses_only off.",
        )
    if ("ModuleNotFoundError" in names or "ImportError" in names) and re.search(r"unsloth", text):
        where = context.python or "this Python"
        return Fault(
            "failed",
            f"Unsloth could not be imported in {where} ({_one_line(str(error))}); install it "
            "there with `pip install unsloth==2026.10.9`, or leave python unset to use ftui's.",
        )
    if "NotImplementedError" in names and re.search(r"vision|audio", text, re.I) and "CPU" in text:
        return Fault(
            "failed",
            "Vision models need a GPU (Unsloth trains only text models on CPU); run this on a "
            "machine with an NVIDIA GPU or pick a text model.",
        )
    if re.search(r"NVIDIA driver|CUDA driver version is insufficient|no kernel image is available", text):
        return Fault(
            "failed",
            f"torch cannot use the GPU: {_one_line(str(error))}; install the torch build that "
            "matches your driver (see `nvidia-smi`).",
        )
    return Fault(
        "failed",
        f"Training failed with {type(error).__name__}: {_one_line(str(error))}; "
        "the full traceback is in train.log.",
    )


def _missing_local_path(model: str) -> bool:
    """A model given as a path that is not there: decided here, whatever the loader says about it."""
    import os

    return model.startswith(("/", "./", "../", "~")) and not os.path.exists(os.path.expanduser(model))


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.strip().split())
    line = line.rstrip(".")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def out_of_memory_sentence(context: FaultContext) -> str:
    """'CUDA ran out of memory at micro-batch 4 x 4096 tokens (estimated 31 GiB on a 24 GiB card); try
    --batch 1 or --seq 2048, or --method qlora.' The fixes are the estimator's: the largest micro-batch
    and sequence that it says fit, then 4-bit, then gradient checkpointing."""
    s = context.settings
    where = f"CUDA ran out of memory at micro-batch {s.batch} x {s.seq} tokens"
    estimate = _estimate(context.dims, s)
    if estimate is not None and context.card_gib:
        where += f" (estimated {estimate:.0f} GiB on a {context.card_gib:.0f} GiB card)"
    fixes: list[str] = []
    if s.batch > 1:
        fixes.append(f"--batch {_largest_fitting(context, 'batch', s.batch) or 1}")
    if s.seq > 256:
        fixes.append(f"--seq {_largest_fitting(context, 'seq', s.seq) or max(256, s.seq // 2)}")
    tail: list[str] = []
    if s.method != "qlora":
        tail.append("--method qlora")
    if s.gradient_checkpointing == "none":
        tail.append('gradient_checkpointing = "unsloth" in the config')
    if not fixes and not tail:
        return f"{where}; this model does not fit this card even at micro-batch 1, so pick a smaller model or a larger GPU."
    advice = " or ".join(fixes)
    if tail:
        advice = f"{advice}, or {' or '.join(tail)}" if advice else " or ".join(tail)
    return f"{where}; try {advice}."


def _estimate(dims: ModelDims | None, settings: TrainingSettings) -> float | None:
    if dims is None:
        return None
    try:
        from ftui.core.memory import estimate_peak_vram

        return estimate_peak_vram(dims, settings).total_gib
    except Exception:  # the estimator must never hide the OOM itself
        return None


def _largest_fitting(context: FaultContext, field_name: str, current: int) -> int | None:
    """The largest value below `current` (halving) that the estimator says fits the card, if it can tell."""
    import dataclasses

    if context.dims is None or not context.card_gib:
        return None
    value = current // 2
    floor = 1 if field_name == "batch" else 256
    while value >= floor:
        smaller = (
            dataclasses.replace(context.settings, batch=value)
            if field_name == "batch"
            else dataclasses.replace(context.settings, seq=value)
        )
        estimate = _estimate(context.dims, smaller)
        if estimate is not None and estimate <= 0.9 * context.card_gib:
            return value
        value //= 2
    return None
