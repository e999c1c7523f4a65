"""The Plan: one object that flows through the screens and the CLI. Advice is a pure function of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

UseCase = Literal["general", "code", "vision", "reasoning"]
USE_CASES: tuple[str, ...] = ("general", "code", "vision", "reasoning")

LicensePolicy = Literal["any", "commercial", "permissive"]
LICENSE_POLICIES: tuple[str, ...] = ("any", "commercial", "permissive")

Method = Literal["qlora", "lora", "full"]
METHODS: tuple[str, ...] = ("qlora", "lora", "full")
# The dataset formats the inspector reads (ftui.core.data.formats): here too, so that a command's flags
# can list them without importing the inspector.
DATA_FORMATS: tuple[str, ...] = ("alpaca", "sharegpt", "messages", "prompt_completion", "text")

SHARDING: tuple[str, ...] = ("auto", "ddp", "fsdp")

GradientCheckpointing = Literal["unsloth", "plain", "none"]

ALL_LINEAR: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainingSettings:
    """How to train. The defaults are ftui's recipe: Unsloth, QLoRA r=16 on all linear layers,
    Unsloth gradient checkpointing, adamw_8bit, bf16 where the card has it."""

    method: str = "qlora"
    rank: int = 16
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_LINEAR
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int | None = None  # when set, it wins over epochs
    batch: int = 2  # micro-batch per GPU
    grad_accum: int = 4
    # batch x grad_accum x GPUs rows make one optimizer step (the effective batch). With auto_batch, ftui
    # splits those rows into the micro-batch and accumulation that train fastest and fit the card
    # (ftui.core.batching); off, the split is used as written.
    auto_batch: bool = True
    seq: int = 2048  # max_length in tokens
    warmup_steps: int = 5
    optimizer: str = "adamw_8bit"
    weight_decay: float = 0.01
    lr_scheduler: str = "linear"
    gradient_checkpointing: str = "unsloth"
    seed: int = 3407
    eval_split: float = 0.0  # fraction of rows held out for eval_loss
    responses_only: bool = False  # mask the prompt so that loss counts the answers only
    skip_bad_rows: bool = False  # leave out rows that cannot be trained on (the preflight lists them)
    packing: bool = False
    save_steps: int = 50
    save_merged: bool = False  # also write a merged 16-bit model
    save_gguf: str | None = None  # e.g. "q4_k_m"; needs llama.cpp
    gpus: tuple[int, ...] = ()  # more than one: torchrun, a process per GPU (per machine with `nodes`)
    # Several GPUs: "ddp" keeps a whole model copy on each, "fsdp" shards it over them (Unsloth's native
    # FSDP2); "auto" takes DDP when the estimate fits one GPU, else FSDP (ftui.core.sharding).
    sharding: str = "auto"
    nodes: int = 1  # machines in the job: torchrun's c10d rendezvous joins them (ftui.core.launch)
    rdzv_endpoint: str | None = None  # host:port of the machine that made the run; default its name
    join_timeout_s: int = 600  # a machine that has not joined the rendezvous by then fails the job
    collective_timeout_s: int = 600  # NCCL/gloo: a collective that waits longer fails the run
    slurm_options: tuple[str, ...] = ()  # extra sbatch options for `--slurm`, e.g. "--partition=gpu"
    # Vision models only: which parts get LoRA adapters (Unsloth's FastVisionModel.get_peft_model flags;
    # its defaults). The image tower's layers, the language model's, and in them attention and/or the MLP.
    finetune_vision_layers: bool = True
    finetune_language_layers: bool = True
    finetune_attention_modules: bool = True
    finetune_mlp_modules: bool = True


@dataclass(frozen=True)
class GpuChoice:
    """The card the plan is for: the one detected on this machine, or one the user would rent."""

    name: str
    vram_gib: float  # of one card
    bf16: bool = True
    detected: bool = False
    count: int = 1  # cards of this kind the plan trains on ("2 x RTX 4090")


@dataclass(frozen=True)
class DatasetSummary:
    """What the advice and the estimates need to know about the data (the inspector fills it)."""

    source: str  # a path or an HF dataset id
    rows: int
    format: str  # alpaca | sharegpt | messages | prompt_completion | text
    total_tokens: int | None = None
    p95_tokens: int | None = None
    max_tokens: int | None = None
    modality: str = "text"  # "vision" when the rows carry images
    images_per_row: int = 0  # the most images in one row
    image_size: tuple[int, int] | None = None  # (width, height) of the larger images (p95), in pixels


@dataclass
class Plan:
    use_case: str = "general"
    needs_commercial_use: bool = False
    license_policy: str = "any"
    gpu: GpuChoice | None = None
    dataset: DatasetSummary | None = None
    model: str | None = None  # the chosen catalog hf_id or a local path
    repo: str | None = (
        None  # what is loaded for training, e.g. unsloth/Llama-3.1-8B-Instruct-unsloth-bnb-4bit
    )
    settings: TrainingSettings = field(default_factory=TrainingSettings)
