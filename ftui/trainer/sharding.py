"""Sharded training in the trainer: Unsloth's native FSDP2, as the launcher set it up (UNSLOTH_FSDP2=1).

What changes for ftui when the model is sharded over the ranks:
  * saving is collective: every rank gathers its shards and rank 0 writes (Trainer.save_model does this
    under Unsloth's FSDP2; PeftModel.save_pretrained on rank 0 alone would write rank 0's shards only);
  * so is generating the samples (Unsloth gathers the weights for `generate`), and the exports;
  * checkpoints keep the optimizer shard by shard (torch.distributed.checkpoint, `optimizer_dcp/`), which
    a resume on the same number of ranks reads back, each rank its own slices.
"""

from __future__ import annotations

import os
from typing import Any


def sharding() -> str | None:
    """ "fsdp", "ddp" or None (one process), as the launcher decided."""
    value = os.environ.get("FTUI_SHARDING")
    if value:
        return value
    return "ddp" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None


def is_sharded() -> bool:
    return sharding() == "fsdp"


def stack_name(sharded: bool) -> str:
    """What trains, for status.json: Unsloth and its version, and how it spreads the model."""
    try:
        import unsloth

        version = getattr(unsloth, "__version__", "?")
    except Exception:  # pragma: no cover - the trainer has imported it already
        version = "?"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    how = "native FSDP2" if sharded else ("DDP" if world > 1 else "one GPU")
    return f"unsloth {version} ({how})"


def require_native_fsdp2() -> None:
    """An Unsloth without native FSDP2 would ignore UNSLOTH_FSDP2 and train a whole copy per GPU."""
    import importlib.util

    from ftui.core.errors import UserError

    if importlib.util.find_spec("unsloth.models.fsdp2_native") is None:
        import unsloth

        raise UserError(
            f"Sharded training needs Unsloth's native FSDP2, which this Unsloth "
            f"({getattr(unsloth, '__version__', '?')}) does not have; install unsloth==2026.10.9 in the "
            "Python that trains, or train with --sharding ddp."
        )


def save_output(trainer: Any, model: Any, tokenizer: Any, target: str, *, main: bool, sharded: bool) -> None:
    """The adapter (or full model) and the tokenizer into `target`: collective when sharded."""
    if sharded:
        trainer.save_model(target)  # every rank: the shards are gathered, rank 0 writes
    elif main:
        model.save_pretrained(target)
    if main:
        tokenizer.save_pretrained(target)
