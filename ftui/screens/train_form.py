"""The training form's fields: what each one is, a line saying what it does, and how typed text becomes
TrainingSettings. Parsing only: RunConfig checks the values (the same rules as `ftui train`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ftui.core.plan import TrainingSettings

METHOD_HELP = (
    "QLoRA trains adapters on 4-bit weights (least memory); LoRA on 16-bit weights (2-3x the memory); "
    "full trains every weight."
)

# The vision plan's two choices (the train step draws them; their values are Unsloth's finetune_* flags).
CHOICE_HELP = {
    "vision-layers": "Which layers get adapters: the image tower's, the language model's, or both "
    "(language only keeps how the model sees, and saves memory).",
    "vision-modules": "Which parts of those layers get adapters: attention, the MLP, or both (Unsloth's default).",
}


@dataclass(frozen=True)
class Field:
    key: str  # a TrainingSettings field, or a RunConfig one (template, name, python)
    label: str
    kind: str  # int | float | text | path | yes_no
    help: str  # one line: what the setting does and a usual value
    optional: bool = False
    placeholder: str = ""
    advanced: bool = False  # under "Advanced": settings the advice sets that most people leave


FIELDS: tuple[Field, ...] = (
    Field(
        "rank",
        "LoRA rank",
        "int",
        "The adapter's size: 16 is the usual start, 32-64 for big data or hard tasks.",
    ),
    Field("alpha", "LoRA alpha", "int", "How strongly the adapter acts; usually the same as the rank."),
    Field(
        "learning_rate",
        "Learn rate",
        "float",
        "How big each update is: 2e-4 is the usual LoRA start; 1e-5 to 5e-5 for a full fine-tune.",
    ),
    Field(
        "epochs", "Epochs", "float", "Passes over the data: 1-3 is usual; more starts to memorise the rows."
    ),
    Field(
        "max_steps",
        "Max steps",
        "int",
        "Optimizer steps to stop after; when set it wins over epochs (a quick first try: 60).",
        optional=True,
        placeholder="epochs decide",
    ),
    Field("batch", "Micro-batch", "int", "Rows per pass on the GPU: more is faster and needs more memory."),
    Field(
        "grad_accum",
        "Grad accum",
        "int",
        "Passes per optimizer step: micro-batch x this is the batch size, at no extra memory.",
    ),
    Field(
        "seq",
        "Seq length",
        "int",
        "The longest row in tokens, longer rows are cut; the data step set what fits 95% of rows.",
    ),
    Field(
        "eval_split",
        "Eval split",
        "float",
        "Share of rows held out to measure eval loss (0: none); 0.05-0.1 shows overfitting early.",
    ),
    Field(
        "optimizer",
        "Optimizer",
        "text",
        "adamw_8bit keeps its state in 8 bits (less memory); adamw_torch is plain.",
    ),
    Field(
        "template",
        "Template",
        "text",
        "How rows become text: automatic is the model's own chat template (instruct) or Alpaca (base).",
        optional=True,
        placeholder="automatic",
    ),
    Field(
        "name",
        "Run name",
        "text",
        "A label for the run, part of its folder's name; the model's name when empty.",
        optional=True,
        placeholder="the model's name",
    ),
    Field(
        "python",
        "Python",
        "path",
        "The Python that trains (an environment with Unsloth); this ftui's own when empty.",
        optional=True,
        placeholder="this ftui's Python",
    ),
    Field(
        "responses_only",
        "Answers only",
        "yes_no",
        "Loss on the answers only, the prompts masked: better when answers are short beside their prompts.",
        advanced=True,
    ),
    Field(
        "warmup_steps",
        "Warmup",
        "int",
        "Steps at the start with a rising learning rate; 5 to 10% of the run steadies it.",
        advanced=True,
    ),
    Field(
        "save_steps",
        "Save every",
        "int",
        "Steps between checkpoints, where stop and resume pick up; fewer costs more disk.",
        advanced=True,
    ),
)
SETTING_KEYS = {f.name for f in dataclasses.fields(TrainingSettings)}
YES_NO = (("no", "no"), ("yes", "yes"))


class FormError(ValueError):
    """A field that does not parse; the message is the sentence to show."""


def read_form(
    values: dict[str, str], method: str, base: TrainingSettings
) -> tuple[TrainingSettings, dict[str, str | None]]:
    """Settings and the run's other fields from the typed text; FormError names the field and the fix.
    A field missing from `values` keeps the base's value."""
    settings: dict[str, Any] = {"method": method}
    extras: dict[str, str | None] = {}
    for field in FIELDS:
        if field.key not in values and field.key in SETTING_KEYS:
            continue
        raw = values.get(field.key, "").strip()
        if field.kind == "yes_no":
            value: Any = raw == "yes"
        elif not raw:
            if not field.optional:
                raise FormError(
                    f"{field.label} is empty; type a value (the default is {getattr(base, field.key)})."
                )
            value = None
        elif field.kind == "int":
            try:
                value = int(raw)
            except ValueError:
                raise FormError(f"{field.label} must be a whole number, not {raw!r}.") from None
        elif field.kind == "float":
            try:
                value = float(raw)
            except ValueError:
                raise FormError(f"{field.label} must be a number like 2e-4 or 0.1, not {raw!r}.") from None
        else:
            value = raw
        if field.key in SETTING_KEYS:
            settings[field.key] = value
        else:
            extras[field.key] = value
    split = (settings.get("batch", base.batch), settings.get("grad_accum", base.grad_accum))
    if split != (base.batch, base.grad_accum):
        settings["auto_batch"] = False  # a split typed in is the user's: the run keeps it as written
    return dataclasses.replace(base, **settings), extras


def form_values(settings: TrainingSettings, extras: dict[str, str | None]) -> dict[str, str]:
    values: dict[str, str] = {}
    for field in FIELDS:
        value = getattr(settings, field.key) if field.key in SETTING_KEYS else extras.get(field.key)
        if field.kind == "yes_no":
            values[field.key] = "yes" if value else "no"
        else:
            values[field.key] = (
                "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
            )
    return values


def help_for(widget_id: str | None) -> str:
    """The help line of the form widget with this id (method, field-<key>); "" for anything else."""
    if widget_id == "method":
        return METHOD_HELP
    if widget_id in CHOICE_HELP:
        return CHOICE_HELP[widget_id]
    for field in FIELDS:
        if widget_id == f"field-{field.key}":
            return field.help
    return ""
