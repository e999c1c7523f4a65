"""`ftui script CONFIG.toml`: the run as a standalone, readable Unsloth script.

The script does what ftui's trainer does, with nothing but unsloth, datasets and TRL: load with
FastLanguageModel, attach LoRA, render each row with the same chat template, train with SFTTrainer
(max_length set), save the adapter. It is the correct version of the usual `model.train(dataset=...)`
snippet, and a user can take it to any machine.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ftui.core.run_config import RunConfig

# The template is package data (ftui/core/templates/), so it ships in the wheel beside this module.
TEMPLATE = "train_script.py.jinja"
FORMATS_WITH_COLUMNS = ("alpaca", "prompt_completion", "sharegpt", "messages", "text")
# What `datasets.load_dataset` calls each kind of data file; anything else is taken as a Hub dataset id.
_FILE_KINDS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
_CHECKPOINTING = {"unsloth": '"unsloth"', "plain": "True", "none": "False"}


def _detected(config: RunConfig) -> tuple[str | None, dict[str, str]]:
    """The data's format and field -> column mapping as ftui's inspector sees it (None when it cannot tell)."""
    try:
        from ftui.core.data.convert import detect
        from ftui.core.data.readers import open_source

        found = detect(open_source(config.data), config.format, config.mapping or None)
        return found.format, dict(found.mapping)
    except Exception:  # an HF dataset that is not cached, say: the script recognises rows by their columns
        return config.format, dict(config.mapping)


def _data_kind(data: str) -> str | None:
    return next((kind for suffix, kind in _FILE_KINDS.items() if data.lower().endswith(suffix)), None)


def _response_markers(template: str) -> tuple[str | None, str | None]:
    """What unsloth's train_on_responses_only masks by; (None, None) where ftui cannot tell."""
    if template == "model":
        return None, None
    try:
        from ftui.core.data import template_markers

        return template_markers(template)
    except Exception:
        return None, None


def _docstring_text(text: str) -> str:
    """A user's string inside the script's docstring: a backslash or three quotes in a path cannot end it
    or make it an invalid escape; everything else reads as typed."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


@cache
def _environment() -> Any:
    """The Jinja environment of ftui's script templates (the text one here, the vision one in script_vision)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ftui.core", "templates"),
        autoescape=False,  # Python source, not HTML: user strings are quoted by |py instead
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["py"] = repr  # a Python literal: quotes, newlines and backslashes escaped
    environment.filters["docstring"] = _docstring_text
    return environment


def _template() -> Any:
    return _environment().get_template(TEMPLATE)


def _launch_lines(config: RunConfig) -> list[str]:
    """How to start the script on several GPUs or machines, as `ftui train` starts the run: torchrun's
    flags and the environment that decides how the model is spread (ftui.core.launch)."""
    from ftui.core import launch

    s = config.settings
    if not launch.is_distributed(s):
        return []
    plan = launch.plan_launch(config)
    env = launch.sharding_environment(plan.sharding, s.method)
    if s.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in s.gpus)
    prefix = " ".join(f"{key}={value}" for key, value in env.items())
    how = {
        "fsdp": "sharded over the GPUs (Unsloth's native FSDP2)",
        "ddp": "a whole model copy per GPU (DDP)",
    }[plan.sharding or "ddp"]
    flags = launch.torchrun_flags(s, "train", endpoint="HOST0:29400")
    lines = [f"Several GPUs, as `ftui train` starts this run: {how}."]
    if s.nodes > 1:
        lines.append(f"On each of the {s.nodes} machines (HOST0: the first one's name; the folder shared):")
    lines.append(f"  {prefix + ' ' if prefix else ''}torchrun {' '.join(flags)} train.py")
    return lines


def generate_script(config: RunConfig) -> str:
    if config.modality == "vision":
        from ftui.core.script_vision import generate_vision_script

        return generate_vision_script(config, *_detected(config))
    fmt, mapping = _detected(config)
    # A known format reads its fields from the mapped columns (a field's own name by default); the
    # generic converter recognises rows by the standard column names.
    columns = mapping if fmt in FORMATS_WITH_COLUMNS else {}
    template = config.template or "model"
    return _template().render(
        config=config,
        settings=config.settings,
        full=config.settings.method == "full",
        checkpointing=_CHECKPOINTING[config.settings.gradient_checkpointing],
        template=template,
        format=fmt if fmt in FORMATS_WITH_COLUMNS else None,
        column=lambda field: repr(columns.get(field, field)),
        data_kind=_data_kind(config.data),
        markers=_response_markers(template) if config.settings.responses_only else (None, None),
        launch=_launch_lines(config),
    )
