"""Several GPUs for real, through `ftui train` (issue 15), on the two-H200 machine (nvidia-h200-x2):

  (a) sharded QLoRA of a model with Llama-3.1-8B's dims (random weights, built here) on 2 GPUs whose
      memory each training process caps with torch.cuda.set_per_process_memory_fraction to a size one
      card cannot train it in but two can: the same plan on 1 capped GPU must end `oom`, on 2 capped GPUs
      sharded (Unsloth's FSDP2) it must complete, with a loss curve matching a 1-GPU run (uncapped) at the
      same effective batch (2 rows x 4 accumulation on one GPU = 2 rows x 2 accumulation x 2 GPUs);
  (b) the two-"machine" launch on one host: `ftui train --nodes 2 --gpus 0` + `ftui train --join RUN
      --node 1 --gpus 1` (torchrun's c10d rendezvous on 127.0.0.1, one GPU per machine), sharded;
  (c) DDP scaling: tokens/s of 2 GPUs (`--gpus 0,1 --sharding ddp`) against the 1-GPU run of (a).

Per run it records the per-GPU peak at driver level (NVML, sampled every 50 ms by this script, minus the
card's use before the run) beside ftui's estimate for that way (ftui.core.sharding). The plan for (a):
QLoRA r=256 on all linear layers, adamw_torch, micro-batch 2 x 1024 tokens: big adapters, so that sharding
them frees what a whole copy needs (see BENCHMARKS.md, section multi-GPU, for the numbers).

Needs: two CUDA GPUs, ftui's checkout as the working directory, the training stack of
../shared/tools/gpu-site (unsloth, trl, datasets, bitsandbytes). Writes into OUT (small files only):
  env.json            versions, GPUs, the cap
  runs.json           one entry per run: command, state, error, seconds, steps, tokens/s, per-GPU peaks
                      (measured) and the estimate, loss per step
  loss_curve.csv      step, loss on 1 GPU, loss on 2 GPUs sharded (a)
  summary.json        the verdicts: (a) oom on 1 / completed on 2, loss gap; (b) completed; (c) scaling
  logs/<run>.log      the end of each run's train.log (and train-node1.log for (b))
The model (16 GB) and the runs live under /dev/shm/ftui-dist-bench (deleted at the end).

  tar xzf .gpu/site.tgz -C /tmp && export PYTHONPATH=/tmp/gpusite:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
  python benchmarks/multigpu/gpu_bench.py --out $OUT/multigpu --budget-s 450

Expected: about 6-7 minutes on two H200s (model build ~40 s, five training runs of 60-90 s each, two of
them at the same time); a phase that would not fit the budget is skipped and says so in summary.json.
Rehearsal on a CPU (a tiny model, gloo, no cap): --rehearse.

--phases picks what runs (default a,c,b; (c) alone runs the 1-GPU reference it compares with), e.g. only
the two-machine launch: --phases b. --nccl-debug puts NCCL's INFO lines (the transport between the GPUs)
into the multi-GPU runs' logs. --c-ranks 16,256 measures (c) at two LoRA ranks (the default plan's 16 and
(a)'s 256; each with its own 1-GPU reference, trained one after the other on GPU 0): how much of
the scaling the all-reduce of the adapters' gradients costs. --c-batches 2,8 measures it at two micro-batches
per GPU too (the plan's 2, host-bound on an H200, and 8, the split ftui's batch choice takes for these rows:
the 1-GPU reference at accumulation max(2, 8 / micro-batch), the two GPUs at half that, so the same rows
make each step: 8 at micro-batch 2, 16 at 8). (c) also times NCCL's all-reduce of the two
gradients' sizes (allreduce.py: logs/allreduce.log says over what, allreduce.json how fast).

Scaling (c) is the ratio of the medians of the per-step rates after the fourth step (as the target is
stated); summary.json also gives the ratio of the runs' total tokens over total time on the same steps and
the quartiles of each run's step times, and runs.json every step's seconds: with 16 timed steps a side the
median ratio is only known to several percent (2026-11-30: 1-GPU steps 1.27-1.76 s).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
GIB = 1024**3
HERE = Path(__file__).resolve().parent

# (a)'s plan: QLoRA with big adapters (r=256) and fp32 AdamW states, rows filled to 1024 tokens.
PLAN = ["--method", "qlora", "--rank", "256", "--alpha", "256", "--optimizer", "adamw_torch",
        "--batch", "2", "--seq", "1024", "--lr", "1e-4", "--format", "text"]  # fmt: skip
# The CPU rehearsal: the same runs on the tiny model (Unsloth's CPU path trains 16-bit LoRA).
REHEARSAL_PLAN = ["--method", "lora", "--rank", "8", "--alpha", "8", "--optimizer", "adamw_torch",
                  "--batch", "2", "--seq", "128", "--lr", "5e-3", "--format", "text"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GpuSampler:
    """Driver-level used memory of every GPU, sampled every 50 ms; peaks above the starting use."""

    def __init__(self, count: int | None = None) -> None:
        self.handles: list = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            found = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(min(found, count or found))]
        except Exception:
            self.nvml = None
        self.count = len(self.handles)
        self.base = self._read()
        self.peak = list(self.base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> list[float]:
        if not self.handles:
            return [0.0] * self.count
        return [self.nvml.nvmlDeviceGetMemoryInfo(h).used / GIB for h in self.handles]

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for i, used in enumerate(self._read()):
                self.peak[i] = max(self.peak[i], used)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self) -> list[float]:
        return [round(p - b, 3) for p, b in zip(self.peak, self.base, strict=True)]


def ftui(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftui", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def read_run(run_dir: Path) -> dict:
    from ftui.core.runs import RunDirectory
    from ftui.core.runs.records import ResumeRecord, TrainRecord

    run = RunDirectory(run_dir)
    status = run.read_status()
    by_step: dict[int, TrainRecord] = {}
    logged: dict[int, int] = {}  # how many records each step has: one, when only rank 0 of node 0 logs
    for record in run.metrics():
        if isinstance(record, ResumeRecord):
            by_step = {s: r for s, r in by_step.items() if s <= record.step}
        elif isinstance(record, TrainRecord):
            by_step[record.step] = record
            logged[record.step] = logged.get(record.step, 0) + 1
    steps = [by_step[s] for s in sorted(by_step)]
    rates = [r.tokens_per_second for r in steps[4:] if r.tokens_per_second]
    # each step's wall seconds and tokens, from one log record to the next (rank 0 logs every step)
    step_seconds = {
        b.step: round(b.time - a.time, 3)
        for a, b in zip(steps, steps[1:], strict=False)
        if a.time is not None and b.time is not None and b.step == a.step + 1
    }
    step_tokens = {
        b.step: b.num_tokens - a.num_tokens
        for a, b in zip(steps, steps[1:], strict=False)
        if a.num_tokens is not None and b.num_tokens is not None and b.step == a.step + 1
    }
    return {
        "state": status.state,
        "error": status.error,
        "sharding": status.sharding,
        "stack": status.stack,
        "world_size": status.world_size,
        "steps": len(steps),
        "loss": {r.step: r.loss for r in steps},
        "tokens_per_second_median": round(statistics.median(rates), 1) if rates else None,
        "step_seconds": step_seconds,
        "steps_logged_more_than_once": sorted(s for s, n in logged.items() if n > 1),
        "step_tokens": step_tokens,
        "ranks": [
            {
                "rank": r.rank,
                "node": r.node,
                "state": r.state,
                "peak_gpu_gib": r.peak_gpu_gib,
                "device": r.device,
            }
            for r in status.ranks
        ],
        "nodes": [{"node": n.node, "state": n.state} for n in status.nodes],
        "peak_gpu_gib_status": status.peak_gpu_gib,
    }


def keep_log(run_dir: Path, out: Path, name: str) -> None:
    (out / "logs").mkdir(exist_ok=True)
    for log in sorted(run_dir.glob("train*.log")):
        text = log.read_text(errors="replace")
        (out / "logs" / f"{name}-{log.name}").write_text(text[-60000:])


def estimate(model_dir: Path, gpus: int, way: str, extra: list[str]) -> dict:
    """ftui's estimate of the per-GPU peak for `way` with the run's settings."""
    from ftui.core.dims import dims_from_hf_config
    from ftui.core.plan import TrainingSettings
    from ftui.core.sharding import per_gpu_estimate

    dims = dims_from_hf_config(json.loads((model_dir / "config.json").read_text()))
    flags = dict(zip(extra[::2], extra[1::2], strict=False))
    settings = TrainingSettings(
        method=flags.get("--method", "qlora"),
        rank=int(flags.get("--rank", 16)),
        alpha=int(flags.get("--alpha", 16)),
        optimizer=flags.get("--optimizer", "adamw_8bit"),
        batch=int(flags.get("--batch", 2)),
        seq=int(flags.get("--seq", 2048)),
        grad_accum=int(flags.get("--grad-accum", 4)),  # sharded, accumulation holds float32 gradients
    )
    e = per_gpu_estimate(dims, settings, gpus, way if gpus > 1 else "single")
    return {
        "total_gib": e.total_gib,
        "training_gib": e.training_gib,
        "loading_gib": e.loading_gib,
        "breakdown": e.breakdown,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget-s", type=float, default=450)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--work", type=Path, default=Path("/dev/shm/ftui-dist-bench"))
    parser.add_argument("--rehearse", action="store_true", help="a tiny model on the CPU (no cap, gloo)")
    parser.add_argument("--phases", default="a,c,b", help="which of a, b, c to run (default all: a,c,b)")
    parser.add_argument("--nccl-debug", action="store_true", help="NCCL_DEBUG=INFO in the multi-GPU runs")
    parser.add_argument(
        "--c-ranks",
        default="256",
        help="LoRA ranks (c) measures scaling at, each with its own 1-GPU reference (default 256, (a)'s plan; "
        "e.g. 16,256)",
    )
    parser.add_argument(
        "--c-batches", default="2", help="micro-batches per GPU (c) measures scaling at (default 2; e.g. 2,8)"
    )
    args = parser.parse_args()
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if not phases or phases - {"a", "b", "c"}:
        parser.error(f"--phases: a comma-separated subset of a, b, c (got {args.phases!r})")
    try:
        c_ranks = [int(r) for r in args.c_ranks.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--c-ranks: comma-separated whole numbers (got {args.c_ranks!r})")
    if not c_ranks or len(c_ranks) > 2 or min(c_ranks) < 1:
        parser.error(f"--c-ranks: one or two LoRA ranks (got {args.c_ranks!r})")
    try:
        c_batches = [int(b) for b in args.c_batches.split(",") if b.strip()]
    except ValueError:
        parser.error(f"--c-batches: comma-separated whole numbers (got {args.c_batches!r})")
    if not c_batches or min(c_batches) < 1:
        parser.error(f"--c-batches: micro-batches of at least 1 (got {args.c_batches!r})")
    c_cases = [(rank, batch) for batch in c_batches for rank in c_ranks]
    started = time.monotonic()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = args.work if not args.rehearse else Path("/tmp/ftui-dist-rehearsal")
    work.mkdir(parents=True, exist_ok=True)
    # This machine's rule (KINDS.md): NVLink multicast stays off in every program, ours included.
    for key, value in (
        ("NCCL_NVLS_ENABLE", "0"),
        ("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"),
        ("NVSHMEM_DISABLE_NVLS", "1"),
    ):
        os.environ.setdefault(key, value)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    if args.nccl_debug:
        env["NCCL_DEBUG"] = "INFO"
    runs: dict[str, dict] = {}
    summary: dict[str, object] = {"phases": sorted(phases)}

    def left() -> float:
        return args.budget_s - (time.monotonic() - started)

    def save() -> None:
        (out / "runs.json").write_text(json.dumps(runs, indent=1))
        (out / "summary.json").write_text(json.dumps(summary, indent=1))

    # ----- the machine and the model ---------------------------------------------------------------
    # This process never touches CUDA (NVML only): the GPUs hold nothing but the runs.
    plan = REHEARSAL_PLAN if args.rehearse else PLAN
    cards = GpuSampler()
    gpus = len(cards.handles) if cards.nvml else 0
    if gpus:
        names = [cards.nvml.nvmlDeviceGetName(h) for h in cards.handles]
        names = [n.decode() if isinstance(n, bytes) else n for n in names]
        card_gib = cards.nvml.nvmlDeviceGetMemoryInfo(cards.handles[0]).total / GIB
    else:
        names, card_gib = [], 0.0
    if not args.rehearse and gpus < 2:
        summary["error"] = f"needs two CUDA GPUs; NVML shows {gpus}"
        save()
        return 1
    t0 = time.monotonic()
    model_dir = work / ("tiny" if args.rehearse else "llama-8b")
    made = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/training/make_model.py"), str(model_dir),
         "--dims", "tiny" if args.rehearse else "llama-3.1-8b", "--device", "cpu" if args.rehearse else "cuda"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if made.returncode != 0:
        summary["error"] = f"building the model failed: {made.stderr[-2000:]}"
        save()
        return 1
    build_s = round(time.monotonic() - t0, 1)
    rng = random.Random(0)
    from tests.helpers.tiny_model import _WORDS

    data = work / "rows.jsonl"
    with open(data, "w") as handle:  # rows longer than 1024 tokens: every row is cut to the full length
        for _ in range(400):
            handle.write(json.dumps({"text": " ".join(rng.choice(_WORDS) for _ in range(900))}) + "\n")
    config = work / "bench.toml"  # no sample generations: they cost time and measure nothing here
    config.write_text(
        f'model = "{model_dir}"\ndata = "{data}"\nsamples = 0\n\n[training]\nsave_steps = 1000\n'
    )
    one = estimate(model_dir, 1, "single", plan)
    two = estimate(model_dir, 2, "fsdp", plan)
    # The cap: halfway between what sharded over two needs and what one GPU needs (driver level); the
    # CUDA context (outside torch's allocator) comes off it for the fraction torch is given.
    cap_gib = (one["total_gib"] + two["total_gib"]) / 2
    context_gib = one["breakdown"]["cuda_context"]
    fraction = (cap_gib - context_gib) / card_gib if card_gib else 0.0
    import torch

    try:  # how the GPUs are linked (NVLink or PCIe): what (c)'s all-reduce and (a)'s gathers run over
        topology = subprocess.run(
            ["nvidia-smi", "topo", "-m"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        topology = None
    (out / "env.json").write_text(
        json.dumps(
            {
                "torch": torch.__version__,
                "gpus": names,
                "card_gib": round(card_gib, 2),
                "model_build_s": build_s,
                "estimate_one_gpu_gib": one["total_gib"],
                "estimate_two_gpus_sharded_gib": two["total_gib"],
                "cap_gib_driver_level": round(cap_gib, 2),
                "cap_fraction_torch": round(fraction, 4),
                "plan": plan,
                "steps": args.steps,
                "phases": sorted(phases),
                "topology": topology,
            },
            indent=1,
        )
    )
    print(f"[bench] model in {build_s} s; cap {cap_gib:.1f} GiB (fraction {fraction:.4f})", flush=True)
    capped = {
        **env,
        "BENCH_GPU_FRACTION": f"{fraction:.6f}",
        "PYTHONPATH": f"{HERE / 'cap'}{os.pathsep}{env['PYTHONPATH']}",
    }
    if args.rehearse:
        capped = dict(env)
    steps = str(args.steps)

    def train(
        name: str, flags: list[str], run_env: dict[str, str], gpu_count: int, way: str, *, timeout: float
    ):
        runs_dir = work / "runs" / name
        begun = time.monotonic()
        with GpuSampler(gpus) as sampler:
            result = ftui(
                "train",
                str(config),
                *flags,
                "--runs-dir",
                str(runs_dir),
                "--json",
                env=run_env,
                timeout=timeout,
            )
        entry: dict = {
            "command": ["ftui", "train", *flags],
            "returncode": result.returncode,
            "seconds": round(time.monotonic() - begun, 1),
            "gpu_peaks_gib": sampler.peaks(),
            "estimate": estimate(model_dir, gpu_count, way, flags),
        }
        found = sorted(runs_dir.glob("*/status.json"))
        if found:
            entry.update(read_run(found[-1].parent))
            keep_log(found[-1].parent, out, name)
        else:
            entry["stderr"] = result.stderr[-3000:]
        runs[name] = entry
        save()
        print(
            f"[bench] {name}: {entry.get('state')} in {entry['seconds']} s, peaks {entry['gpu_peaks_gib']}",
            flush=True,
        )
        return entry

    # ----- (b) two machines on one host, one GPU each ---------------------------------------------
    def run_b() -> None:
        if "b" not in phases:
            pass
        elif left() > 90:
            name = "b_two_nodes_one_host"
            runs_dir = work / "runs" / name
            endpoint = f"127.0.0.1:{free_port()}"
            flags = [*plan, "--grad-accum", "2", "--max-steps", "8", "--nodes", "2"]
            begun = time.monotonic()
            with GpuSampler(gpus) as sampler:
                first = ftui(
                    "train",
                    str(config),
                    *flags,
                    *([] if args.rehearse else ["--gpus", "0"]),
                    "--sharding",
                    "fsdp",
                    "--rdzv-endpoint",
                    endpoint,
                    "--join-timeout",
                    "120",
                    "--runs-dir",
                    str(runs_dir),
                    "--detach",
                    "--json",
                    env=env,
                    timeout=60,
                )
                payload = json.loads(first.stdout) if first.stdout.strip().startswith("{") else {}
                entry: dict = {
                    "command": ["ftui", "train", *flags],
                    "node0": first.returncode,
                    "endpoint": endpoint,
                }
                if payload:
                    try:
                        joined = ftui(
                            "train",
                            "--join",
                            payload["path"],
                            "--node",
                            "1",
                            *([] if args.rehearse else ["--gpus", "1"]),
                            "--json",
                            env=env,
                            timeout=max(60, left()),
                        )
                        entry["node1"] = joined.returncode
                    except subprocess.TimeoutExpired:  # what the run wrote so far is still read and kept
                        entry["node1"] = "timed out: still running at the end of the budget"
                    entry.update(read_run(Path(payload["path"])))
                    keep_log(Path(payload["path"]), out, name)
                else:
                    entry["stderr"] = first.stderr[-3000:]
            entry.update(
                seconds=round(time.monotonic() - begun, 1),
                gpu_peaks_gib=sampler.peaks(),
                estimate=estimate(model_dir, 2, "fsdp", plan),
            )
            runs[name] = entry
            save()
            print(f"[bench] {name}: {entry.get('state')} in {entry['seconds']} s, peaks {entry['gpu_peaks_gib']}",
                  flush=True)  # fmt: skip
        else:
            summary["b"] = f"skipped: {left():.0f} s left of the budget"

    gpu0 = [] if args.rehearse else ["--gpus", "0"]

    def at_rank(rank: int, batch: int | None = None) -> list[str]:  # the plan at another LoRA rank (alpha =
        flags = list(plan)  # rank, as the plan's) and micro-batch
        flags[flags.index("--rank") + 1] = flags[flags.index("--alpha") + 1] = str(rank)
        if batch is not None:
            flags[flags.index("--batch") + 1] = str(batch)
        return flags

    def accumulation(batch: int) -> int:  # the 1-GPU reference's; the two GPUs take half
        return max(2, 8 // batch)

    def case(rank: int, batch: int) -> str:  # the plan's micro-batch keeps the names it had
        return f"_r{rank}" + ("" if at_rank(rank, batch) == at_rank(rank) else f"_b{batch}")

    def reference_name(rank: int, batch: int) -> str:  # (a)'s reference keeps its name at (a)'s plan
        return (
            "a_one_gpu_reference"
            if at_rank(rank, batch) == plan
            else f"c_one_gpu_reference{case(rank, batch)}"
        )

    order = [p.strip() for p in args.phases.split(",")]
    b_first = "b" in order and "c" in order and order.index("b") < order.index("c")
    if b_first:  # --phases b,c: the two-machine launch before (c), so that a short budget keeps it
        run_b()
    # (c)'s 1-GPU references, but for (a)'s rank when (a) runs: (a) trains that one
    wanted = [c for c in c_cases if "c" in phases and not ("a" in phases and at_rank(*c) == plan)]
    if wanted and left() > 100:
        # one at a time: a one-GPU step at these sizes is host-bound, and two references trained at once
        # slowed each other (2026-11-30, second lease: 1.30-1.65 s a step together, 1.17-1.32 s alone)
        for rank, batch in wanted:
            if left() > 100:
                train(
                    reference_name(rank, batch),
                    [
                        *at_rank(rank, batch),
                        "--grad-accum",
                        str(accumulation(batch)),
                        "--max-steps",
                        steps,
                        *gpu0,
                    ],
                    env,
                    1,
                    "single",
                    timeout=left(),
                )
    # ----- (a) one capped GPU (must run out of memory) beside the 1-GPU reference, then two capped ---
    if "a" not in phases:
        pass
    elif left() > 200:
        gpu1 = [] if args.rehearse else ["--gpus", "1"]
        threads = [
            threading.Thread(
                target=train,
                args=(
                    "a_one_gpu_capped",
                    [*plan, "--grad-accum", "4", "--max-steps", "3", *gpu1],
                    capped,
                    1,
                    "single",
                ),
                kwargs={"timeout": left()},
            ),
            threading.Thread(
                target=train,
                args=(
                    "a_one_gpu_reference",
                    [*plan, "--grad-accum", "4", "--max-steps", steps, *gpu0],
                    env,
                    1,
                    "single",
                ),
                kwargs={"timeout": left()},
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        summary["a_one_gpu"] = f"skipped: {left():.0f} s left of the budget"
    if "a" not in phases:
        pass
    elif left() > 120:
        train(
            "a_two_gpus_capped_sharded",
            [*plan, "--grad-accum", "2", "--max-steps", steps, "--gpus", "0,1", "--sharding", "fsdp"],
            capped,
            2,
            "fsdp",
            timeout=left(),
        )
    else:
        summary["a_two_gpus"] = f"skipped: {left():.0f} s left of the budget"

    # ----- (c) DDP on two GPUs, the same per-GPU micro-batch and effective batch as the reference ----
    def ddp_name(rank: int, batch: int) -> str:
        return "c_two_gpus_ddp" if at_rank(rank, batch) == plan else f"c_two_gpus_ddp{case(rank, batch)}"

    if "c" in phases:
        if not args.rehearse:  # how fast the two GPUs all-reduce, and over what (NCCL's log)
            probe = subprocess.run(
                [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                 str(HERE / "allreduce.py"), str(out / "allreduce.json")],
                capture_output=True, text=True, env={**env, "NCCL_DEBUG": "INFO"}, timeout=120,
            )  # fmt: skip
            (out / "logs").mkdir(exist_ok=True)
            (out / "logs" / "allreduce.log").write_text((probe.stdout + probe.stderr)[-60000:])
        for rank, batch in c_cases:
            if left() > 100:
                train(
                    ddp_name(rank, batch),
                    [*at_rank(rank, batch), "--grad-accum", str(accumulation(batch) // 2), "--max-steps", steps,
                     "--gpus", "0,1", "--sharding", "ddp"],
                    env,
                    2,
                    "ddp",
                    timeout=left(),
                )  # fmt: skip
            else:
                summary[f"c{case(rank, batch)}"] = f"skipped: {left():.0f} s left of the budget"
    if not b_first:
        run_b()

    # ----- verdicts ---------------------------------------------------------------------------------
    ref, capped1, sharded = (
        runs.get("a_one_gpu_reference", {}),
        runs.get("a_one_gpu_capped", {}),
        runs.get("a_two_gpus_capped_sharded", {}),
    )
    if ref.get("loss") and sharded.get("loss"):
        common = sorted(set(ref["loss"]) & set(sharded["loss"]))
        with open(out / "loss_curve.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["step", "loss_1gpu", "loss_2gpus_sharded"])
            for step in common:
                writer.writerow([step, ref["loss"][step], sharded["loss"][step]])
        gaps = [abs(ref["loss"][s] - sharded["loss"][s]) for s in common]
        noise = [abs(ref["loss"][a] - ref["loss"][b]) for a, b in zip(common[1:], common[:-1], strict=False)]
        summary["a_loss_gap"] = {
            "steps": len(common),
            "mean_abs": round(statistics.mean(gaps), 4),
            "max_abs": round(max(gaps), 4),
            "step_to_step_mean_abs_1gpu": round(statistics.mean(noise), 4) if noise else None,
        }
    if "a" in phases:
        summary["a_one_gpu_capped_state"] = capped1.get("state")
        summary["a_two_gpus_capped_state"] = sharded.get("state")
        summary["a_verdict"] = capped1.get("state") == "oom" and sharded.get("state") == "completed"
    for rank, batch in c_cases if "c" in phases else []:
        one, two_ddp = runs.get(reference_name(rank, batch), {}), runs.get(ddp_name(rank, batch), {})
        key = "c" if at_rank(rank, batch) == plan else f"c{case(rank, batch)}"  # (a)'s plan keeps its keys
        if not (one.get("tokens_per_second_median") and two_ddp.get("tokens_per_second_median")):
            continue
        scaling = two_ddp["tokens_per_second_median"] / one["tokens_per_second_median"]
        summary[f"{key}_scaling"] = round(scaling, 3)
        summary[f"{key}_target_met"] = scaling >= 1.8
        # the same steps (after the fourth) by total tokens over total time, and each side's step times
        totals = []
        for run in (one, two_ddp):
            timed = [s for s in run.get("step_seconds", {}) if int(s) > 4]
            seconds = sum(run["step_seconds"][s] for s in timed)
            tokens = sum(run.get("step_tokens", {}).get(s, 0) for s in timed)
            totals.append(tokens / seconds if seconds and tokens else None)
            if len(timed) >= 4:
                quartiles = statistics.quantiles([run["step_seconds"][s] for s in timed], n=4)
                summary.setdefault(f"{key}_step_seconds_quartiles", []).append(
                    [round(q, 3) for q in quartiles]
                )
        if all(totals):
            summary[f"{key}_scaling_total_time"] = round(totals[1] / totals[0], 3)
    b_run = runs.get("b_two_nodes_one_host", {})
    summary["b_state"] = b_run.get("state")
    if b_run.get("loss"):  # each optimizer step logged once, by rank 0 of node 0
        summary["b_steps_logged"] = sorted(int(s) for s in b_run["loss"])
    summary["seconds"] = round(time.monotonic() - started, 1)
    save()
    if not args.rehearse:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
