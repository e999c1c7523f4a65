"""What a vision fine-tune adds to the text estimate: the image tower's adapters and activations, what the
language model receives from it, and what the vision path's language layers keep that the text path's do
not. Measured on an H200 on 2026-11-30 (benchmarks/vram/measure_vision.py, four configurations of
Qwen2.5-VL-3B and Gemma-3-4B; BENCHMARKS.md, vision estimator): the tower terms below are first principles,
the language term is fitted to those runs.

Per micro-batch of `batch` rows with `images_per_row` images of the given size each (the family's own rule,
ftui/core/vision.py, says how many patches the tower runs over and how many tokens reach the text):

  vision LoRA        adapters on the tower's attention and/or MLP when its layers are tuned (float32, with
                     their gradients and optimizer states, as the language model's)
  tower activations  tuned: what backward needs through the tower: every layer's input (HF's gradient
                     checkpointing in the tower keeps them on the GPU) plus one layer's recompute; frozen:
                     one layer's forward at a time, nothing kept (no parameter there needs a gradient)
  image features     the tower's output and the projector's, on their way to the text (Llama 3.2 Vision: the
                     cross-attention states every cross-attention layer reads, and their gradient)

  language kept      per token of the micro-batch, per layer and hidden unit of the language model: what
                     FastVisionModel's language layers hold on the GPU beyond the text estimate (calibrated
                     on FastLanguageModel, whose offloaded checkpointing keeps one layer's recompute); Qwen2.5-VL
                     and Gemma 3 only: Llama 3.2 Vision measured without it

Image tokens sit in the sequence that the text estimate already takes at its maximum length (Qwen2.5-VL,
Gemma 3, Pixtral); Llama 3.2 Vision's one <|image|> token per image too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftui.core.plan import Plan, TrainingSettings
from ftui.core.vision import Mllama, VisionFamily, family_for

# Bytes per patch, per unit of tower width (w) and MLP width (m): first principles, bf16 activations.
TUNED_KEPT_PER_LAYER_W = 2.0  # each layer's input, kept for the recompute
RECOMPUTE_W, RECOMPUTE_M = (
    20.0,
    6.0,
)  # one layer's forward + backward live at once: ~10 w-wide, ~3 m-wide tensors
FROZEN_W, FROZEN_M = 8.0, 4.0  # one layer's forward, nothing kept
FEATURES_W = 8.0  # the tower's output, the projector's input and output (merged patches), and their gradients
# Measured, 2026-11-30 H200: with the text estimate and the tower terms above, the four vision runs came out
# 11-47% under (driver-level peaks). What was missing grows with the micro-batch's text tokens and not with
# the images: Qwen2.5-VL-3B QLoRA 4 x 2048 with four 512x512 images and LoRA 2 x 4096 with four 512x384 ones
# (the same 8k tokens, 5184 vs 4032 tower patches, 4-bit vs 16-bit weights) both held ~5.1 GiB more torch
# memory than estimated, 1 x 2048 held 0.9 GiB more, and Gemma-3-4B's 1 x 1024 (4096 patches) 0.2 GiB.
# Per token and per layer x hidden unit of the language model that is 8.8-10.0 bytes across both families
# (per token x vocabulary it would be 3.0-4.8: the looser fit), i.e. ~5 bf16 hidden-wide values per layer
# per token stay on the GPU through backward in FastVisionModel's language layers, where the text path's
# offloaded checkpointing keeps them in CPU RAM. Which tensors they are was not isolated (one more device
# run with torch.cuda.memory_snapshot would say); 12 is the least-squares value over the driver-level peaks
# (11.7) rounded up, so that the one LoRA row, whose allocator also kept 2.5 GiB of fragments, stays within
# 6% under.
LANGUAGE_KEPT_BYTES = 12.0  # per token x language layer x hidden unit
ATTENTION_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_LINEARS = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class VisionLoad:
    """The images a row carries: how many, and how large (pixels)."""

    images_per_row: int = 1
    image_size: tuple[int, int] = (1024, 1024)


def vision_load_for(plan: Plan, architecture: str) -> VisionLoad | None:
    """The images a row carries for this plan and model: the data's when it has images, one 1024x1024 image
    on the vision use case before the data is read; None for a text plan or a model of no vision family."""
    if family_for(architecture) is None:
        return None
    data = plan.dataset
    if data is not None and data.modality == "vision":
        size = tuple(data.image_size) if data.image_size else VisionLoad().image_size
        return VisionLoad(max(1, data.images_per_row), size)  # type: ignore[arg-type]
    return VisionLoad() if plan.use_case == "vision" else None


@dataclass(frozen=True)
class VisionExtra:
    lora: int  # adapter values on the tower
    activations: float  # bytes
    features: float  # bytes
    language: float  # bytes: what the vision path's language layers keep beyond the text estimate
    image_tokens_per_row: int
    tower_patches_per_row: int


def language_targets(settings: TrainingSettings) -> tuple[str, ...]:
    """The language model's LoRA targets under the four finetune_* flags (Unsloth's regex keeps the target
    list's attention and/or MLP names, in the language layers only when those are tuned)."""
    if settings.method == "full" or not settings.finetune_language_layers:
        return ()
    keep = set()
    if settings.finetune_attention_modules:
        keep |= set(ATTENTION_LINEARS)
    if settings.finetune_mlp_modules:
        keep |= set(MLP_LINEARS)
    return tuple(name for name in settings.target_modules if name in keep)


def vision_extra(
    family: VisionFamily,
    settings: TrainingSettings,
    load: VisionLoad,
    language_hidden: int,
    language_layers: int = 0,
    tokens: int = 0,
) -> VisionExtra:
    """The vision part for `tokens` text tokens in the micro-batch (batch x row length) through a language
    model of `language_layers` layers of width `language_hidden`."""
    tower = family.tower
    width, height = load.image_size
    images = max(0, load.images_per_row) * max(1, settings.batch)
    patches = family.tower_tokens(width, height)
    tuned = settings.method == "full" or (settings.method != "full" and settings.finetune_vision_layers)
    lora = 0
    if settings.method != "full" and settings.finetune_vision_layers:
        per_layer = 0
        if settings.finetune_attention_modules:
            per_layer += tower.attention_linears * (tower.width + tower.width)
        if settings.finetune_mlp_modules:
            per_layer += (3 if tower.gated_mlp else 2) * (tower.width + tower.mlp)
        lora = tower.layers * settings.rank * per_layer
    w, m = tower.width, tower.mlp
    total = images * patches
    if tuned:
        activations = total * (tower.layers * TUNED_KEPT_PER_LAYER_W * w + RECOMPUTE_W * w + RECOMPUTE_M * m)
    else:
        activations = total * (FROZEN_W * w + FROZEN_M * m)
    features = total * FEATURES_W * w
    if isinstance(family, Mllama):  # cross-attention states: every tile's patches at the text's width
        features += images * patches * language_hidden * 2 * 3
    # Llama 3.2 Vision keeps none of it (H200, 2026-11-30, second run: with the term its two QLoRA rows came
    # out +33% and +60%, over by 3.2 and 7.5 GiB where the term adds 1.9 and 7.5): its language layers are
    # checkpointed as the text path's are.
    kept = 0.0 if isinstance(family, Mllama) else LANGUAGE_KEPT_BYTES
    return VisionExtra(
        lora=lora,
        activations=activations,
        features=features,
        language=tokens * language_layers * language_hidden * kept,
        image_tokens_per_row=load.images_per_row * family.image_tokens(width, height),
        tower_patches_per_row=load.images_per_row * patches,
    )


def tower_flops_per_row(family: VisionFamily, settings: TrainingSettings, load: VisionLoad) -> float:
    """The tower's matmul FLOPs for one row's images: forward only when frozen; forward, recompute and
    backward (input gradients) when tuned. ftui/core/speed.py adds them to the GPU work and the tower's
    layers to the host's, and slows the vision path's GPU work by TimeConstants.vision_gpu_factor (fitted on
    the H200 vision steps; on those steps the tower's FLOPs are 1-2% of the time)."""
    tower = family.tower
    patches = load.images_per_row * family.tower_tokens(*load.image_size)
    tuned = settings.method == "full" or settings.finetune_vision_layers
    passes = 3 + (1 if settings.method == "full" else 0) if tuned else 1
    attention = (
        2 * 2 * patches * min(patches, 2048) * tower.width * tower.layers
    )  # windowed or full, per image
    return passes * (2 * tower.params * patches + attention)
