"""Optional exports after training: a merged 16-bit model and GGUF files.

They are extras: when one cannot be made (GGUF without llama.cpp, a merge that Unsloth's CPU path does
not support), the run still completes with its adapter, and a warning says what to do.
"""

from __future__ import annotations

from typing import Any

from ftui.core.plan import TrainingSettings
from ftui.core.runs import RunDirectory


def _log(message: str) -> None:
    print(f"[ftui] {message}", flush=True)


def llama_cpp_missing() -> str | None:
    """Why GGUF export cannot run here, or None when llama.cpp is installed where Unsloth looks."""
    try:
        from unsloth_zoo.llama_cpp import LLAMA_CPP_DEFAULT_DIR, check_llama_cpp
    except ImportError as error:
        return f"unsloth_zoo's llama.cpp support is not importable ({error})"
    try:
        check_llama_cpp(LLAMA_CPP_DEFAULT_DIR)
    except Exception:
        return f"llama.cpp is not installed in {LLAMA_CPP_DEFAULT_DIR}"
    return None


def export(
    run: RunDirectory, model: Any, tokenizer: Any, settings: TrainingSettings, full: bool
) -> list[str]:
    """Write the exports the settings ask for; return the warnings for what could not be written."""
    warnings: list[str] = []
    if settings.save_merged and not full:
        target = run.path / "merged"
        try:
            model.save_pretrained_merged(str(target), tokenizer, save_method="merged_16bit")
            _log(f"saved the merged 16-bit model in {target}")
        except Exception as error:
            warnings.append(
                f"The merged 16-bit model could not be written ({type(error).__name__}: "
                f"{' '.join(str(error).split())[:200]}); the adapter is saved in adapter/."
            )
    if settings.save_gguf:
        missing = llama_cpp_missing()
        if missing:
            # Unsloth would try to download and build llama.cpp here; without network that fails slowly.
            warnings.append(
                f"GGUF export needs llama.cpp and {missing}; install it (or set UNSLOTH_LLAMA_CPP_PATH) "
                "and export the adapter in adapter/ later; the adapter is saved."
            )
        else:
            target = run.path / "gguf"
            try:
                model.save_pretrained_gguf(str(target), tokenizer, quantization_method=settings.save_gguf)
                _log(f"saved GGUF ({settings.save_gguf}) in {target}")
            except Exception as error:
                warnings.append(
                    f"GGUF export failed ({type(error).__name__}: {' '.join(str(error).split())[:200]}); "
                    "the adapter is saved in adapter/."
                )
    for warning in warnings:
        _log(f"warning: {warning}")
    return warnings
