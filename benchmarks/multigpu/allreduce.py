"""How fast two GPUs of this host all-reduce (issue 15, DDP scaling): one process a GPU under torchrun.

  torchrun --nproc-per-node 2 benchmarks/multigpu/allreduce.py OUT.json

Times NCCL's all_reduce of float32 buffers of 64 MiB, 160 MiB (the LoRA gradients of an 8B model at r=16
on every linear layer: 42 M values) and 2.5 GiB (at r=256, gpu_bench's plan: 671 M): 3 warm-ups, then the
median of 10. Rank 0 writes seconds and the bus bandwidth (2 (n-1)/n x bytes / s, NCCL-tests' busbw)
to OUT.json. With NCCL_DEBUG=INFO the log says which transport NCCL chose (P2P/CUMEM over NVLink or PCIe,
SHM).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist


def main() -> int:
    for key, value in (("NCCL_NVLS_ENABLE", "0"), ("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"),
                       ("NVSHMEM_DISABLE_NVLS", "1")):  # fmt: skip
        os.environ.setdefault(key, value)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl")
    results = []
    for mib in (64, 160, 2560):
        values = mib * 1024 * 1024 // 4
        buffer = torch.ones(values, device="cuda", dtype=torch.float32)
        times = []
        for i in range(13):
            torch.cuda.synchronize()
            begun = time.perf_counter()
            dist.all_reduce(buffer)
            torch.cuda.synchronize()
            if i >= 3:
                times.append(time.perf_counter() - begun)
        seconds = statistics.median(times)
        results.append({"mib": mib, "seconds": round(seconds, 5),
                        "busbw_gb_s": round(2 * (world - 1) / world * values * 4 / seconds / 1e9, 1)})  # fmt: skip
        del buffer
    if rank == 0:
        with open(sys.argv[1], "w") as handle:
            json.dump({"world_size": world, "all_reduce": results}, handle, indent=1)
        print(json.dumps(results), flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
