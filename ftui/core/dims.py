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
        architecture=str(_first(text, "model_type", default=config.get("model_type", "unknown"))),
        experts=experts,
        experts_per_token=int(
            _first(text, "num_experts_per_tok", "num_experts_per_token", "top_k", default=0) or 0
        ),
        moe_intermediate=int(moe_intermediate) if moe_intermediate is not None else None,
        shared_experts=int(_first(text, "n_shared_experts", "num_shared_experts", default=0) or 0),
        vision_params_b=vision_params_b,
        params_b=params_b,
    )


def _vision_params_b(vision: dict[str, Any]) -> float:
    """A rough count of a ViT image tower (billions): 12 * layers * width^2, the usual transformer block."""
    width = _first(vision, "hidden_size", "embed_dim", "width", default=0) or 0
    depth = _first(vision, "num_hidden_layers", "depth", "num_layers", default=0) or 0
    mlp = _first(vision, "intermediate_size", default=4 * width) or 4 * width
    return (depth * (4 * width * width + 2 * width * mlp)) / 1e9
