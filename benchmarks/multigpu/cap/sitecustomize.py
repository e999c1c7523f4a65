"""Caps what each training process may allocate on its GPU, for benchmarks/multigpu/gpu_bench.py only.

On PYTHONPATH with BENCH_GPU_FRACTION set, a training process (the moment it imports ftui.trainer.train,
so never torchrun's agent or ftui's launcher, which do not touch CUDA) calls
torch.cuda.set_per_process_memory_fraction(BENCH_GPU_FRACTION) on its own GPU: a card made smaller, to
show a model that one card cannot train but two can. The CUDA context is outside torch's allocator, so it
comes on top of the cap.
"""

import importlib.abc
import os
import sys

_FRACTION = os.environ.get("BENCH_GPU_FRACTION")


class _CapOnTrainerImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name == "ftui.trainer.train":
            sys.meta_path.remove(self)
            import torch

            device = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_per_process_memory_fraction(float(_FRACTION), device)
            print(f"[bench] cuda:{device} capped at {float(_FRACTION):.4f} of its memory", flush=True)
        return None


if _FRACTION:
    sys.meta_path.insert(0, _CapOnTrainerImport())
