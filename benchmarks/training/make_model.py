"""Build a model with real dims and random weights (nothing is downloaded), with a small tokenizer.

  python benchmarks/training/make_model.py OUT_DIR [--dims llama-3.1-8b|qwen3-8b|tiny] [--device cuda|cpu]

The dims decide speed and memory; the weights' values and the tokenizer's vocabulary do not (the model
keeps its full 128,256-row embedding and head; the tokenizer only uses its first few hundred ids).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

DIMS = {
    # meta-llama/Llama-3.1-8B config.json (rope scaling left out: it changes no cost)
    "llama-3.1-8b": dict(
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        rms_norm_eps=1e-5,
    ),
    # Qwen/Qwen3-8B config.json (the model issue 17 quotes: 8,100 tokens/s at 2 x 2048, 10,700 at 8 x 1024)
    "qwen3-8b": dict(
        model_type="qwen3",
        vocab_size=151936,
        hidden_size=4096,
        intermediate_size=12288,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=40960,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
    ),
    # meta-llama/Llama-3.2-1B config.json (untied here, as bench scripts build it): the export benchmark's
    # size when a device call cannot hold an 8B merge, convert and quantize.
    "llama-3.2-1b": dict(
        vocab_size=128256,
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        rms_norm_eps=1e-5,
    ),
    # For rehearsing the benchmark on a CPU.
    "tiny": dict(
        vocab_size=2048,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
    ),
}


def build(out: Path, dims: str, device: str) -> Path:
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from tests.helpers.tiny_model import build_tokenizer

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    fields = dict(DIMS[dims])
    config = AutoConfig.for_model(
        fields.pop("model_type", "llama"),
        **fields,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    started = time.monotonic()
    torch.manual_seed(0)
    dtype = torch.bfloat16
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.save_pretrained(out, max_shard_size="5GB")
    params = sum(p.numel() for p in model.parameters())
    print(
        f"built {dims} ({params / 1e9:.2f} B parameters) in {out} in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--dims", default="llama-3.1-8b", choices=sorted(DIMS))
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    build(args.out, args.dims, args.device)
