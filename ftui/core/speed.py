"""Training time: seconds per optimizer step, tokens per second, and the ETA of a whole run.

A micro-step costs whichever is larger, the GPU's work or the host's (soft maximum; the host launches the
next kernels while the GPU runs the last ones):
  GPU work   the matmul FLOPs of the linear layers (forward, checkpoint recompute, backward; full
             fine-tuning adds the weight gradients) at the card's achieved matmul rate, attention FLOPs at
             the rate its kernels reach, and the elementwise traffic of the activations (and QLoRA's
             dequantizing of every weight, each pass) at memory speed
  host work  a fixed cost per layer and pass: Python, Unsloth's hooks and offloading, kernel launches
             (more with QLoRA, which dequantizes before each matmul; less on Unsloth's generic path, whose
             layers are compiled), and a fixed cost per micro-step (the trainer's loop)
A routed-experts (MoE) step is the sum of the two instead: its layers make the host wait for the GPU.
The rates are the card's datasheet figures times the fractions calibrated on the H200
(benchmarks/vram/results.json; BENCHMARKS.md, section estimator). A vision fine-tune (FastVisionModel) adds
the image tower's FLOPs to the GPU work and its layers to the host's, and its GPU work runs slower than the
text path's by a factor fitted on the H200 vision steps (benchmarks/vram/results_vision.json; BENCHMARKS.md,
vision estimator). Core module: no torch, no Textual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ftui.core.dims import ModelDims
from ftui.core.memory import _effective_intermediate, _linear_shapes, parameter_counts
from ftui.core.memory_vision import VisionLoad, tower_flops_per_row
from ftui.core.plan import DatasetSummary, TrainingSettings


@dataclass(frozen=True)
class GpuSpeed:
    name: str  # the catalog's name (assets/gpus.toml)
    tflops: float  # dense bf16 tensor TFLOP/s with float32 accumulation (fp16 on cards without bf16)
    memory_tb_s: float  # memory bandwidth, TB/s


# Vendor datasheets (dense figures, no sparsity). H100 80GB: the SXM card (the PCIe one is ~25% slower).
GPU_SPEEDS: dict[str, GpuSpeed] = {
    gpu.name.lower(): gpu
    for gpu in (
        GpuSpeed("T4", 65.0, 0.32),
        GpuSpeed("L4", 121.0, 0.30),
        GpuSpeed("A10G", 70.0, 0.60),  # AWS publishes no datasheet; third-party figure
        GpuSpeed("RTX 3090", 71.0, 0.936),
        GpuSpeed("RTX 4090", 165.2, 1.008),
        GpuSpeed("RTX 5090", 209.5, 1.792),
        GpuSpeed("A100 40GB", 312.0, 1.555),
        GpuSpeed("A100 80GB", 312.0, 2.039),
        GpuSpeed("L40S", 362.0, 0.864),
        GpuSpeed("H100 80GB", 989.0, 3.35),
        GpuSpeed("H100 NVL", 835.0, 3.9),
        GpuSpeed("H200", 989.0, 4.8),
        GpuSpeed("B200", 2250.0, 8.0),
    )
}

# --- Calibrated on the H200 (benchmarks/vram/results.json); the H200's datasheet is 989 TFLOP/s, 4.8 TB/s. ---
MATMUL_MEASURED_H200_TFLOPS = 788.0  # 8192^3 bf16 matmul measured there (benchmarks/vram/measure.py)


@dataclass(frozen=True)
class TimeConstants:
    """The fitted part of the time model (benchmarks/vram/analyze.py calibrate-time refits those it names in
    TIME_FIELDS on every H200 measurement of results.json: 72 of 2026-11-28 to 30; BENCHMARKS.md, issue 17)."""

    linear_efficiency: float = 0.7108  # the linear layers' FLOPs ran at 703 TFLOP/s in training
    attention_efficiency: float = 0.4153  # causal SDPA forward + backward
    bandwidth_efficiency: float = 4.3 / 4.8  # device-to-device copies measured 4.3 TB/s (not fitted)
    # Elementwise traffic (norms, RoPE, SwiGLU, copies) per token, layer and pass, per (2 x hidden + MLP width).
    elementwise_bytes: float = 37.4
    host_seconds_per_layer: float = 0.01093  # per step of forward + recompute + backward
    host_seconds_per_layer_qlora: float = 0.00143  # QLoRA's extra dequantize launches
    # Unsloth's other path (FastModel): transformers' own layers, each compiled as one region, so the host
    # launches fewer kernels a layer. Full fine-tuning of every model goes this way (loader.py sends
    # full_finetuning to FastModel), and so do LoRA and QLoRA of the model types Unsloth has no kernels for
    # (UNSLOTH_KERNEL_ARCHITECTURES): one figure for Llama's full fine-tuning (8.7 ms a layer at 1 x 2048)
    # and Gemma 3's QLoRA (8.3-12.6 ms over four leases), adapters and all.
    host_seconds_per_layer_compiled: float = 0.00893
    # A micro-step's host work outside the layers: the trainer's loop, the batch's collation, the loss, and
    # (at accumulation 1, as every measurement) the optimizer's step; counted a micro-step, so a run with
    # accumulation is over-estimated by the optimizer's share, never under.
    host_seconds_per_micro_step: float = 0.0096
    soft_max_power: float = 3.0
    # Vision (FastVisionModel): its GPU work (language layers and tower) over what the rates above give.
    # Fitted on the four H200 vision steps of 2026-11-30 (benchmarks/vram/analyze_vision.py calibrate-time,
    # least squares on log(predicted / measured); BENCHMARKS.md, vision estimator): 3.02, rounded. Only the
    # two GPU-bound steps carry it (Qwen2.5-VL-3B, 8192 tokens a micro-batch: 1.33-1.36 s measured where the
    # text path's rates give 0.40-0.42 s of GPU work); the two host-bound steps hardly move with it. The
    # likely cause: FastVisionModel trains the model's own transformers layers with PEFT's LoRA modules where
    # FastLanguageModel has Unsloth's fused text kernels (and a different checkpointing: memory_vision.py,
    # LANGUAGE_KEPT_BYTES). Not isolated: a profile of one step would split it.
    vision_gpu_factor: float = 3.0
    # The image tower's host cost per layer against the text path's (host_seconds_per_layer and _compiled): 1, not
    # fitted. Fitted freely beside vision_gpu_factor on the same four steps it comes out 0.90 (10.2 ms a tuned
    # LoRA layer), but leaving one step out then misses it by up to 15% under (calibrate-time), so it is held.
    vision_tower_host_scale: float = 1.0
    # QLoRA dequantizes each 4-bit weight to bf16 before its matmul, in every pass: bytes of memory traffic a
    # weight a pass (0.5 read, 2 written, 2 read back by the matmul), not fitted. It matters where the tokens
    # are few and the weights many: a routed-experts model dequantizes every expert for the few it uses.
    dequantize_bytes: float = 4.5


TIME = TimeConstants()

# The model types Unsloth 2026.10.9 trains with LoRA or QLoRA through its own kernels and patched layers
# (unsloth/models/loader.py, FastLanguageModel's dispatch); every other type goes through FastModel.
UNSLOTH_KERNEL_ARCHITECTURES = frozenset({"llama", "mistral", "gemma", "gemma2", "qwen2", "qwen3"})


@dataclass(frozen=True)
class StepTime:
    seconds_per_step: float  # one optimizer step: grad_accum micro-batches
    seconds_per_micro_step: float
    tokens_per_second: float
    tokens_per_step: int
    gpu: str


@dataclass(frozen=True)
class Eta:
    steps: int
    seconds: float
    tokens: int  # tokens trained on over the whole run
    step: StepTime


def gpu_speed(name: str | GpuSpeed) -> GpuSpeed | None:
    """A GPU's datasheet speed by the catalog's name (any case); None when ftui has no figures for it."""
    if isinstance(name, GpuSpeed):
        return name
    key = name.strip().lower()
    if key in GPU_SPEEDS:
        return GPU_SPEEDS[key]
    try:  # a forgiving name ("h100", "NVIDIA A100-SXM4-80GB"), through the catalog when it is there
        from ftui.core.catalog import load_catalog

        gpu = load_catalog().gpu(name)
    except Exception:  # the catalog is optional here: a broken one must not break a time estimate
        return None
    return GPU_SPEEDS.get(gpu.name.lower()) if gpu else None


def achieved_matmul_tflops(gpu: str | GpuSpeed) -> float | None:
    """The dense bf16 matmul rate the card reaches (what MFU divides by): the H200's measured fraction of
    its datasheet, applied to this card's datasheet."""
    speed = gpu_speed(gpu)
    if speed is None:
        return None
    return speed.tflops * MATMUL_MEASURED_H200_TFLOPS / 989.0


def _active_linear_params(dims: ModelDims) -> float:
    """Linear-layer parameters one token goes through (MoE: experts_per_token experts and the shared ones)."""
    total = 0.0
    for parts in _linear_shapes(dims).values():
        for i, o, copies in parts:
            if copies > 1:  # routed experts
                copies = max(dims.experts_per_token, 1)
            total += i * o * copies
    return total * dims.layers


def flops_per_token(dims: ModelDims, settings: TrainingSettings, row: int | None = None) -> float:
    """Model FLOPs per trained token (6 per active parameter, plus attention): the numerator of MFU."""
    row = row or settings.seq
    attention = 6 * 2 * row / 2 * dims.heads * dims.attention_head_dim * dims.layers  # causal: half the keys
    return 6 * (_active_linear_params(dims) + dims.vocab * dims.hidden) + attention


def attended_keys(dims: ModelDims, row: int) -> float:
    """Keys a query attends to, on average over the row's queries and the layers: row/2 for causal
    attention, at most the window in sliding-window layers."""
    full = row / 2
    window = dims.sliding_window or 0
    if not window or not dims.sliding_layers or window >= row:
        return full
    # the first `window` queries see all before them, the rest exactly `window`
    windowed = (window * window / 2 + (row - window) * window) / row
    share = min(dims.sliding_layers, dims.layers) / max(dims.layers, 1)
    return share * windowed + (1 - share) * full


def _micro_step_seconds(
    dims: ModelDims,
    settings: TrainingSettings,
    speed: GpuSpeed,
    row: int,
    constants: TimeConstants = TIME,
    vision: VisionLoad | None = None,
) -> float:
    c = constants
    tokens = max(1, settings.batch) * max(1, row)
    checkpointed = settings.gradient_checkpointing != "none"
    passes = 3 if checkpointed else 2  # forward, recompute, backward (input gradients)
    linear_passes = passes + (1 if settings.method == "full" else 0)  # weight gradients
    linear = 2 * _active_linear_params(dims) * tokens * linear_passes
    head = 2 * dims.vocab * dims.hidden * tokens * (2 + (1 if settings.method == "full" else 0))
    attention_passes = 4.5 if checkpointed else 3.5  # flash backward is about 2.5 forwards
    keys = 2 * attended_keys(dims, row)  # the time model's unit: row for causal attention without a window
    attention = attention_passes * 2 * keys * dims.heads * dims.attention_head_dim * tokens * dims.layers
    width = 2 * dims.hidden + _effective_intermediate(dims)
    traffic = c.elementwise_bytes * tokens * dims.layers * width * passes
    bandwidth = speed.memory_tb_s * 1e12 * c.bandwidth_efficiency
    family = None
    if vision is not None:
        from ftui.core.vision import family_for

        family = family_for(dims.architecture)
        if family is not None:
            linear += max(1, settings.batch) * tower_flops_per_row(family, settings, vision)
    gpu = (
        (linear + head) / (speed.tflops * 1e12 * c.linear_efficiency)
        + attention / (speed.tflops * 1e12 * c.attention_efficiency)
        + traffic / bandwidth
    )
    if family is not None:
        gpu *= c.vision_gpu_factor
    if settings.method == "qlora" and c.dequantize_bytes and family is None:  # vision_gpu_factor holds it
        gpu += parameter_counts(dims, settings).linear * c.dequantize_bytes * passes / bandwidth
    if settings.method == "full":  # the optimizer reads and writes every weight, gradient and state
        gpu += parameter_counts(dims, settings).total * 16 / bandwidth / max(settings.grad_accum, 1)
    host = dims.layers * _host_seconds_per_layer(dims, settings, c) * passes / 3
    host += c.host_seconds_per_micro_step
    if family is not None:
        host += _tower_host_seconds(family.tower.layers, settings, c, passes)
    if dims.is_moe:
        # A routed-experts layer reads its experts' token counts on the host (twice a layer a step measured,
        # against two or three a step for a dense model: benchmarks/vram/results.json, syncs_per_step), so
        # the host waits for the GPU at every layer and cannot launch ahead: the two add up.
        return gpu + host
    return (gpu**c.soft_max_power + host**c.soft_max_power) ** (1 / c.soft_max_power)


def _host_seconds_per_layer(dims: ModelDims, settings: TrainingSettings, c: TimeConstants) -> float:
    """The host's cost of one layer a step (forward, recompute, backward), by the path Unsloth trains it on."""
    from ftui.core.vision import family_for

    qlora = c.host_seconds_per_layer_qlora if settings.method == "qlora" else 0.0
    if settings.method == "full":
        return c.host_seconds_per_layer_compiled
    # a vision model (FastVisionModel, with or without images) keeps the figure its steps were fitted with
    if dims.architecture in UNSLOTH_KERNEL_ARCHITECTURES or family_for(dims.architecture) is not None:
        return c.host_seconds_per_layer + qlora
    return c.host_seconds_per_layer_compiled + qlora


def _tower_host_seconds(layers: int, settings: TrainingSettings, c: TimeConstants, passes: int) -> float:
    """The image tower's host cost a micro-step: its layers are launched as the language layers are, so
    each costs the text path's per-layer figure (not refitted). Tuned with LoRA: adapters on each layer,
    in every pass (the tower is held in 16 bits under QLoRA too, so no dequantize launches); full
    fine-tuning: no adapters; frozen: one forward without adapters and no backward through it (not
    measured)."""
    scale = c.vision_tower_host_scale * layers
    if settings.method == "full":
        return scale * c.host_seconds_per_layer_compiled * passes / 3
    if settings.finetune_vision_layers:
        return scale * c.host_seconds_per_layer * passes / 3
    return scale * c.host_seconds_per_layer_compiled / 3


def estimate_step_time(
    dims: ModelDims,
    settings: TrainingSettings,
    gpu: str | GpuSpeed,
    *,
    tokens_per_row: int | None = None,
    vision: VisionLoad | None = None,
    constants: TimeConstants = TIME,
) -> StepTime | None:
    """Seconds per optimizer step on `gpu` with every row at `settings.seq` tokens (or `tokens_per_row`:
    Unsloth packs rows without padding, so a dataset's mean row length is what a step costs). None when
    ftui has no speed figures for the card."""
    speed = gpu_speed(gpu)
    if speed is None:
        return None
    row = min(settings.seq, tokens_per_row) if tokens_per_row else settings.seq
    micro = _micro_step_seconds(dims, settings, speed, max(1, row), constants, vision)
    accum = max(settings.grad_accum, 1)
    tokens = max(1, settings.batch) * max(1, row) * accum
    return StepTime(
        seconds_per_step=micro * accum,
        seconds_per_micro_step=micro,
        tokens_per_second=tokens / (micro * accum),
        tokens_per_step=tokens,
        gpu=speed.name,
    )


def estimate_eta(
    dims: ModelDims,
    settings: TrainingSettings,
    gpu: str | GpuSpeed,
    dataset: DatasetSummary | int,
    vision: VisionLoad | None = None,
) -> Eta | None:
    """How long the whole run takes: steps from the dataset's rows (or its token count when rows are
    unknown: rows packed to settings.seq), epochs or max_steps, each at the mean row length."""
    rows: int | None
    total_tokens: int | None
    if isinstance(dataset, int):
        total_tokens, rows = dataset, None
    else:
        total_tokens, rows = dataset.total_tokens, dataset.rows
    if not total_tokens:
        return None
    if not rows:
        rows = max(1, math.ceil(total_tokens / settings.seq))
    mean_row = max(1, min(settings.seq, round(total_tokens / rows)))
    per_step_rows = max(1, settings.batch) * max(1, settings.grad_accum)
    if settings.max_steps:
        steps = settings.max_steps
    else:
        steps = max(1, math.ceil(rows * settings.epochs / per_step_rows))
    step = estimate_step_time(dims, settings, gpu, tokens_per_row=mean_row, vision=vision)
    if step is None:
        return None
    return Eta(
        steps=steps, seconds=steps * step.seconds_per_step, tokens=steps * step.tokens_per_step, step=step
    )
