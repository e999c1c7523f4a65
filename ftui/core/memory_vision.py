"""What a vision fine-tune adds to the text estimate: the image tower's adapters and activations, and what
the language model receives from it. First principles, not yet measured: benchmarks/vram/measure_vision.py
measures it on an H200 and benchmarks/vram/analyze_vision.py compares and sets the constants below.

Per micro-batch of `batch` rows with `images_per_row` images of the given size each (the family's own rule,
ftui/core/vision.py, says how many patches the tower runs over and how many tokens reach the text):

  vision LoRA        adapters on the tower's attention and/or MLP when its layers are tuned (float32, with
                     their gradients and optimizer states, as the language model's)
  tower activations  tuned: what backward needs through the tower: every layer's input (HF's gradient
                     checkpointing in the tower keeps them on the GPU) plus one layer's recompute; frozen:
                     one layer's forward at a time, nothing kept (no parameter there needs a gradient)
  image features     the tower's output and the projector's, on their way to the text (Llama 3.2 Vision: the
                     cross-attention states every cross-attention layer reads, and their gradient)

The text side needs nothing new: image tokens sit in the sequence that the text estimate already takes at
its maximum length (Qwen2.5-VL, Gemma 3, Pixtral); Llama 3.2 Vision's one <|image|> token per image too.
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
    family: VisionFamily, settings: TrainingSettings, load: VisionLoad, language_hidden: int
) -> VisionExtra:
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
    return VisionExtra(
        lora=lora,
        activations=activations,
        features=features,
        image_tokens_per_row=load.images_per_row * family.image_tokens(width, height),
        tower_patches_per_row=load.images_per_row * patches,
    )


def tower_flops_per_row(family: VisionFamily, settings: TrainingSettings, load: VisionLoad) -> float:
    """The tower's matmul FLOPs for one row's images: forward only when frozen; forward, recompute and
    backward (input gradients) when tuned."""
    tower = family.tower
    patches = load.images_per_row * family.tower_tokens(*load.image_size)
    tuned = settings.method == "full" or settings.finetune_vision_layers
    passes = 3 + (1 if settings.method == "full" else 0) if tuned else 1
    attention = (
        2 * 2 * patches * min(patches, 2048) * tower.width * tower.layers
    )  # windowed or full, per image
    return passes * (2 * tower.params * patches + attention)
