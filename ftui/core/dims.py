"""A model's architecture in the numbers that decide memory and time: what the estimator needs.

Filled from the catalog, or from a config.json (a local directory, the HF cache, or the Hub).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelDims:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied_embeddings: bool = False
    context: int = 4096
    head_dim: int | None = None  # None: hidden // heads
    architecture: str = "llama"
    # Mixture of experts: routed experts per layer (0 = dense), how many a token uses, their width.
    experts: int = 0
    experts_per_token: int = 0
    moe_intermediate: int | None = None
    shared_experts: int = 0
    # Vision models: the image tower's parameters (billions); it is counted but not LoRA-adapted by default.
    vision_params_b: float = 0.0
    # Total parameters in billions when known exactly (catalog); None: computed from the dims.
    params_b: float | None = None
    # Sliding-window attention: a query attends to at most `sliding_window` keys in `sliding_layers` of the
    # layers (Gemma 3: 5 of every 6 at 512); 0 / None: every layer attends to the whole row.
    sliding_window: int | None = None
    sliding_layers: int = 0

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def is_moe(self) -> bool:
        return self.experts > 0


def _first(config: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


def dims_from_hf_config(config: dict[str, Any], params_b: float | None = None) -> ModelDims:
    """Read a transformers config.json (dense, MoE, or a vision model with a text_config).

    Raises KeyError when a required field is missing; callers turn that into a UserError naming the file.
    """
    if not isinstance(config, dict):
        raise TypeError("it is not a JSON object")
    text = config.get("text_config") or config.get("llm_config") or config
    if not isinstance(text, dict):
        raise TypeError("its text_config is not a JSON object")
    vision_params_b = 0.0
    vision = config.get("vision_config")
    if isinstance(vision, dict):
        vision_params_b = _vision_params_b(vision)
    hidden = int(_first(text, "hidden_size", "n_embd", "d_model"))
    heads = int(_first(text, "num_attention_heads", "n_head"))
    experts = int(_first(text, "num_local_experts", "num_experts", "n_routed_experts", default=0) or 0)
    intermediate = _first(text, "intermediate_size", "n_inner", "ffn_dim")
    moe_intermediate = _first(text, "moe_intermediate_size", "expert_intermediate_size")
    if intermediate is None:
        intermediate = moe_intermediate if moe_intermediate is not None else 4 * hidden
    tied = _first(text, "tie_word_embeddings", default=None)
    if tied is None:
        tied = config.get("tie_word_embeddings", False)
    return ModelDims(
        layers=int(_first(text, "num_hidden_layers", "n_layer", "num_layers")),
        hidden=hidden,
        intermediate=int(intermediate),
        heads=heads,
        kv_heads=int(_first(text, "num_key_value_heads", "num_kv_heads", default=heads)),
        vocab=int(_first(text, "vocab_size", default=config.get("vocab_size", 32000))),
        tied_embeddings=bool(tied),
        context=int(_first(text, "max_position_embeddings", "n_positions", "seq_length", default=4096)),
        head_dim=_first(text, "head_dim"),
        # a composite (vision) model is its own type: transformers 5 writes the text part's as another
        # ("qwen2_5_vl_text", "gemma3_text", "mllama_text_model"), which no vision family answers to
        architecture=str(
            config.get("model_type")
            if text is not config and config.get("model_type")
            else _first(text, "model_type", default=config.get("model_type", "unknown"))
        ),
        experts=experts,
        experts_per_token=int(
            _first(text, "num_experts_per_tok", "num_experts_per_token", "top_k", default=0) or 0
        ),
        moe_intermediate=int(moe_intermediate) if moe_intermediate is not None else None,
        shared_experts=int(_first(text, "n_shared_experts", "num_shared_experts", default=0) or 0),
        vision_params_b=vision_params_b,
        params_b=params_b,
        **_sliding_window(text),
    )


def _sliding_window(text: dict[str, Any]) -> dict[str, Any]:
    """How many layers attend through a window, and its width, from the ways configs say it: `layer_types`
    (transformers 5), `sliding_window_pattern` (Gemma 3: every Nth layer is global), or a window that
    applies to every layer (Mistral v0.1). Qwen2/3 write a window but turn it off (use_sliding_window)."""
    window = text.get("sliding_window")
    layers = int(_first(text, "num_hidden_layers", "n_layer", "num_layers", default=0) or 0)
    if not isinstance(window, int) or window <= 0 or text.get("use_sliding_window") is False:
        return {}
    types = text.get("layer_types")
    if isinstance(types, list) and types:
        sliding = sum(1 for kind in types if kind == "sliding_attention")
    elif isinstance(text.get("sliding_window_pattern"), int) and text["sliding_window_pattern"] > 0:
        sliding = layers - layers // text["sliding_window_pattern"]
    else:
        sliding = layers
    return {"sliding_window": window, "sliding_layers": sliding} if sliding else {}


def _vision_params_b(vision: dict[str, Any]) -> float:
    """A rough count of a ViT image tower (billions): 12 * layers * width^2, the usual transformer block."""
    width = _first(vision, "hidden_size", "embed_dim", "width", default=0) or 0
    depth = _first(vision, "num_hidden_layers", "depth", "num_layers", default=0) or 0
    mlp = _first(vision, "intermediate_size", default=4 * width) or 4 * width
    return (depth * (4 * width * width + 2 * width * mlp)) / 1e9
