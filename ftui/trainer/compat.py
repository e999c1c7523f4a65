"""Work-arounds for broken installs that the training stack would otherwise die on."""

from __future__ import annotations

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
