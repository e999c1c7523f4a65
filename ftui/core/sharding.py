"""Several GPUs: per-GPU peak memory for DDP and for sharded training, and which one ftui uses.

Two ways to train on N GPUs, both Unsloth's (2026.10.9):

  ddp   every GPU holds the whole model, its adapters, gradients and optimizer state (one copy per GPU);
        on top of one GPU's peak: DDP's gradient buckets (one more copy of the gradients) and NCCL's
        buffers. Faster when it fits: nothing but gradients crosses between GPUs.
  fsdp  Unsloth's native FSDP2 (UNSLOTH_FSDP2=1, layout "sharded"): weights (the 4-bit ones too, packed in
        a 16-bit storage dtype), adapters, gradients and optimizer state are divided over the N GPUs;
        activations stay per GPU (each GPU trains its own micro-batch). FSDP2 gathers what a step needs for
        a moment: the root unit (embeddings, final norm, lm_head) stays gathered for the whole step (it is
        used first in backward), and a decoder block and the next one (prefetch) are gathered at a time.
        While loading, a 16-bit model is read shard by shard (each GPU its slice of the linear layers, the
        root whole), but a 4-bit (QLoRA) model is loaded whole on every GPU before it is sharded, so its
        whole 4-bit weights must fit one GPU once.

What sharding does not divide, on top of the shards (torch 2.11's FSDP2 under Unsloth 2026.10.9):
  gradient_accumulators  with gradient accumulation, Unsloth's sharded layout skips the reduce-scatter on
        every micro-batch but the last (UNSLOTH_FSDP2_GA_SYNC "skip") and FSDP2 keeps each unsharded
        gradient in the reduce dtype (float32) until then (FSDPParam.to_accumulated_grad_if_needed): a
        whole float32 gradient of every trainable value on every GPU, as one GPU would hold.
  gather_staging  FSDP2 all-gathers into a flat buffer allocated on its own copy-in stream, then copies
        out into the unsharded parameters on the compute stream: the largest unit, the root, is held twice
        while it is gathered, and the staging buffer's memory stays cached in that stream's pool, which the
        compute stream cannot reuse (torch's caching allocator keeps one pool per stream).
  gradients  the sharded gradients live on the reduce-scatter stream (FSDP2 allocates them there), so
        the memory the accumulators free is not where they go: they are counted beside the accumulators.

The parts come from the one-GPU estimate (ftui.core.memory), so the calibration carries over, and they are
summed as on one GPU (a conservative peak: the optimizer's step temporary is not alive while the root is
gathered). Measured on two H200s (BENCHMARKS.md, section multi-GPU): QLoRA r=256 of Llama-3.1-8B dims,
micro-batch 2 x 1024, accumulation 2: 17.33 GiB per GPU at driver level against 17.82 estimated (13.36
before the accumulators and the staging were counted). Modelled, not fitted, from that one point and
torch's code; the total is within 3%, the split is not (the run's allocator cap shows at least 1.79 GiB
outside torch, NCCL_BUFFERS_GIB + the context count 1.37, and the torch side summed is ~0.9 high).
Core module: no torch, no Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ftui.core.dims import ModelDims
from ftui.core.memory import GIB, MemoryEstimate, estimate_peak_vram, parameter_counts
from ftui.core.memory_vision import VisionLoad
from ftui.core.plan import TrainingSettings

# NCCL's buffers for a communicator of a few GPUs on one host (channels x send/recv buffers), per process.
NCCL_BUFFERS_GIB = 0.5
# FSDP2 gathers one decoder block and prefetches the next.
GATHERED_BLOCKS = 2

WAYS = ("ddp", "fsdp")
WAY_WORDS = {
    "single": "one GPU",
    "ddp": "DDP (a whole model copy per GPU)",
    "fsdp": "sharded (Unsloth's FSDP2)",
}


@dataclass(frozen=True)
class PerGpuEstimate:
    """Peak memory of one GPU when training on `gpus` of them the `way` given."""

    way: str  # "single" | "ddp" | "fsdp"
    gpus: int
    breakdown: dict[str, float] = field(default_factory=dict)  # GiB per part while training
    training_gib: float = 0.0  # the sum of the breakdown
    loading_gib: float = 0.0  # while the model loads (before FSDP2 shards a 4-bit model, its whole)

    @property
    def total_gib(self) -> float:
        return round(max(self.training_gib, self.loading_gib), 3)

    def fit(self, vram_gib: float) -> str:
        """'fits' with 10% to spare, 'tight', 'too_big' (as MemoryEstimate.fit)."""
        return MemoryEstimate(total_gib=self.total_gib).fit(vram_gib)

    def to_json(self, vram_gib: float | None = None) -> dict[str, object]:
        return {
            "total_gib": self.total_gib,
            "training_gib": self.training_gib,
            "loading_gib": self.loading_gib,
            "breakdown": dict(self.breakdown),
            "fits": self.fit(vram_gib) if vram_gib is not None else None,
        }


def _root_bytes(dims: ModelDims) -> float:
    """The root unit: input embeddings, lm_head (unless tied) and the final norm, 16-bit in every method."""
    counts = parameter_counts(dims)
    return 2.0 * (counts.embed + counts.head + dims.hidden)


def per_gpu_estimate(
    dims: ModelDims,
    settings: TrainingSettings,
    gpus: int,
    way: str,
    *,
    tokens_per_row: int | None = None,
    vision: VisionLoad | None = None,
) -> PerGpuEstimate:
    """Per-GPU peak of training on `gpus` GPUs `way` ("ddp" or "fsdp"; one GPU is "single").
    A vision model's image tower and its activations (`vision`) are counted whole on every GPU."""
    single = estimate_peak_vram(dims, settings, tokens_per_row=tokens_per_row, vision=vision)
    parts = dict(single.breakdown)
    if gpus <= 1 or way == "single":
        weights_and_context = parts["weights"] + parts["cuda_context"]
        return PerGpuEstimate(
            way="single",
            gpus=1,
            breakdown=parts,
            training_gib=single.total_gib,
            loading_gib=round(weights_and_context, 3),
        )
    if way not in WAYS:
        raise ValueError(f"unknown way {way!r}; known: {', '.join(WAYS)}")
    n = float(gpus)
    context = parts["cuda_context"]
    if way == "ddp":
        # DDP keeps its gradient buckets beside the gradients (gradient_as_bucket_view is off).
        parts["communication"] = parts["gradients"] + NCCL_BUFFERS_GIB
        loading = parts["weights"] + context
    else:
        root = _root_bytes(dims) / GIB
        blocks = max(parts["weights"] - root, 0.0)
        per_block = blocks / max(dims.layers, 1)
        lora_per_block_bf16 = parts["lora"] / 2 / max(dims.layers, 1)  # float32 masters, gathered in bf16
        parts["weights"] = blocks / n + root / n
        parts["lora"] = parts["lora"] / n
        parts["optimizer"] = parts["optimizer"] / n
        # A block's full gradients exist for a moment before the reduce-scatter leaves this GPU its shard.
        block_gradients = parts["gradients"] / max(dims.layers, 1)
        parts["gradients"] = parts["gradients"] / n + block_gradients
        if settings.grad_accum > 1:  # float32, whatever the trainable values' own dtype (reduce dtype)
            parts["gradient_accumulators"] = 4.0 * single.trainable_params / GIB
        parts["gathered"] = root + GATHERED_BLOCKS * (per_block + lora_per_block_bf16)
        parts["gather_staging"] = max(root, GATHERED_BLOCKS * (per_block + lora_per_block_bf16))
        parts["communication"] = NCCL_BUFFERS_GIB
        if settings.method == "qlora":
            loading = single.breakdown["weights"] + context  # the whole 4-bit model, on every GPU
        else:
            loading = blocks / n + root + context  # each GPU reads its slice of the linear layers
    parts = {name: round(value, 3) for name, value in parts.items()}
    return PerGpuEstimate(
        way=way,
        gpus=gpus,
        breakdown=parts,
        training_gib=round(sum(parts.values()), 3),
        loading_gib=round(loading, 3),
    )


@dataclass(frozen=True)
class Choice:
    """How ftui trains on `gpus` GPUs of `vram_gib` each, and why."""

    way: str  # "single" | "ddp" | "fsdp"
    estimate: PerGpuEstimate  # the chosen way's per-GPU peak
    fits: str | None  # fits | tight | too_big; None without a card to compare with
    reason: str
    options: dict[str, PerGpuEstimate] = field(default_factory=dict)  # every way, for N > 1


_FIT_ORDER = {"fits": 0, "tight": 1, "too_big": 2}


def choose_way(
    dims: ModelDims,
    settings: TrainingSettings,
    gpus: int,
    vram_gib: float | None,
    *,
    card: str | None = None,
    tokens_per_row: int | None = None,
    vision: VisionLoad | None = None,
) -> Choice:
    """DDP when a whole copy fits each GPU (it is faster), else sharded when that fits, else the lighter
    of the two (sharded), said to be too big. `vram_gib` None: no card to check, DDP is assumed."""
    where = card or (f"{vram_gib:g} GiB GPU" if vram_gib is not None else "GPU")
    if gpus <= 1:
        one = per_gpu_estimate(dims, settings, 1, "single", tokens_per_row=tokens_per_row, vision=vision)
        fits = one.fit(vram_gib) if vram_gib is not None else None
        return Choice("single", one, fits, "One GPU.", {"single": one})
    options = {
        way: per_gpu_estimate(dims, settings, gpus, way, tokens_per_row=tokens_per_row, vision=vision)
        for way in WAYS
    }
    ddp, fsdp = options["ddp"], options["fsdp"]
    if vram_gib is None:
        return Choice(
            "ddp",
            ddp,
            None,
            f"No GPU memory to compare with: DDP (a whole model copy per GPU, about {ddp.total_gib:.1f} GiB "
            f"each; sharded over {gpus} about {fsdp.total_gib:.1f} GiB each).",
            options,
        )
    fit = {way: options[way].fit(vram_gib) for way in WAYS}
    way = min(WAYS, key=lambda w: (_FIT_ORDER[fit[w]], w != "ddp"))
    if fit[way] == "too_big":
        way = "fsdp"
    chosen = options[way]
    if way == "ddp":
        reason = (
            f"DDP: a whole model copy needs about {ddp.total_gib:.1f} GiB per GPU, which fits the "
            f"{vram_gib:.1f} GiB of each {where}; it is faster than sharding."
        )
    elif fit[way] != "too_big":
        short = "more than" if fit["ddp"] == "too_big" else "which leaves under 10% to spare of"
        reason = (
            f"Sharded over {gpus} GPUs (Unsloth's FSDP2): a whole model copy needs about {ddp.total_gib:.1f} "
            f"GiB per GPU, {short} the {vram_gib:.1f} GiB of each {where}; sharded it needs about "
            f"{fsdp.total_gib:.1f} GiB each."
        )
    else:
        loading = ""
        if fsdp.loading_gib >= fsdp.training_gib:
            loading = (
                f" ({fsdp.loading_gib:.1f} GiB while loading: Unsloth loads the whole 4-bit model on every "
                "GPU before it shards it)"
            )
        reason = (
            f"Too big for {gpus} x {where} ({vram_gib:.1f} GiB each): a whole model copy needs about "
            f"{ddp.total_gib:.1f} GiB per GPU, and sharded over {gpus} still {fsdp.total_gib:.1f} GiB{loading}."
        )
    return Choice(way, chosen, fit[way], reason, options)
