"""Peak GPU memory of a fine-tune (driver level, what nvidia-smi shows and what decides an OOM).

PLACEHOLDER: a clearly rough rule until the measured estimator (issue 3) replaces the body of
`estimate_peak_vram`. Its signature and MemoryEstimate are the contract the advice engine, the CLI and
the TUI call; keep them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ftui.core.dims import ModelDims
from ftui.core.plan import TrainingSettings

GIB = 1024**3


@dataclass(frozen=True)
class MemoryEstimate:
    total_gib: float
    breakdown: dict[str, float] = field(default_factory=dict)  # GiB per part, summing to total_gib

    def fit(self, vram_gib: float) -> str:
        """'fits' with 10% to spare, 'tight' when it fits only just, 'too_big' otherwise."""
        if self.total_gib <= 0.9 * vram_gib:
            return "fits"
        if self.total_gib <= vram_gib:
            return "tight"
        return "too_big"


def _params(dims: ModelDims) -> float:
    if dims.params_b:
        return dims.params_b * 1e9
    per_layer = 4 * dims.hidden * dims.hidden + 3 * dims.hidden * dims.intermediate
    embed = dims.vocab * dims.hidden * (1 if dims.tied_embeddings else 2)
    return dims.layers * per_layer + embed


def estimate_peak_vram(dims: ModelDims, settings: TrainingSettings | None = None) -> MemoryEstimate:
    """Rough rule (placeholder): bytes per parameter by method, plus 1 GiB of CUDA context."""
    settings = settings or TrainingSettings()
    params = _params(dims)
    per_param = {"qlora": 0.7, "lora": 2.2, "full": 16.0}[settings.method]
    weights = params * per_param / GIB
    activations = settings.batch * settings.seq * dims.hidden * dims.layers * 4 / GIB
    parts = {"weights_and_states": round(weights, 2), "activations": round(activations, 2), "cuda_context": 1.0}
    return MemoryEstimate(total_gib=round(sum(parts.values()), 2), breakdown=parts)
