"""What each vision-language family does with an image: how many tokens it becomes, how many a row may
hold, and the image tower that reads it. The inspector counts tokens with it, the estimator sizes memory
and time with it, and the advice shortlists only the families listed here (the ones ftui can train).

The facts are the families' own processors and configs in transformers 5.17 (the files named per entry)
plus the one thing Unsloth's UnslothVisionDataCollator does first: with its default resize="min" it scales
an image wider than the tower's `image_size` (512 where the config has none) down to that width, keeping
the aspect ratio (unsloth_zoo/vision_utils.py, UnslothVisionDataCollator.__init__ and
_resize_images_inplace). Core module: no torch, no PIL, no Textual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VisionTower:
    """The image encoder in the numbers that decide memory and time (one per family: every size shares it)."""

    layers: int
    width: int  # hidden size of the tower
    mlp: int  # its MLP width
    heads: int
    patch: int  # pixels per patch side
    # Linear layers per block besides the MLP's two: q, k, v, o (Qwen's fused qkv counts as three).
    attention_linears: int = 4
    gated_mlp: bool = False  # SwiGLU (three MLP matrices) rather than fc1/fc2

    @property
    def params(self) -> int:
        mlp = (3 if self.gated_mlp else 2) * self.width * self.mlp
        return self.layers * (self.attention_linears * self.width * self.width + mlp)


@dataclass(frozen=True)
class VisionFamily:
    name: str  # in the user's words
    architectures: tuple[str, ...]  # config.json model_type values
    tower: VisionTower
    unsloth_resize: int  # Unsloth's collator scales wider images down to this width
    max_images_per_row: int | None  # None: as many as fit in the max length
    why_max_images: str = ""
    source: str = ""

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The image's size after Unsloth's collator (wider than unsloth_resize: scaled to that width)."""
        if width > self.unsloth_resize:
            height = max(1, (height * self.unsloth_resize + width // 2) // width)
            width = self.unsloth_resize
        return width, height

    def image_tokens(self, width: int, height: int) -> int:
        """Tokens the image takes in the language model's sequence (what counts against the max length)."""
        raise NotImplementedError

    def tower_tokens(self, width: int, height: int) -> int:
        """Patches the image tower runs over for this image (what its activations scale with)."""
        raise NotImplementedError


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen2-VL's resize (transformers/models/qwen2_vl/image_processing_qwen2_vl.py): both sides a multiple
    of `factor`, the area between min_pixels and max_pixels, the aspect ratio kept."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class QwenVL(VisionFamily):
    """Dynamic resolution: 14-pixel patches, 2x2 of them merged into one token."""

    merge: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 28 * 28 * 1280

    def _grid(self, width: int, height: int) -> tuple[int, int]:
        width, height = self.resized(width, height)
        factor = self.tower.patch * self.merge
        h, w = smart_resize(height, width, factor, self.min_pixels, self.max_pixels)
        return h // self.tower.patch, w // self.tower.patch

    def image_tokens(self, width: int, height: int) -> int:
        rows, cols = self._grid(width, height)
        return rows * cols // (self.merge * self.merge) + 2  # + <|vision_start|> and <|vision_end|>

    def tower_tokens(self, width: int, height: int) -> int:
        rows, cols = self._grid(width, height)
        return rows * cols


@dataclass(frozen=True)
class Gemma3(VisionFamily):
    """Fixed: every image is resized to 896x896 and pooled to 256 tokens."""

    image_size: int = 896
    tokens_per_image: int = 256

    def image_tokens(self, width: int, height: int) -> int:
        return self.tokens_per_image + 4  # "\n\n<start_of_image>" ... "<end_of_image>\n\n"

    def tower_tokens(self, width: int, height: int) -> int:
        return (self.image_size // self.tower.patch) ** 2


@dataclass(frozen=True)
class Mllama(VisionFamily):
    """Tiles: up to 4 tiles of 560x560; the text holds one <|image|> token, and cross-attention layers
    read the tiles' patches (the processor pads every image to max_tiles, so the tower runs all 4)."""

    tile: int = 560
    max_tiles: int = 4
    global_layers: int = 8
    cross_attention_layers: int = 8

    def tiles(self, width: int, height: int) -> int:
        """The tiles of the processor's canvas (mllama get_optimal_tiled_canvas): the smallest upscale that
        fits, else the largest downscale; among equals the smallest canvas."""
        layouts = [(r, c) for r in range(1, self.max_tiles + 1) for c in range(1, self.max_tiles // r + 1)]
        scales = {(r, c): min(r * self.tile / height, c * self.tile / width) for r, c in layouts}
        up = [s for s in scales.values() if s >= 1]
        chosen = min(up) if up else max(scales.values())
        return min(r * c for (r, c), s in scales.items() if s == chosen)

    def image_tokens(self, width: int, height: int) -> int:
        return 1

    def tower_tokens(self, width: int, height: int) -> int:
        patches = (self.tile // self.tower.patch) ** 2 + 1  # + the class token
        padded = math.ceil(patches / 8) * 8  # MllamaVisionModel pads to a multiple of 8
        return self.max_tiles * padded


@dataclass(frozen=True)
class Pixtral(VisionFamily):
    """Dynamic resolution: 16-pixel patches up to 1024 on the longest side, an [IMG_BREAK] after each
    row of patches ([IMG_END] after the last)."""

    longest_edge: int = 1024

    def _grid(self, width: int, height: int) -> tuple[int, int]:
        width, height = self.resized(width, height)
        ratio = max(height / self.longest_edge, width / self.longest_edge)
        if ratio > 1:
            height, width = int(math.floor(height / ratio)), int(math.floor(width / ratio))
        patch = self.tower.patch
        return (height - 1) // patch + 1, (width - 1) // patch + 1

    def image_tokens(self, width: int, height: int) -> int:
        rows, cols = self._grid(width, height)
        return rows * cols + rows

    def tower_tokens(self, width: int, height: int) -> int:
        rows, cols = self._grid(width, height)
        return rows * cols


FAMILIES: tuple[VisionFamily, ...] = (
    QwenVL(
        name="Qwen2.5-VL",
        architectures=("qwen2_5_vl",),
        tower=VisionTower(layers=32, width=1280, mlp=3420, heads=16, patch=14, gated_mlp=True),
        unsloth_resize=512,  # its vision_config has no image_size: Unsloth's collator uses 512
        max_images_per_row=None,
        max_pixels=12845056,  # preprocessor_config.json of Qwen2.5-VL-3B/7B-Instruct
        source="transformers qwen2_5_vl/configuration_qwen2_5_vl.py, qwen2_vl/image_processing_pil_qwen2_vl.py",
    ),
    QwenVL(
        name="Qwen2-VL",
        architectures=("qwen2_vl",),
        tower=VisionTower(layers=32, width=1280, mlp=5120, heads=16, patch=14),
        unsloth_resize=512,
        max_images_per_row=None,
        max_pixels=12845056,
        source="transformers qwen2_vl/configuration_qwen2_vl.py, qwen2_vl/image_processing_pil_qwen2_vl.py",
    ),
    Gemma3(
        name="Gemma 3",
        architectures=("gemma3",),
        tower=VisionTower(layers=27, width=1152, mlp=4304, heads=16, patch=14),
        unsloth_resize=896,
        max_images_per_row=None,
        source="transformers gemma3/configuration_gemma3.py (SigLIP 896px, mm_tokens_per_image 256), processing_gemma3.py",
    ),
    Mllama(
        name="Llama 3.2 Vision",
        architectures=("mllama",),
        tower=VisionTower(layers=40, width=1280, mlp=5120, heads=16, patch=14),  # 32 local + 8 global
        unsloth_resize=560,
        max_images_per_row=1,
        why_max_images="Llama 3.2 Vision was trained with one image per conversation",
        source="transformers mllama/configuration_mllama.py, mllama/image_processing_pil_mllama.py",
    ),
    Pixtral(
        name="Pixtral",
        architectures=("llava", "pixtral"),
        tower=VisionTower(layers=24, width=1024, mlp=4096, heads=16, patch=16, gated_mlp=True),
        unsloth_resize=1024,
        max_images_per_row=None,
        source="transformers pixtral/configuration_pixtral.py, pixtral/image_processing_pil_pixtral.py",
    ),
)

# Counting tokens without a model: Qwen2.5-VL's rule, the first vision family ftui shortlists.
DEFAULT_FAMILY = FAMILIES[0]


def family_for(architecture: str | None) -> VisionFamily | None:
    """The family of a config.json model_type (or the catalog's dims.architecture); None: not one ftui trains."""
    if not architecture:
        return None
    for family in FAMILIES:
        if architecture in family.architectures:
            return family
    return None


def family_of_model(model: str | None) -> VisionFamily | None:
    """The vision family of a catalog name, a local model folder or a cached Hub id; None when it is a text
    model, unknown, or not on this machine (never downloads)."""
    if not model:
        return None
    try:
        from ftui.core.catalog import load_catalog

        found = load_catalog().find(model)
    except Exception:  # the catalog is advice: a broken or missing one must not stop an inspection
        found = None
    if found is not None:
        return family_for(found.dims.architecture) if found.modality == "vision" else None
    config = _local_config(model)
    if config is None:
        return None
    return family_for(str(config.get("model_type", "")))


def _local_config(model: str) -> dict[str, Any] | None:
    import json
    from pathlib import Path

    folder = Path(model).expanduser()
    path: Path | None = folder / "config.json" if folder.is_dir() else None
    if path is None and model.count("/") == 1:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, "config.json")
            path = Path(cached) if isinstance(cached, str) else None
        except ImportError:
            path = None
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
