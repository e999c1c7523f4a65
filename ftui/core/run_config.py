"""RunConfig: everything needed to reproduce a training run, kept as config.toml in the run directory.

`ftui train CONFIG.toml --batch 1` reads the file, then the flags override it; the TUI builds one from
its Plan. The trainer process reads the same file, so what was run is exactly what is written down.
No HF token is ever part of it: the trainer takes the token from the environment or the HF login.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftui.core import fs
from ftui.core.errors import UsageError, UserError
from ftui.core.plan import METHODS, Plan, TrainingSettings

# ftui itself needs Python 3.11, but the trainer reads the config under the interpreter the user names
# (`python = ...`), which may be a 3.10 env that holds Unsloth; there, tomli is the parser tomllib came from.
try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib  # type: ignore[no-redef]

MODALITIES = ("text", "vision")
GRADIENT_CHECKPOINTING = ("unsloth", "plain", "none")
# Keys of the top-level table, in the order they are written.
_TOP_KEYS = (
    "name",
    "model",
    "repo",
    "template",
    "modality",
    "data",
    "format",
    "python",
    "samples",
    "max_new_tokens",
)
_MAX_CONFIG_BYTES = 1 << 20
_SETTING_TYPES = {f.name: f.type for f in dataclasses.fields(TrainingSettings)}


@dataclass
class RunConfig:
    model: str  # a catalog name, an HF repo id or a local model directory
    data: str  # a dataset file or an HF dataset id
    settings: TrainingSettings = field(default_factory=TrainingSettings)
    repo: str | None = None  # what is loaded, e.g. unsloth/...-bnb-4bit; None: resolved from the catalog
    template: str | None = None  # chat template or prompt style (chatml, llama-3.1, alpaca, ...)
    modality: str = "text"  # vision models load with FastVisionModel
    format: str | None = None  # the dataset format when detection should be overridden
    mapping: dict[str, str] = field(default_factory=dict)  # format field -> dataset column (--map)
    name: str | None = None  # a label for the run (part of its id)
    python: str | None = None  # the interpreter that trains (people keep Unsloth in its own env)
    samples: int = 3  # held-out prompts generated after training, for the compare screen
    max_new_tokens: int = 128  # length of each sample generation

    # ----- reading and writing -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "the config") -> RunConfig:
        """Build from a parsed TOML table; every mistake is one sentence that names the key."""
        data = dict(data)
        training = data.pop("training", {}) or {}
        mapping = data.pop("mapping", {}) or {}
        unknown = sorted(set(data) - set(_TOP_KEYS))
        if unknown:
            raise UserError(
                f"{source} has an unknown key {unknown[0]!r}; the known keys are "
                f"{', '.join(_TOP_KEYS)} and the tables [training] and [mapping]."
            )
        for key in ("model", "data"):
            if not data.get(key):
                raise UserError(
                    f'{source} does not say which {key} to use; add {key} = "..." or pass --{key}.'
                )
        if not isinstance(training, dict) or not isinstance(mapping, dict):
            raise UserError(f"{source}: [training] and [mapping] must be tables.")
        config = cls(
            model=str(data["model"]),
            data=str(data["data"]),
            settings=settings_from_dict(training, source=source),
            mapping={str(k): str(v) for k, v in mapping.items()},
        )
        for key in ("repo", "template", "format", "name", "python"):
            if data.get(key) is not None:
                setattr(config, key, str(data[key]))
        if "modality" in data:
            config.modality = str(data["modality"])
        for key in ("samples", "max_new_tokens"):
            if key in data:
                config_value = data[key]
                if not isinstance(config_value, int) or isinstance(config_value, bool) or config_value < 0:
                    raise UserError(
                        f"{source}: {key} must be a whole number of 0 or more, not {config_value!r}."
                    )
                setattr(config, key, config_value)
        config.validate(source=source)
        return config

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> RunConfig:

        path = Path(path)
        if fs.is_special(path) or fs.is_dir(path):
            raise UserError(
                f"{path} is not a regular file; give a run's config.toml or a TOML file you wrote."
            )
        try:
            with open(path, "rb") as handle:
                raw = handle.read(_MAX_CONFIG_BYTES + 1)
            if len(raw) > _MAX_CONFIG_BYTES:
                raise UserError(
                    f"{path} is larger than a run config can be ({_MAX_CONFIG_BYTES // 1024} KiB); check the path."
                )
            text = raw.decode("utf-8")
        except FileNotFoundError:
            raise UserError(f"There is no config file {path}; check the path or run without it.") from None
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(
                f"Could not read {path} ({error}); check that it is a readable TOML file."
            ) from None
        text = text.removeprefix(
            "\ufeff"
        )  # a byte-order mark (Windows editors add one) is not TOML, but harmless
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise UserError(f"{path} is not valid TOML ({error}); fix that line and try again.") from None
        except RecursionError:
            raise UserError(f"{path} is nested too deeply to be a run config; fix the file.") from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """The TOML table: None values left out (TOML has no null), tuples as lists."""
        top: dict[str, Any] = {}
        for key in _TOP_KEYS:
            value = getattr(self, key)
            if value is not None:
                top[key] = value
        if self.mapping:
            top["mapping"] = dict(self.mapping)
        training: dict[str, Any] = {}
        for f in dataclasses.fields(TrainingSettings):
            value = getattr(self.settings, f.name)
            if value is None:
                continue
            training[f.name] = list(value) if isinstance(value, tuple) else value
        top["training"] = training
        return top

    def to_toml(self) -> str:
        import tomli_w

        header = (
            "# ftui run config: everything needed to reproduce this run.\n"
            "# Run it again with `ftui train config.toml`; flags override what is written here.\n"
            "# `ftui script config.toml` prints the same run as a standalone Unsloth script.\n\n"
        )
        return header + tomli_w.dumps(self.to_dict())

    def write(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_toml(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    # ----- building ------------------------------------------------------------------------------
    @classmethod
    def from_plan(
        cls,
        plan: Plan,
        *,
        data: str | None = None,
        template: str | None = None,
        python: str | None = None,
        name: str | None = None,
    ) -> RunConfig:
        """The TUI's way in: the chosen model and settings from the Plan, the data from its summary."""
        source = data or (plan.dataset.source if plan.dataset else None)
        if not plan.model or not source:
            raise UserError("The plan has no model or no dataset yet; choose both before training.")
        config = cls(
            model=plan.model,
            data=source,
            settings=dataclasses.replace(plan.settings),
            repo=plan.repo,
            template=template,
            format=plan.dataset.format if plan.dataset and plan.dataset.format != "unknown" else None,
            name=name,
            python=python,
            modality="vision"
            if plan.use_case == "vision" or (plan.dataset is not None and plan.dataset.modality == "vision")
            else "text",
        )
        if plan.gpu is not None and plan.gpu.detected and plan.gpu.count > 1 and not config.settings.gpus:
            # Planned for N of this machine's cards (the hardware step's -/+): the run takes the first N.
            config.settings.gpus = tuple(range(plan.gpu.count))
        config.validate()
        if plan.gpu is not None and config.settings.auto_batch:
            # The split the train step shows: the fastest for the plan's card (ftui.core.batching).
            from ftui.core.batching import choose_for_run

            dataset = plan.dataset
            mean_row = (
                max(1, round(dataset.total_tokens / dataset.rows))
                if dataset and dataset.total_tokens and dataset.rows
                else None
            )
            choice = choose_for_run(
                config,
                vram_gib=plan.gpu.vram_gib,
                gpu=plan.gpu.name,
                gpus=max(1, len(config.settings.gpus)),
                mean_row=mean_row,
            )
            config.settings = choice.settings(config.settings)
        return config

    def with_overrides(self, **changes: Any) -> RunConfig:
        """A copy where every change that is not None wins: top-level keys or TrainingSettings fields."""
        top = {k: v for k, v in changes.items() if v is not None and k in _TOP_KEYS + ("mapping",)}
        settings = {k: v for k, v in changes.items() if v is not None and k in _SETTING_TYPES}
        unknown = set(changes) - set(top) - set(settings) - {k for k, v in changes.items() if v is None}
        if unknown:
            raise ValueError(f"unknown overrides: {sorted(unknown)}")  # a programming error
        # --max-steps and --epochs exclude each other: the one given on the command line wins.
        if "epochs" in settings and "max_steps" not in settings:
            settings["max_steps"] = None
        config = dataclasses.replace(self, settings=dataclasses.replace(self.settings, **settings), **top)
        config.validate(source="the flags")
        return config

    def validate(self, *, source: str = "the config") -> None:
        s = self.settings
        if s.method not in METHODS:
            raise UsageError(
                f"{source}: method {s.method!r} is not one of {', '.join(METHODS)}; pick one of those."
            )
        if self.modality not in MODALITIES:
            raise UsageError(f"{source}: modality {self.modality!r} is not text or vision.")
        if s.gradient_checkpointing not in GRADIENT_CHECKPOINTING:
            raise UsageError(
                f"{source}: gradient_checkpointing {s.gradient_checkpointing!r} is not one of "
                f"{', '.join(GRADIENT_CHECKPOINTING)}."
            )
        positive = {
            "rank": s.rank,
            "alpha": s.alpha,
            "batch": s.batch,
            "grad_accum": s.grad_accum,
            "seq": s.seq,
            "save_steps": s.save_steps,
        }
        for key, value in positive.items():
            if value < 1:
                raise UsageError(f"{source}: {key} must be at least 1, not {value}.")
        if s.max_steps is not None and s.max_steps < 1:
            raise UsageError(f"{source}: max_steps must be at least 1, not {s.max_steps}.")
        if s.max_steps is None and not s.epochs > 0:
            raise UsageError(f"{source}: epochs must be more than 0, not {s.epochs}; or set max_steps.")
        if not 0 < s.learning_rate < 1:
            raise UsageError(
                f"{source}: learning_rate {s.learning_rate} is out of range; ftui's default is 2e-4."
            )
        if not 0 <= s.eval_split < 1:
            raise UsageError(
                f"{source}: eval_split is a fraction of the rows (0 to 0.5 makes sense), not {s.eval_split}."
            )
        if not 0 <= s.dropout < 1:
            raise UsageError(f"{source}: dropout must be between 0 and 1, not {s.dropout}.")
        if any(g < 0 for g in s.gpus):
            raise UsageError(f"{source}: gpus are indices like 0,1, not {list(s.gpus)}.")
        if self.modality == "vision" and s.method != "full":
            if not (s.finetune_vision_layers or s.finetune_language_layers):
                raise UsageError(
                    f"{source}: neither the vision nor the language layers are tuned; "
                    "turn one on (--finetune-vision or --finetune-language)."
                )
            if not (s.finetune_attention_modules or s.finetune_mlp_modules):
                raise UsageError(
                    f"{source}: neither attention nor the MLP is tuned; "
                    "turn one on (--finetune-attention or --finetune-mlp)."
                )
        self._check_names(source)
        from ftui.core.launch import validate_launch

        validate_launch(s, source=source)

    def _check_names(self, source: str) -> None:
        """Names the trainer would only reject after it started: an optimizer whose memory ftui does not
        know, a template that is neither stored, nor a .jinja file, nor the model's own, a format."""
        from ftui.core.memory import OPTIMIZERS
        from ftui.core.plan import DATA_FORMATS

        if self.settings.optimizer not in OPTIMIZERS:
            raise UsageError(
                f"{source}: optimizer {self.settings.optimizer!r} is not one ftui knows; use one of "
                f"{', '.join(OPTIMIZERS)}."
            )
        if self.format is not None and self.format not in DATA_FORMATS:
            raise UsageError(f"{source}: format {self.format!r} is not one of {', '.join(DATA_FORMATS)}.")
        template = self.template
        if template is None or template == "model" or template.endswith(".jinja"):
            return  # a .jinja file is checked where its path is resolved (resolve())
        from ftui.core.data.templates import UnknownTemplateError, get_template

        try:
            get_template(template)
        except UnknownTemplateError as error:
            raise UsageError(f"{source}: {error}") from None

    @property
    def load_repo(self) -> str:
        """What the trainer loads: the resolved repo, else the model as given."""
        return self.repo or self.model


def settings_from_dict(values: dict[str, Any], *, source: str = "the config") -> TrainingSettings:
    """TrainingSettings from a [training] table, checking each value's type against the dataclass."""
    unknown = sorted(set(values) - set(_SETTING_TYPES))
    if unknown:
        raise UserError(
            f"{source}: [training] has an unknown key {unknown[0]!r}; the known keys are "
            f"{', '.join(sorted(_SETTING_TYPES))}."
        )
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        cleaned[key] = _coerce(key, value, _SETTING_TYPES[key], source)
    return TrainingSettings(**cleaned)


def _coerce(key: str, value: Any, annotation: Any, source: str) -> Any:
    text = str(annotation)
    wrong = UserError(
        f"{source}: [training] {key} = {value!r} has the wrong type; see ftui's defaults in README.md."
    )
    if "tuple" in text:
        if not isinstance(value, list | tuple):
            raise wrong
        return tuple(int(v) if "int" in text else str(v) for v in value)
    if isinstance(value, bool):
        if text != "bool":
            raise wrong
        return value
    if text == "bool":
        raise wrong
    if "int" in text and isinstance(value, int) and "float" not in text:
        return value
    if "float" in text and isinstance(value, int | float):
        return float(value)
    if "str" in text and isinstance(value, str):
        return value
    raise wrong


def parse_gpus(text: str | None) -> tuple[int, ...] | None:
    """'0,1' -> (0, 1); None stays None (not given)."""
    if text is None:
        return None
    if not re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*)*", text):
        raise UsageError(f"--gpus takes GPU indices separated by commas, like 0,1, not {text!r}.")
    gpus = tuple(int(part) for part in text.split(","))
    if len(set(gpus)) != len(gpus):
        raise UsageError(f"--gpus lists a GPU twice ({text}); list each index once.")
    return gpus


def _exists(path: Path) -> bool:
    """Whether a path exists; a name the file system cannot hold (too long, say) does not."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _local_path(value: str, base_dir: Path | None) -> str:
    """An existing local path made absolute (the trainer runs in the run directory); anything else as it is."""
    candidates = [fs.expand(value)]
    if base_dir is not None and not fs.expand(value).is_absolute():
        candidates.insert(0, base_dir / value)
    for candidate in candidates:
        if _exists(candidate):
            return str(candidate.resolve())
    return value


def check_local(label: str, value: str) -> None:
    """A local model, dataset or template that is there and of the right kind; one sentence if not."""
    hints = {
        "model": "a local model folder (with config.json) or a Hub repo id",
        "data": "a dataset file (JSONL, JSON, CSV, Parquet), a folder of them, or an HF dataset id",
        "template": "a .jinja file or a template name (`ftui inspect --template` lists them)",
    }
    path = fs.expand(value)
    shown = value if len(value) <= 120 else value[:117] + "..."
    if not _exists(path):
        if _looks_local(value) or label == "template":
            raise UserError(f"The {label} {shown} does not exist; give {hints[label]}.")
        return
    if label == "model":
        if not path.is_dir():
            raise UserError(f"The model {shown} is not a folder; give {hints['model']}.")
        return
    if not (path.is_file() or (label == "data" and path.is_dir())):
        raise UserError(
            f"The {label} {shown} is not a regular file (a pipe or a device?); give {hints[label]}."
        )
    if label == "template":
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"The template {shown} is not UTF-8 text; re-save it as UTF-8.") from None
        except OSError as error:
            raise UserError(
                f"Cannot read the template {shown} ({error.strerror}); check its permissions."
            ) from None


def _data_has_images(config: RunConfig) -> bool:
    """Whether the data's rows carry images (then a model that reads them is trained as a vision model)."""
    try:
        from ftui.core.data.convert import detect
        from ftui.core.data.readers import open_source

        source = open_source(config.data)
        if source.origin == "stream":  # not on this machine: the trainer reads it, resolving must not
            return False
        return detect(source, config.format, config.mapping or None).vision
    except Exception:  # a Hub dataset not cached, an unreadable file: the trainer says what is wrong
        return False


def _looks_local(value: str) -> bool:
    return (
        value.startswith(("/", "./", "../", "~"))
        or value.count("/") > 1
        or Path(value).suffix in (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt")
    )


def resolve(
    config: RunConfig, *, base_dir: str | os.PathLike[str] | None = None, method_changed: bool = False
) -> RunConfig:
    """Make a config ready to run and to reproduce: local paths absolute (relative ones are taken from
    `base_dir`, the config file's folder, then the current directory); the repo to load, the template
    and the modality filled in from the catalog when the model is in it. Missing local files are a
    UserError now, before a run directory is made."""
    base = Path(base_dir).resolve() if base_dir else None
    config = dataclasses.replace(config, mapping=dict(config.mapping))
    config.model = _local_path(config.model, base)
    config.data = _local_path(config.data, base)
    if config.repo:
        config.repo = _local_path(config.repo, base)
    if config.template and config.template.endswith(".jinja"):
        config.template = _local_path(config.template, base)
    check_local("model", config.model)
    check_local("data", config.data)
    if config.template and config.template.endswith(".jinja"):
        check_local("template", config.template)
    model = None
    try:
        from ftui.core.catalog import load_catalog

        model = load_catalog().find(config.model)
    except (ImportError, UserError):
        model = None  # the catalog is advice, not a requirement: any local or Hub model trains
    if model is None and not _exists(fs.expand(config.model)):
        from ftui.core.hub import looks_like_repo_id

        if not looks_like_repo_id(config.model):
            shown = config.model if len(config.model) <= 120 else config.model[:117] + "..."
            raise UserError(
                f"The model {shown} is not in ftui's catalog, not a local folder and not a Hub repo id "
                "(owner/name); check the name (`ftui models` lists the catalog)."
            )
    # Vision when the rows carry images, or the model reads nothing but images and text (Llama 3.2 Vision);
    # Gemma 3, a vision model that is also a strong text model, trains on text data as a text model.
    if config.modality == "text" and (
        _data_has_images(config) or (model is not None and model.use_cases == ("vision",))
    ):
        config.modality = "vision"
    if config.modality == "vision" and config.template is None:
        config.template = "model"  # a vision model keeps its processor's own chat template
    if model is not None:
        if config.repo is None or method_changed:
            config.repo = model.repo_for(config.settings.method)
        if config.template is None:
            # The catalog's name, else the model's own template (instruct), else the Alpaca prompt (base).
            config.template = model.chat_template or ("model" if model.kind == "instruct" else "alpaca")
    if config.template is None:
        config.template = "model"  # the trainer uses the tokenizer's own chat template, else Alpaca
    config.validate()
    return config
