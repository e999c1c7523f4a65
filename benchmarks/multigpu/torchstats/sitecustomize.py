"""For benchmarks/multigpu/fsdp_memory.py only: with BENCH_STATS_DIR set, a training process (the moment it
imports ftui.trainer.train, so never torchrun's agent or ftui's launcher) writes, when it exits, what torch's
caching allocator saw on its GPU: peak allocated, peak reserved, allocation retries (the allocator freeing
its cache to satisfy a request), into BENCH_STATS_DIR/rank<RANK>.json. What NVML sees above peak reserved
is outside torch's allocator (the CUDA context, NCCL's buffers, cuBLAS workspaces)."""

import atexit
import importlib.abc
import json
import os
import sys

_DIR = os.environ.get("BENCH_STATS_DIR")
GIB = 1024**3


def _dump() -> None:
    try:
        import torch

        if not torch.cuda.is_initialized():
            return
        stats = torch.cuda.memory_stats()
        out = {
            "rank": int(os.environ.get("RANK", "0")),
            "max_allocated_gib": round(torch.cuda.max_memory_allocated() / GIB, 3),
            "max_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 3),
            "num_alloc_retries": stats.get("num_alloc_retries"),
            "num_ooms": stats.get("num_ooms"),
        }
        with open(os.path.join(_DIR, f"rank{out['rank']}.json"), "w") as handle:
            json.dump(out, handle)
    except Exception as exc:  # a benchmark aid: never break the run
        print(f"[bench] torch stats not written: {exc}", flush=True)


class _StatsOnTrainerImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name == "ftui.trainer.train":
            sys.meta_path.remove(self)
            atexit.register(_dump)
        return None


if _DIR:
    os.makedirs(_DIR, exist_ok=True)
    sys.meta_path.insert(0, _StatsOnTrainerImport())
