"""Work-arounds for broken installs that the training stack would otherwise die on."""

from __future__ import annotations

import os
import sys


def hide_broken_torchvision() -> str | None:
    """Hide a torchvision whose compiled operators do not load with this torch; return why, or None.

    PyPI's torchvision wheels are built against CUDA torch: beside a CPU build of the same version their
    operators fail to load ("operator torchvision::nms does not exist"), and transformers, which imports
    torchvision whenever it is installed, then cannot even import its Trainer. Text fine-tuning does not
    need torchvision, so it is hidden (`sys.modules[...] = None` makes find_spec report it missing) and
    training goes on; vision models still need a matching build.
    """
    if "torchvision" in sys.modules:
        return None
    try:
        import torchvision  # noqa: F401
    except ModuleNotFoundError:
        return None
    except Exception as error:  # RuntimeError from the operator registry, OSError from a missing .so
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision"] = None  # type: ignore[assignment]
        return (
            f"torchvision is installed but does not work with this torch ({error}); training goes on without "
            "it (image processors have a Pillow path; Qwen2-VL's processor needs a torchvision built for this torch)."
        )
    return None


def custom_op_aliasing_is_a_warning() -> None:
    """Keep torch's check of custom operators' aliasing a warning, as it is for users, also where CI is set.

    torch 2.13 checks, the first time a compiled graph runs, that no custom operator returns a view of its
    input; a violation is a deprecation warning, and an error when the environment has `CI` set
    (torch._functorch.config.error_on_custom_op_aliasing defaults to bool($CI)). Unsloth compiles with
    Inductor's memory planning, whose own `inductor::_alloc_from_pool` returns a view of its pool by design,
    so a sharded run's generation failed in any shell that sets CI (GitHub Actions, GitLab, Buildkite), and
    passed everywhere else. Must run before torch is imported; an explicit setting is kept. torch 2.11 reads
    no variable for it (its default is plain bool($CI)), so the setting is also made on the config itself.
    """
    os.environ.setdefault("TORCHINDUCTOR_ERROR_ON_CUSTOM_OP_ALIASING", "0")
    if os.environ["TORCHINDUCTOR_ERROR_ON_CUSTOM_OP_ALIASING"] != "0":
        return
    try:
        from torch._functorch import config
    except ImportError:  # no torch: the trainer says so itself
        return
    if hasattr(config, "error_on_custom_op_aliasing"):
        config.error_on_custom_op_aliasing = False
