"""Peak GPU memory of a fine-tune, at driver level: what nvidia-smi shows, which is what decides an OOM.

A physical model, part by part, with a few coefficients calibrated on real Unsloth runs measured on an
H200 (benchmarks/vram/results.jsonl; the method and the errors are in BENCHMARKS.md, section estimator):

  weights          NF4 (4-bit codes + double-quantized block scales) for QLoRA's linear layers; embeddings,
                   head, norms, biases, routers and vision towers stay 16-bit; tied embeddings counted once
  lora             the adapters, kept in float32 by Unsloth
  gradients        one per trainable value (float32 for LoRA, bf16 for full fine-tuning)
  optimizer        the optimizer's states (adamw_8bit: 2 bytes per trainable value; AdamW: 2 x its dtype); a
                   trained embedding keeps 32-bit states under an 8-bit optimizer (transformers' Trainer and
                   Unsloth register it with bitsandbytes that way), 8 bytes per value with Adam
  activations      what backward needs: with Unsloth's offloaded checkpointing one layer's recompute plus
                   the staging buffers; with plain checkpointing also every layer's input; without, all of it
  logits_and_loss  Unsloth's chunked cross-entropy never holds the whole logits: one chunk of rows x vocab
                   in float32, plus the gradient of the last hidden states; Gemma 3's text path holds them
                   whole (measured), bf16 and float32
  cuda_context     the CUDA context, cuBLAS/Triton/bitsandbytes kernels and workspaces (outside torch)

Every term scales with what it physically depends on (tokens in the micro-batch, hidden and MLP width,
layers, vocabulary, trainable parameters), so it carries to models that were not measured: MoE (all experts
are held; a token's activations go through experts_per_token of them) and vision models (the tower is held
in 16 bit). Core module: no torch, no Textual.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ftui.core.dims import ModelDims
from ftui.core.memory_vision import VisionLoad, language_targets, vision_extra
from ftui.core.plan import METHODS, TrainingSettings
from ftui.core.vision import family_for

GIB = 1024**3

# bitsandbytes NF4 with double quantization (Unsloth's setting): 4-bit codes, one 8-bit absmax per block
# of 64, and one float32 scale per 256 of those.
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)

# --- Calibrated on the H200 (torch 2.11, CUDA 13, unsloth 2026.10.9); see BENCHMARKS.md. ---
# NVML minus torch's reserved memory measured 0.75-0.85 GiB; the rest is cuBLAS/Triton workspaces.
CUDA_CONTEXT_GIB = 0.87
# Unsloth's offloaded checkpointing, bytes per token in the micro-batch: about 9 hidden-wide and 3 MLP-wide
# bf16 tensors live at once (one layer's recompute, two staging buffers, the residual stream's gradient).
OFFLOADED_BYTES_PER_TOKEN_HIDDEN = 18.9
OFFLOADED_BYTES_PER_TOKEN_INTERMEDIATE = 6.3
# QLoRA dequantizes a 4-bit matrix to bf16 before its matmul: about two of the largest MLP matrices at once.
DEQUANTIZED_MATRICES = 1.7
# A routed-experts (MoE) layer's own working set, over what the dense terms above give. Fitted on three MoE
# models measured on the H200 (benchmarks/vram/results.json, 2026-11-30: Qwen3-30B-A3B, OLMoE-1B-7B, Mixtral
# 8x7B; BENCHMARKS.md, MoE memory), each predicted within 6% under by a fit on the other two: per copy of a
# token routed to an expert, 14 bytes a unit of expert width (its gate, up and activation values and their
# gradients in bf16) and 50 bytes an expert (the routing's one-hot masks and indices, int64); and one more
# bf16 copy of a layer's stacked gate and up matrices (the whole stack is dequantized, and with LoRA on the
# experts, merged, at once). Without it the 2026-11-30 MoE runs were up to 44% over the estimate.
MOE_BYTES_PER_ROUTED_WIDTH = 14.0
MOE_BYTES_PER_ROUTED_EXPERT = 50.0
MOE_STACKED_COPIES = 1.0
# Without checkpointing each layer keeps about 8 hidden-wide and 2 MLP-wide bf16 values per token.
UNCHECKPOINTED_HIDDEN_PER_LAYER = 8
UNCHECKPOINTED_INTERMEDIATE_PER_LAYER = 2
# Unsloth's fused cross-entropy (unsloth_zoo.fused_losses.fused_linear): rows per chunk.
CE_MIN_LOGITS = 512 * 151936
CE_MAX_ROWS = 4096
CE_BUDGET_BYTES = 2 * GIB
# Gemma 3's text models do not reach that chunked loss in Unsloth 2026.10.9: its generated forward holds the
# whole logits, bf16 and their float32 upcast, 6 bytes per token x vocabulary value. Measured on the H200
# (2026-11-30, Gemma 3 1B QLoRA, 262,144 vocabulary): 1 x 1024 and 4 x 4096 tokens held 2.48 and 25.1 GiB in
# torch, 1.47 MB a token between them = 5.6 bytes per token x vocabulary (BENCHMARKS.md, unseen architectures).
WHOLE_LOGITS_ARCHITECTURES = ("gemma3", "gemma3_text")
WHOLE_LOGITS_BYTES = 6

CHECKPOINTING: tuple[str, ...] = ("unsloth", "plain", "none")

# Optimizer state bytes per trainable value, as a multiple of the value's own size (None: fixed bytes).
# The torch AdamW family also holds a foreach temporary of one value during the step.
_OPTIMIZERS: dict[str, tuple[float | None, float]] = {
    # name: (multiple of the value's dtype size, fixed bytes)
    "adamw_8bit": (None, 2.03),
    "adamw_bnb_8bit": (None, 2.03),
    "paged_adamw_8bit": (None, 2.03),
    "adamw_torch": (3.0, 0.0),
    "adamw_torch_fused": (3.0, 0.0),
    "adamw_hf": (3.0, 0.0),
    "adamw": (3.0, 0.0),
    "paged_adamw_32bit": (2.0, 0.0),
    "lion_8bit": (None, 1.02),
    "paged_lion_8bit": (None, 1.02),
    "lion_32bit": (1.0, 0.0),
    "adafactor": (0.1, 0.0),
    "sgd": (0.0, 0.0),
}
OPTIMIZERS: tuple[str, ...] = tuple(_OPTIMIZERS)
# bitsandbytes' 8-bit optimizers keep an nn.Embedding's states in 32 bits: Trainer.create_optimizer (and
# Unsloth's own) call GlobalOptimManager.register_module_override(embedding, "weight", {"optim_bits": 32}).
# Only a trained embedding has states: full fine-tuning, or embed_tokens in target_modules. Tied embeddings
# are one parameter, so one override. Bytes per value of those 32-bit states:
_EMBEDDING_STATE_BYTES_32BIT: dict[str, float] = {
    "adamw_8bit": 8.0,
    "adamw_bnb_8bit": 8.0,
    "paged_adamw_8bit": 8.0,
    "lion_8bit": 4.0,
    "paged_lion_8bit": 4.0,
}

# The estimator's worst under-estimate, measured: -7.2% over the 72 H200 runs of 12 architectures (OLMoE's
# QLoRA at 1 x 1024; Gemma 3 1B -6.0%; BENCHMARKS.md, section estimator), rounded up. "The largest
# micro-batch that fits" and the throughput choice keep this much to spare, so that what they promise runs.
MEMORY_SAFETY_MARGIN = 0.08

_ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP = ("gate_proj", "up_proj", "down_proj")
_WHOLE = ("embed_tokens", "lm_head")  # trained whole (PEFT's modules_to_save), not through adapters


@dataclass(frozen=True)
class MemoryEstimate:
    total_gib: float
    breakdown: dict[str, float] = field(default_factory=dict)  # GiB per part, summing to total_gib
    tokens: int = 0  # tokens in one micro-batch (batch x sequence) the estimate is for
    trainable_params: int = 0

    def fit(self, vram_gib: float) -> str:
        """'fits' with 10% to spare, 'tight' when it fits only just, 'too_big' otherwise."""
        if self.total_gib <= 0.9 * vram_gib:
            return "fits"
        if self.total_gib <= vram_gib:
            return "tight"
        return "too_big"


@dataclass(frozen=True)
class ParameterCounts:
    """A model's parameters split by how they are stored and trained."""

    embed: int  # input embeddings (vocab x hidden)
    head: int  # output head; 0 when tied to the embeddings
    linear: int  # linear layers of the blocks (attention, MLP, experts): what 4-bit quantizes
    other: int  # 16-bit always: norms, biases, routers, vision tower, and what the dims do not name
    lora: int  # adapter parameters for the settings' rank and target modules
    whole_trained: int  # embed/lm_head when named in target_modules (trained in full)

    @property
    def total(self) -> int:
        return self.embed + self.head + self.linear + self.other


def _linear_shapes(dims: ModelDims) -> dict[str, list[tuple[int, int, int]]]:
    """Per layer, each target module's (in, out, copies): copies > 1 for experts."""
    h, hd = dims.hidden, dims.attention_head_dim
    q, kv = dims.heads * hd, dims.kv_heads * hd
    shapes: dict[str, list[tuple[int, int, int]]] = {
        "q_proj": [(h, q, 1)],
        "k_proj": [(h, kv, 1)],
        "v_proj": [(h, kv, 1)],
        "o_proj": [(q, h, 1)],
    }
    if dims.is_moe:
        width = dims.moe_intermediate or dims.intermediate
        mlp = [(dims.experts, width)]
        if dims.shared_experts:
            mlp.append((1, width * dims.shared_experts))
    else:
        mlp = [(1, dims.intermediate)]
    shapes["gate_proj"] = [(h, width, copies) for copies, width in mlp]
    shapes["up_proj"] = [(h, width, copies) for copies, width in mlp]
    shapes["down_proj"] = [(width, h, copies) for copies, width in mlp]
    return shapes


def parameter_counts(dims: ModelDims, settings: TrainingSettings | None = None) -> ParameterCounts:
    settings = settings or TrainingSettings()
    shapes = _linear_shapes(dims)
    per_layer_linear = sum(i * o * c for parts in shapes.values() for i, o, c in parts)
    per_layer_other = 2 * dims.hidden  # the two RMSNorms
    if dims.architecture.startswith("qwen2"):  # q/k/v biases
        per_layer_other += (dims.heads + 2 * dims.kv_heads) * dims.attention_head_dim
    if dims.is_moe:
        per_layer_other += dims.hidden * dims.experts  # the router
    embed = dims.vocab * dims.hidden
    head = 0 if dims.tied_embeddings else dims.vocab * dims.hidden
    linear = dims.layers * per_layer_linear
    other = dims.layers * per_layer_other + dims.hidden + round(dims.vision_params_b * 1e9)
    if dims.params_b:  # the catalog's exact count: what the dims do not describe stays 16-bit
        other += max(0, round(dims.params_b * 1e9) - (embed + head + linear + other))
    lora = 0
    if settings.method != "full":
        for name in settings.target_modules:
            for i, o, copies in shapes.get(name, []):
                lora += dims.layers * settings.rank * (i + o) * copies
    whole = 0
    if settings.method != "full":
        whole = embed * ("embed_tokens" in settings.target_modules)
        whole += (head or embed) * ("lm_head" in settings.target_modules and not dims.tied_embeddings)
    return ParameterCounts(embed=embed, head=head, linear=linear, other=other, lora=lora, whole_trained=whole)


def _optimizer_bytes(optimizer: str, value_bytes: float) -> float:
    try:
        multiple, fixed = _OPTIMIZERS[optimizer]
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}") from None
    return fixed if multiple is None else multiple * value_bytes


def _effective_intermediate(dims: ModelDims) -> int:
    """MLP width a token's activations go through: experts_per_token experts (+ shared) for MoE."""
    if not dims.is_moe:
        return dims.intermediate
    width = dims.moe_intermediate or dims.intermediate
    return width * (max(dims.experts_per_token, 1) + dims.shared_experts)


def _moe_working_set(dims: ModelDims, tokens: int) -> float:
    """Bytes a routed-experts layer holds beyond the dense terms (see MOE_BYTES_PER_ROUTED_WIDTH)."""
    width = dims.moe_intermediate or dims.intermediate
    routed = tokens * max(dims.experts_per_token, 1)
    stacked_gate_up = dims.experts * 2 * width * dims.hidden * 2
    return (
        routed * (MOE_BYTES_PER_ROUTED_WIDTH * width + MOE_BYTES_PER_ROUTED_EXPERT * dims.experts)
        + MOE_STACKED_COPIES * stacked_gate_up
    )


def cross_entropy_rows(tokens: int, dims: ModelDims) -> int:
    """Rows per chunk of Unsloth's fused linear cross-entropy (mirrors fused_linear_rows)."""
    vocab = max(dims.vocab, 1)

    def pow2_floor(x: float) -> int:
        return 1 << max(int(math.floor(math.log2(max(x, 1.0)))), 0)

    rows = pow2_floor(tokens * dims.hidden / vocab)
    min_rows = min(max(pow2_floor(CE_MIN_LOGITS / vocab), 512), CE_MAX_ROWS)
    rows = min(max(rows, min_rows), CE_MAX_ROWS, max(CE_BUDGET_BYTES // (vocab * 4), 2))
    return max(min(rows, tokens), 1)


def estimate_peak_vram(
    dims: ModelDims,
    settings: TrainingSettings | None = None,
    *,
    tokens_per_row: int | None = None,
    vision: VisionLoad | None = None,
) -> MemoryEstimate:
    """Peak GPU memory (GiB, driver level) of fine-tuning `dims` with `settings`.

    Every row of the micro-batch is taken at `settings.seq` tokens, the worst case; pass `tokens_per_row`
    (e.g. the dataset's longest row) when no row reaches the maximum length. `vision`: the rows carry
    images (a vision model of a family ftui knows): the tower's part is added (ftui/core/memory_vision.py)
    and the language model's adapters follow the finetune_* flags.
    """
    settings = settings or TrainingSettings()
    family = family_for(dims.architecture) if vision is not None else None
    if family is not None:
        settings = dataclasses.replace(settings, target_modules=language_targets(settings))
    if settings.method not in METHODS:
        raise ValueError(f"unknown method {settings.method!r}; known: {', '.join(METHODS)}")
    checkpointing = settings.gradient_checkpointing
    if checkpointing not in CHECKPOINTING:
        raise ValueError(
            f"unknown gradient checkpointing {checkpointing!r}; known: {', '.join(CHECKPOINTING)}"
        )
    counts = parameter_counts(dims, settings)
    row = min(settings.seq, tokens_per_row) if tokens_per_row else settings.seq
    tokens = max(1, settings.batch) * max(1, row)
    h = dims.hidden
    width = _effective_intermediate(dims)

    sixteen_bit = counts.embed + counts.head + counts.other
    if settings.method == "qlora":
        weights = counts.linear * NF4_BYTES_PER_PARAM + 2 * sixteen_bit
    else:
        weights = 2 * (counts.linear + sixteen_bit)

    if settings.method == "full":
        trainable = counts.total
        value_bytes = 2.0  # Unsloth's bf16 full fine-tuning: weights, gradients and states in bf16
        lora = 0.0
    else:
        trainable = counts.lora + counts.whole_trained
        value_bytes = 4.0  # adapters (and modules_to_save) are upcast to float32
        lora = 4.0 * trainable
    gradients = value_bytes * trainable
    optimizer = _optimizer_bytes(settings.optimizer, value_bytes) * trainable
    if settings.optimizer in _EMBEDDING_STATE_BYTES_32BIT:
        trained_embedding = (
            counts.embed if (settings.method == "full" or "embed_tokens" in settings.target_modules) else 0
        )
        optimizer += trained_embedding * (
            _EMBEDDING_STATE_BYTES_32BIT[settings.optimizer]
            - _optimizer_bytes(settings.optimizer, value_bytes)
        )

    activations: float
    if checkpointing == "none":
        per_token = (
            dims.layers
            * 2
            * (UNCHECKPOINTED_HIDDEN_PER_LAYER * h + UNCHECKPOINTED_INTERMEDIATE_PER_LAYER * width)
        )
        activations = tokens * per_token
    else:
        activations = tokens * (
            OFFLOADED_BYTES_PER_TOKEN_HIDDEN * h + OFFLOADED_BYTES_PER_TOKEN_INTERMEDIATE * width
        )
        if checkpointing == "plain":  # every layer's input stays on the GPU instead of going to CPU RAM
            activations += tokens * max(dims.layers - 2, 0) * h * 2
    if dims.is_moe:
        activations += _moe_working_set(dims, tokens)
    if settings.method == "qlora":
        # a MoE layer's experts are stacked in one tensor (transformers 5): it is dequantized whole
        largest = max(i * o * c for parts in _linear_shapes(dims).values() for i, o, c in parts)
        activations += DEQUANTIZED_MATRICES * largest * 2

    if dims.architecture in WHOLE_LOGITS_ARCHITECTURES and family is None:
        logits: float = tokens * dims.vocab * WHOLE_LOGITS_BYTES + tokens * h * 2
    else:
        logits = cross_entropy_rows(tokens, dims) * dims.vocab * 4 + tokens * h * 2
    if settings.method == "full" or counts.whole_trained:  # the head's gradient is accumulated chunk by chunk
        logits += dims.vocab * h * value_bytes

    vision_bytes = 0.0
    if family is not None and vision is not None:
        extra = vision_extra(family, settings, vision, dims.hidden, dims.layers, tokens)
        trainable += extra.lora
        lora += 4.0 * extra.lora
        gradients += 4.0 * extra.lora
        optimizer += _optimizer_bytes(settings.optimizer, 4.0) * extra.lora
        vision_bytes = extra.activations + extra.features + extra.language

    parts = {
        "weights": weights / GIB,
        "lora": lora / GIB,
        "gradients": gradients / GIB,
        "optimizer": optimizer / GIB,
        "activations": activations / GIB,
        "logits_and_loss": logits / GIB,
        **({"vision": vision_bytes / GIB} if family is not None else {}),
        "cuda_context": CUDA_CONTEXT_GIB,
    }
    parts = {name: round(value, 3) for name, value in parts.items()}
    return MemoryEstimate(
        total_gib=round(sum(parts.values()), 3), breakdown=parts, tokens=tokens, trainable_params=trainable
    )


# ---------------------------------------------------------------- the inverse questions


def fits_with_margin(estimate: MemoryEstimate, vram_gib: float) -> bool:
    """Whether the estimate, plus the estimator's measured worst error (MEMORY_SAFETY_MARGIN), fits."""
    return estimate.total_gib * (1 + MEMORY_SAFETY_MARGIN) <= vram_gib


def _fits(dims: ModelDims, settings: TrainingSettings, vram_gib: float, vision: VisionLoad | None) -> bool:
    return fits_with_margin(estimate_peak_vram(dims, settings, vision=vision), vram_gib)


def max_batch(
    dims: ModelDims,
    settings: TrainingSettings,
    vram_gib: float,
    limit: int = 1024,
    vision: VisionLoad | None = None,
) -> int:
    """The largest micro-batch at `settings.seq` that fits `vram_gib` with MEMORY_SAFETY_MARGIN to spare
    (0: not even one row)."""
    return _largest(lambda b: _fits(dims, dataclasses.replace(settings, batch=b), vram_gib, vision), 1, limit)


def max_seq(
    dims: ModelDims,
    settings: TrainingSettings,
    vram_gib: float,
    limit: int | None = None,
    step: int = 128,
    vision: VisionLoad | None = None,
) -> int:
    """The longest sequence (a multiple of `step`, up to the model's context) that fits at `settings.batch`
    with MEMORY_SAFETY_MARGIN to spare; 0 when not even `step` tokens fit."""
    limit = limit or max(dims.context, step)
    best = _largest(
        lambda n: _fits(dims, dataclasses.replace(settings, seq=n * step), vram_gib, vision),
        1,
        limit // step,
    )
    return best * step


def methods_that_fit(
    dims: ModelDims, settings: TrainingSettings, vram_gib: float, vision: VisionLoad | None = None
) -> dict[str, MemoryEstimate]:
    """Each method's estimate with the other settings unchanged; `.fit(vram_gib)` says which fit."""
    return {
        m: estimate_peak_vram(dims, dataclasses.replace(settings, method=m), vision=vision) for m in METHODS
    }


def _largest(ok, low: int, high: int) -> int:
    """The largest n in [low, high] with ok(n), for a monotone ok; low - 1 when none."""
    if high < low or not ok(low):
        return low - 1
    while low < high:
        middle = (low + high + 1) // 2
        if ok(middle):
            low = middle
        else:
            high = middle - 1
    return low


# ---------------------------------------------------------------- inference (chat, export checks)


def estimate_inference_memory(
    dims: ModelDims,
    *,
    weights: str,
    settings: TrainingSettings | None = None,
    tokens: int = 2048,
    models: int = 1,
    gpu: bool = True,
) -> MemoryEstimate:
    """Memory to generate with a fine-tuned model: its weights (`weights` = "nf4" for a QLoRA base as
    trained, "16bit", or "fp32" as the CPU loads them) times `models` loaded, the adapter in float32, the
    KV cache of `tokens` in 16 bit, one prefill's activations and logits, and on a GPU the CUDA context.
    The same parameter counts as the training estimate; no optimizer, gradients or checkpointing."""
    settings = settings or TrainingSettings()
    counts = parameter_counts(dims, settings)
    sixteen_bit = counts.embed + counts.head + counts.other
    if weights == "nf4":
        weight_bytes = counts.linear * NF4_BYTES_PER_PARAM + 2 * sixteen_bit
    else:
        weight_bytes = (4 if weights == "fp32" else 2) * counts.total
    value = 4 if weights == "fp32" else 2
    kv = 2 * dims.layers * dims.kv_heads * dims.attention_head_dim * tokens * value
    prefill = tokens * (4 * dims.hidden + 2 * _effective_intermediate(dims)) * value + dims.vocab * 4 * 2
    parts = {
        "weights": models * weight_bytes / GIB,
        "lora": (4.0 * counts.lora if settings.method != "full" else 0.0) / GIB,
        "kv_cache": kv / GIB,
        "activations": prefill / GIB,
        "cuda_context": CUDA_CONTEXT_GIB if gpu else 0.0,
    }
    parts = {name: round(v, 3) for name, v in parts.items()}
    return MemoryEstimate(total_gib=round(sum(parts.values()), 3), breakdown=parts, tokens=tokens)
