"""Where a sharded QLoRA step's memory goes (issue 15): gpu_bench.py's plan (a) on two GPUs with Unsloth's
FSDP2, uncapped, beside variants that isolate one term each, on the two-H200 machine (nvidia-h200-x2).

Per run: the per-GPU peak at driver level (NVML, every 50 ms, above the card's use before the run) and, per
rank, torch's peak allocated and peak reserved (benchmarks/multigpu/torchstats/sitecustomize.py), so that
NVML - reserved is what lives outside torch's allocator (CUDA context, NCCL) and reserved - allocated the
allocator's cache. Variants (all QLoRA r=256, adamw_torch, micro-batch 2 x 1024, 6 steps):
  fsdp_ga2        as gpu_bench (a), uncapped: accumulation 2 (Unsloth's "skip": no reduce-scatter on the
                  first micro-batch, float32 unsharded gradient accumulators held until the last)
  fsdp_ga2_each   the same with UNSLOTH_FSDP2_GA_SYNC=each (reduce-scatter every micro-batch)
  fsdp_ga1        accumulation 1 (no accumulators)
  single_ga4      one GPU, accumulation 4 (the reference, for the context and cache on one GPU)

Written for the FSDP estimate's fix of 2026-11-30 (BENCHMARKS.md, several GPUs) and not yet run on a GPU
(no device time was left that day): expect to fix small things on its first run.

  tar xzf .gpu/site.tgz -C /tmp && export PYTHONPATH=/tmp/gpusite:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
  python benchmarks/multigpu/fsdp_memory.py --out $OUT/fsdpmem
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from gpu_bench import PLAN, GpuSampler, estimate, ftui, read_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--work", type=Path, default=Path("/dev/shm/ftui-fsdp-mem"))
    parser.add_argument("--runs", default="fsdp_ga2,fsdp_ga2_each,fsdp_ga1,single_ga4")
    args = parser.parse_args()
    out, work = args.out, args.work
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    for key, value in (("NCCL_NVLS_ENABLE", "0"), ("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"),
                       ("NVSHMEM_DISABLE_NVLS", "1")):  # fmt: skip
        os.environ.setdefault(key, value)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(HERE / "torchstats"), str(ROOT),
                                                     os.environ.get("PYTHONPATH")) if p)}  # fmt: skip
    model_dir = work / "llama-8b"
    t0 = time.monotonic()
    made = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/training/make_model.py"), str(model_dir), "--dims",
         "llama-3.1-8b", "--device", "cuda"], capture_output=True, text=True, env=env,
    )  # fmt: skip
    if made.returncode:
        print(made.stderr[-3000:])
        return 1
    print(f"[mem] model in {time.monotonic() - t0:.0f} s", flush=True)
    from tests.helpers.tiny_model import _WORDS

    rng = random.Random(0)
    data = work / "rows.jsonl"
    with open(data, "w") as handle:
        for _ in range(200):
            handle.write(json.dumps({"text": " ".join(rng.choice(_WORDS) for _ in range(900))}) + "\n")
    config = work / "bench.toml"
    config.write_text(
        f'model = "{model_dir}"\ndata = "{data}"\nsamples = 0\n\n[training]\nsave_steps = 1000\n'
    )
    variants = {
        "fsdp_ga2": (["--grad-accum", "2", "--gpus", "0,1", "--sharding", "fsdp"], {}, 2, "fsdp"),
        "fsdp_ga2_each": (
            ["--grad-accum", "2", "--gpus", "0,1", "--sharding", "fsdp"],
            {"UNSLOTH_FSDP2_GA_SYNC": "each"},
            2,
            "fsdp",
        ),  # fmt: skip
        "fsdp_ga1": (["--grad-accum", "1", "--gpus", "0,1", "--sharding", "fsdp"], {}, 2, "fsdp"),
        "single_ga4": (["--grad-accum", "4", "--gpus", "0"], {}, 1, "single"),
    }
    results: dict[str, dict] = {}
    for name in [n.strip() for n in args.runs.split(",") if n.strip()]:
        flags, extra, gpus, way = variants[name]
        stats_dir = work / "stats" / name
        run_env = {**env, **extra, "BENCH_STATS_DIR": str(stats_dir)}
        flags = [*PLAN, *flags, "--max-steps", str(args.steps)]
        begun = time.monotonic()
        with GpuSampler(2) as sampler:
            done = ftui("train", str(config), *flags, "--runs-dir", str(work / "runs" / name), "--json",
                        env=run_env, timeout=400)  # fmt: skip
        entry: dict = {
            "command": ["ftui", "train", *flags],
            "env": extra,
            "returncode": done.returncode,
            "seconds": round(time.monotonic() - begun, 1),
            "gpu_peaks_gib": sampler.peaks(),
            "estimate": estimate(model_dir, gpus, way, flags),
            "torch": [json.loads(p.read_text()) for p in sorted(stats_dir.glob("rank*.json"))],
        }
        found = sorted((work / "runs" / name).glob("*/status.json"))
        if found:
            run = read_run(found[-1].parent)
            entry.update(
                {k: run[k] for k in ("state", "error", "stack", "steps", "tokens_per_second_median")}
            )
            log = "".join(p.read_text(errors="replace") for p in sorted(found[-1].parent.glob("train*.log")))
            entry["unsloth_lines"] = [ln for ln in log.splitlines() if "FSDP2" in ln or "fsdp" in ln.lower()][
                :20
            ]
            (out / f"{name}.log").write_text(log[-40000:])
        else:
            entry["stderr"] = done.stderr[-3000:]
        results[name] = entry
        (out / "runs.json").write_text(json.dumps(results, indent=1))
        print(f"[mem] {name}: {entry.get('state')} {entry['seconds']} s NVML {entry['gpu_peaks_gib']} "
              f"torch {entry['torch']}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
