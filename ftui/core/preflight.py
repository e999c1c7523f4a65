"""Before a GPU minute is spent: every check a run must pass to start, each a verdict and one sentence.

`preflight(config)` is what the train step's Start sheet shows and what `ftui train` runs before it
makes a run directory. The checks, in the order a person would ask them:

  python   the interpreter that trains exists
  where    where it will run: this machine's GPU, or its CPU; a plan made for another card says so
  memory   whether the run fits that GPU (the estimator), with what other processes hold on it now
  cpu      on a machine without a GPU, only a small model trains: anything else is refused with its time
  model    where the weights come from: a local folder, the local HF cache, or the Hub (reachable? gated
           with no token? the download against the free disk)
  data     every row checked; rows that cannot be trained on block the start unless they are skipped
  others   another live run on the same GPU, and what it holds

Offline, the whole of it takes well under 2 s: the Hub is asked once, with a short connect timeout,
and only when the model is neither local nor cached. Nothing here imports torch or Textual.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ftui.core.errors import UserError
from ftui.core.fit import FIT_WORDS, fit_on
from ftui.core.plan import GpuChoice
from ftui.core.run_config import RunConfig

Verdict = Literal["ok", "warn", "block"]
HUB_CONNECT_S = 1.5
GIB = 1024**3
# A CPU trains only what is small enough to finish in minutes: the tiny test models, at most a
# 0.6B model (Qwen2.5-0.5B) on a short run.
CPU_MAX_PARAMS_B = 0.6
CPU_MAX_SECONDS = 3600.0
# Sustained training FLOP/s per CPU core in fp32 (forward + backward; a matmul peak of ~50 GFLOP/s
# per core here, of which training keeps about a fifth busy). Only for the order of magnitude a
# refusal quotes: hours, days or weeks.
CPU_TRAIN_FLOPS_PER_CORE = 10e9
UNREADABLE_DATA = "The data could not be read"


@dataclass(frozen=True)
class Check:
    name: str  # python | where | memory | cpu | model | data | others
    verdict: Verdict
    sentence: str
    override: str | None = None  # what lets a blocked check go: "force" or "skip_bad_rows"; None: nothing
    details: tuple[str, ...] = ()  # more lines: each problem row, each other run

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "sentence": self.sentence,
            "override": self.override,
            "details": list(self.details),
        }


@dataclass
class Preflight:
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    def blocking(self, *, force: bool = False, skip_bad_rows: bool = False) -> list[Check]:
        """The checks that still stop the start with these overrides."""
        allowed = {"force"} if force else set()
        if skip_bad_rows:
            allowed.add("skip_bad_rows")
        return [c for c in self.checks if c.verdict == "block" and c.override not in allowed]

    def needs(self, override: str) -> bool:
        return any(c.verdict == "block" and c.override == override for c in self.checks)

    @property
    def ok(self) -> bool:
        return not self.blocking()

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [check.to_json() for check in self.checks],
            "seconds": round(self.seconds, 3),
        }


def preflight(
    config: RunConfig,
    *,
    hardware: Any = None,  # ftui.core.hardware.Hardware; probed here when None
    plan_gpu: GpuChoice | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    nvml: Any = None,
    data_report: Any = None,  # an InspectionReport of config.data already made (the TUI's data step)
) -> Preflight:
    """Every check for starting `config` on this machine (see the module's docstring)."""
    started = time.perf_counter()
    if hardware is None:
        from ftui.core.hardware import probe

        hardware = probe(nvml, runs_dir=Path(runs_dir) if runs_dir else None)
    result = Preflight()
    checks = result.checks
    checks.append(_python(config))
    gpus = _training_gpus(config, hardware)
    checks.append(_where(config, hardware, gpus, plan_gpu))
    dims, size_problem = _dims(config)
    report, data_check = _data(config, data_report)
    others = _other_runs(config, runs_dir)
    if gpus:
        checks.append(_memory(config, dims, size_problem, gpus))
    else:
        checks.append(_cpu(config, dims, size_problem, hardware, report))
    checks.append(_model(config, dims, hardware))
    checks.append(data_check)
    if others is not None:
        checks.append(others)
    result.seconds = time.perf_counter() - started
    return result


# ----- python, where ------------------------------------------------------------------------------
def _python(config: RunConfig) -> Check:
    from ftui.core.runs import check_python

    try:
        check_python(config)
    except UserError as error:
        return Check("python", "block", str(error))
    return Check("python", "ok", f"Trains with {config.python or 'this ftui’s own Python'}.")


def _training_gpus(config: RunConfig, hardware: Any) -> list[Any]:
    """The GPUs the run will use: those named (--gpus), else the first one CUDA sees."""
    if not hardware.gpus:
        return []
    if config.settings.gpus:
        return [gpu for gpu in hardware.gpus if gpu.index in config.settings.gpus]
    return [hardware.gpus[0]]


def _where(config: RunConfig, hardware: Any, gpus: list[Any], plan_gpu: GpuChoice | None) -> Check:
    missing = [i for i in config.settings.gpus if i not in {gpu.index for gpu in hardware.gpus}]
    if missing and not hardware.gpus:
        # torchrun starts a process per named GPU; on a machine without any they train on the CPU (gloo)
        cores = hardware.cpu_usable or hardware.cpu_threads or 1
        return Check(
            "where",
            "warn",
            f"No GPU here: the {len(config.settings.gpus)} processes --gpus asks for train on this machine's "
            f"CPU ({cores} cores), talking through gloo.",
        )
    if missing:
        seen = ", ".join(str(gpu.index) for gpu in hardware.gpus) or "none"
        return Check(
            "where",
            "block",
            f"GPU {missing[0]} is not on this machine (CUDA sees {seen}); fix --gpus or the gpus setting.",
        )
    rented = plan_gpu is not None and not plan_gpu.detected
    if gpus:
        names = ", ".join(f"GPU {gpu.index} {gpu.name}" for gpu in gpus)
        sentence = f"Trains here, on {names}."
        if rented and plan_gpu is not None and plan_gpu.name not in {gpu.name for gpu in gpus}:
            return Check(
                "where",
                "warn",
                f"The plan was made for the {plan_gpu.name} (a card to rent), but this run starts here, on "
                f"{names}; the checks below are for this machine.",
            )
        return Check("where", "ok", sentence)
    cores = hardware.cpu_usable or hardware.cpu_threads or 1
    if rented and plan_gpu is not None:
        return Check(
            "where",
            "warn",
            f"The plan was made for the {plan_gpu.name} (a card to rent), but this run starts here, on this "
            f"machine's CPU ({cores} cores): it has no GPU. Run ftui on the {plan_gpu.name} to train there.",
        )
    details = (hardware.gpu_error,) if hardware.gpu_error else ()
    return Check(
        "where",
        "warn",
        f"Trains on this machine's CPU ({cores} cores): it has no NVIDIA GPU.",
        details=details,
    )


# ----- size, memory, CPU --------------------------------------------------------------------------
def _dims(config: RunConfig) -> tuple[Any, str | None]:
    """The model's dims without a slow Hub round trip: catalog, local folder, local cache, else the Hub
    with a short connect timeout (None and why when none of them knows)."""
    from ftui.core import hub
    from ftui.core.catalog import dims_for, load_catalog

    name = config.model
    known = load_catalog().find(name) or Path(name).expanduser().exists() or hub.cached_config_path(name)
    if not known and hub.looks_like_repo_id(name):
        offline = _offline()
        if offline:
            return None, f"{name} is not in the catalog or the local Hugging Face cache, and {offline} is set"
        try:
            hub.require_reachable_hub(name, HUB_CONNECT_S)
        except UserError as error:
            return None, str(error)
    try:
        return dims_for(name), None
    except UserError as error:
        return None, str(error)


def _params_b(dims: Any) -> float:
    from ftui.core.memory import parameter_counts

    return dims.params_b or parameter_counts(dims).total / 1e9


def _memory(config: RunConfig, dims: Any, size_problem: str | None, gpus: list[Any]) -> Check:
    from ftui.core.memory import estimate_peak_vram

    if dims is None:
        return Check("memory", "warn", f"The memory it needs is unknown: {size_problem}")
    need = estimate_peak_vram(dims, config.settings).total_gib
    worst = None
    for gpu in gpus:
        fit = fit_on(need, gpu.memory_total_gib, gpu.memory_used_gib)
        if worst is None or ("fits", "tight", "too_big").index(fit) > ("fits", "tight", "too_big").index(
            worst[0]
        ):
            worst = (fit, gpu)
    assert worst is not None
    fit, gpu = worst
    words = FIT_WORDS[fit]
    used = gpu.memory_used_gib or 0.0
    held = f", {used:.1f} GiB of it in use now" if used >= 1.0 else ""
    sentence = (
        f"Needs about {need:.1f} GiB at its peak on GPU {gpu.index} {gpu.name} "
        f"({gpu.memory_total_gib:.1f} GiB{held}): {words.sentence}."
    )
    if fit == "too_big":
        if need <= gpu.memory_total_gib:
            sentence += " Free the GPU, or lower the micro-batch or the sequence length."
        else:
            sentence += (
                " Lower the micro-batch or the sequence length, or use QLoRA (step 6 shows what fits)."
            )
        return Check("memory", "block", sentence, override="force")
    return Check("memory", "warn" if fit == "tight" else "ok", sentence)


def cpu_seconds(params_b: float, tokens: int, cores: int) -> float:
    """The order of magnitude of a run on the CPU: six FLOPs per parameter per token (forward and
    backward), at CPU_TRAIN_FLOPS_PER_CORE on each core."""
    return 6 * params_b * 1e9 * tokens / (CPU_TRAIN_FLOPS_PER_CORE * max(1, cores))


def _run_tokens(config: RunConfig, report: Any) -> int:
    """Tokens the run will train on: the steps it asks for times the mean row, or the data times the epochs."""
    s = config.settings
    tokens = report.tokens if report is not None else None
    mean = tokens.mean if tokens is not None and tokens.mean else s.seq / 2
    if s.max_steps:
        return int(s.max_steps * s.batch * s.grad_accum * mean)
    rows = report.usable_rows if report is not None else 1000
    return int(rows * mean * s.epochs)


def _cpu(config: RunConfig, dims: Any, size_problem: str | None, hardware: Any, report: Any) -> Check:
    from ftui.core.runs.progress import duration_words

    if dims is None:
        return Check(
            "cpu",
            "block",
            f"No GPU here and the model's size is unknown ({size_problem}); a CPU trains only small models.",
            override="force",
        )
    params = _params_b(dims)
    cores = hardware.cpu_usable or hardware.cpu_threads or 1
    seconds = cpu_seconds(params, _run_tokens(config, report), cores)
    size = f"{params:.2f}B" if params < 1 else f"{params:.1f}B"
    took = f"its training would take about {duration_words(seconds)} on this CPU ({cores} cores)"
    if params > CPU_MAX_PARAMS_B:
        weights = 2 * params * 1e9 / GIB  # 16-bit weights, before any gradient or activation
        return Check(
            "cpu",
            "block",
            f"No GPU here, and a CPU trains only small models (up to {CPU_MAX_PARAMS_B}B): this {size} model "
            f"needs about {weights:.0f} GiB of RAM for its weights ({hardware.ram_available_gib:.0f} GiB free) "
            f"and {took}. Run it on a GPU machine.",
            override="force",
        )
    if seconds > CPU_MAX_SECONDS:
        return Check(
            "cpu",
            "block",
            f"No GPU here: {took}; run it on a GPU machine, or train fewer steps here.",
            override="force",
        )
    return Check(
        "cpu",
        "warn",
        f"No GPU here: a {size} model, about {duration_words(seconds)} on this CPU ({cores} cores).",
    )


# ----- the model's weights --------------------------------------------------------------------------
def _token_present() -> bool:
    """An HF token in the environment or saved by `hf auth login` (never read, only looked for)."""
    from ftui.core.hf_env import hf_home

    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return True
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.environ["HF_TOKEN_PATH"]).expanduser().is_file()
    return (hf_home() / "token").is_file()


def _download_bytes(repo: str, dims: Any, method: str) -> int:
    """What loading `repo` downloads, from the model's dims: 4-bit repos hold NF4 linear layers, others
    16-bit weights."""
    import dataclasses

    from ftui.core.memory import estimate_peak_vram
    from ftui.core.plan import TrainingSettings

    four_bit = "4bit" in repo.lower() or "bnb" in repo.lower()
    settings = dataclasses.replace(TrainingSettings(), method="qlora" if four_bit else "lora")
    return int(estimate_peak_vram(dims, settings).breakdown["weights"] * GIB)


def _free_bytes(path: Path) -> int | None:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return shutil.disk_usage(existing).free
    except OSError:
        return None


def _cached_weights(repo: str) -> bool:
    """The repo's snapshot in the local HF cache holds weights, not just its config.json."""
    from ftui.core.hub import cached_config_path

    config = cached_config_path(repo)
    if config is None:
        return False
    folder = config.parent
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def _offline() -> str | None:
    """The variable that keeps ftui off the Hub, or None."""
    from ftui.core.hf_env import offline_variable

    return offline_variable()


def _model(config: RunConfig, dims: Any, hardware: Any) -> Check:
    from ftui.core import hf_env, hub
    from ftui.core.catalog import load_catalog

    repo = config.load_repo
    local = Path(repo).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            return Check(
                "model", "block", f"{repo} has no config.json; point ftui at a folder that holds a model."
            )
        return Check("model", "ok", f"Loads the local folder {repo}.")
    if _cached_weights(repo):
        return Check("model", "ok", f"{repo} is in the local Hugging Face cache: nothing to download.")
    if not hub.looks_like_repo_id(repo):
        return Check(
            "model", "block", f"{repo} is neither a local model folder nor a Hub repo id; check the name."
        )
    offline = _offline()
    if offline:
        return Check(
            "model",
            "block",
            f"{repo} is not in the local Hugging Face cache and {offline} is set; download it first "
            f"or unset {offline}.",
        )
    try:
        hub.require_reachable_hub(repo, HUB_CONNECT_S)
    except UserError as error:
        return Check("model", "block", str(error), override="force")
    model = load_catalog().find(config.model)
    gated = model is not None and model.gated and repo.lower() == model.hf_id.lower()
    if gated and not _token_present():
        return Check(
            "model",
            "block",
            f"{repo} is gated and no Hugging Face token is set: accept its license on the Hub, then "
            "`hf auth login` (or set HF_TOKEN).",
        )
    where = "downloads it from the Hub"
    if dims is None:
        return Check("model", "warn", f"{repo} is not cached here: training {where} (size unknown).")
    need = _download_bytes(repo, dims, config.settings.method)
    free = _free_bytes(hf_env.hub_cache_dir())
    size = f"about {need / GIB:.1f} GiB"
    if free is not None and need > free:
        return Check(
            "model",
            "block",
            f"{repo} is not cached here and is {size}; the HF cache's disk has {free / GIB:.1f} GiB free. "
            "Free some space or set HF_HOME to a larger disk.",
            override="force",
        )
    free_words = f" ({free / GIB:.0f} GiB free)" if free is not None else ""
    return Check("model", "ok", f"{repo} is not cached here: training {where}, {size}{free_words}.")


# ----- the data --------------------------------------------------------------------------------------
def lines_words(lines: list[int], limit: int = 40) -> str:
    """3, 4, 10-12 and 5 more: every line as ranges, up to `limit` numbers shown."""
    ranges: list[tuple[int, int]] = []
    for line in lines:
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], line)
        elif not ranges or line != ranges[-1][1]:
            ranges.append((line, line))
    shown = [f"{a}" if a == b else f"{a}, {b}" if b == a + 1 else f"{a}-{b}" for a, b in ranges[:limit]]
    rest = len(ranges) - limit
    return ", ".join(shown) + (f" and {rest} more ranges" if rest > 0 else "")


def _data(config: RunConfig, report: Any) -> tuple[Any, Check]:
    from ftui.core.data import inspect

    if report is None:
        try:
            report = inspect(
                config.data,
                format=config.format,
                mapping=config.mapping or None,
                max_length=config.settings.seq,
            )
        except UserError as error:
            return None, Check("data", "block", f"{UNREADABLE_DATA}: {error}")
    bad = list(report.problem_lines)
    if not bad:
        extra = (
            f" ({report.problem_counts.get('duplicate', 0):,} repeated, trained on as they are)"
            if report.problem_counts.get("duplicate")
            else ""
        )
        return report, Check("data", "ok", f"Every one of the {report.rows:,} rows converts{extra}.")
    unit = "line" if report.kind in ("jsonl", "csv", "tsv") else "row"
    kinds = ", ".join(
        f"{kind.replace('_', ' ')} {count:,}"
        for kind, count in report.problem_counts.items()
        if kind not in ("duplicate", "too_long")
    )
    where = f"{unit}{'s' if len(bad) > 1 else ''} {lines_words(bad)}"
    details = tuple(
        p.message
        for p in sorted(report.problems, key=lambda p: p.line)
        if p.kind not in ("duplicate", "too_long")
    )
    if config.settings.skip_bad_rows:
        return report, Check(
            "data",
            "warn",
            f"{len(bad):,} of {report.rows:,} rows cannot be trained on ({kinds}) and are skipped: {where}.",
            details=details,
        )
    return report, Check(
        "data",
        "block",
        f"{len(bad):,} of {report.rows:,} rows cannot be trained on ({kinds}): {where}; fix them, or skip them.",
        override="skip_bad_rows",
        details=details,
    )


# ----- other runs --------------------------------------------------------------------------------------
def _other_runs(config: RunConfig, runs_dir: str | os.PathLike[str] | None) -> Check | None:
    """Another live run that will share this run's GPU (the same index; none named is GPU 0)."""
    from ftui.core.runs import list_runs, summarize

    mine = set(config.settings.gpus or (0,))
    sharing: list[str] = []
    for run in list_runs(runs_dir):
        status = run.status()
        if not status.is_live:
            continue
        try:
            theirs = set(run.config().settings.gpus or (0,))
        except UserError:
            theirs = {0}
        if not mine & theirs:
            continue
        summary = summarize(run, status)
        holds = f", {summary.peak_gpu_gib:.1f} GiB at its peak so far" if summary.peak_gpu_gib else ""
        sharing.append(f"{run.run_id} ({status.state}{holds})")
    if not sharing:
        return None
    return Check(
        "others",
        "warn",
        f"{len(sharing)} other run{'s' if len(sharing) > 1 else ''} live on the same GPU: {'; '.join(sharing)}. "
        "They share its memory and its time.",
        details=tuple(sharing),
    )
