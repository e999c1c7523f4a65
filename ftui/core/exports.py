"""Exports of a finished run: the LoRA adapter, a merged 16-bit model, GGUF for llama.cpp and Ollama.

An export runs in its own process (`python -m ftui.exporter RUN_DIR EXPORT_ID`: torch is heavy, and
the CLI and the TUI never import it) and talks through files, as training does:
  <run>/exports/<export-id>.json   the record: request, state, phase, progress, sizes, result, error
  <run>/exports/<export-id>.log    the process's output
  <out>/                           the export itself; written as `.<name>.partial-<export-id>` beside it
                                   and renamed at the end, so a killed export never looks finished
Plain Python: no torch, no Textual.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftui.core.base_weights import BaseWeights, find_base_weights
from ftui.core.errors import UsageError, UserError
from ftui.core.runs.records import EvalRecord

FORMATS: tuple[str, ...] = ("adapter", "merged", "gguf")
# llama.cpp's quantization types, with their size in bits per weight (llama.cpp's quantize tool lists
# them so for Llama-class models); f32/f16/bf16/q8_0 are written by the converter itself, the others by
# llama.cpp's quantizer from an f16 file.
QUANTS: dict[str, float] = {
    "f32": 32.0,
    "f16": 16.0,
    "bf16": 16.0,
    "q8_0": 8.5,
    "q6_k": 6.56,
    "q5_k_m": 5.69,
    "q5_k_s": 5.54,
    "q5_1": 6.0,
    "q5_0": 5.5,
    "q4_k_m": 4.89,
    "q4_k_s": 4.58,
    "q4_1": 5.0,
    "q4_0": 4.5,
    "q3_k_l": 4.27,
    "q3_k_m": 3.91,
    "q3_k_s": 3.5,
    "q2_k": 2.96,
}
CONVERTER_QUANTS: tuple[str, ...] = ("f32", "f16", "bf16", "q8_0")
DEFAULT_QUANT = "q8_0"
STATES = ("starting", "running", "completed", "failed")
FINISHED_RUN_STATES = ("completed", "stopped")
# Room kept free beyond the estimate: filesystem metadata, the tokenizer, the record and the log.
MARGIN_BYTES = 16 * 1024**2
_DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "BF16": 2,
    "F16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}


def now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")  # noqa: UP017


# ----- the run, read through as few calls as possible (the run directory's API is being reworked) -----
@dataclass(frozen=True)
class FinishedRun:
    """What an export or a chat needs from a run: its id, folder, config and where its weights are."""

    run_id: str
    path: Path
    state: str
    model: str  # as the run names it
    load_repo: str  # what it trained on (a 4-bit repo for QLoRA)
    method: str
    template: str | None
    python: str | None
    weights_dir: Path  # adapter/ (LoRA, QLoRA) or model/ (full fine-tuning)
    samples: list[dict[str, Any]]
    max_new_tokens: int
    eval_split: float
    seq: int
    last_eval_loss: float | None  # the run's last logged eval_loss
    modality: str = "text"  # text | vision (run_config.MODALITIES)

    @property
    def full(self) -> bool:
        return self.method == "full"


def check_text_model(run: FinishedRun, what: str) -> None:
    """The exporter, chat and eval processes load text models (AutoModelForCausalLM); a vision run's
    model needs its processor and FastVisionModel, which they do not do yet: one sentence, not a
    traceback in a log. `what` is what cannot be done, e.g. "a merged export"."""
    if run.modality != "text":
        raise UserError(
            f"Run {run.run_id} is a {run.modality} run, and {what} loads text models only so far; export "
            "its adapter (--format adapter) and load it with Unsloth's FastVisionModel."
        )


def read_run(
    ref: str, runs_dir: str | None = None, *, need_finished: bool = True, purpose: str = "export"
) -> FinishedRun:
    """The run RUN names, checked to be finished with its weights saved (one sentence when not, saying
    what there is nothing to do: `purpose`, e.g. "export", "try", "evaluate").
    The one place that reads the run directory's API (ftui.core.runs)."""
    import msgspec

    from ftui.core.runs import find_run

    run = find_run(ref, runs_dir)
    state = run.status().state or "unknown"
    config = run.config()
    full = config.settings.method == "full"
    weights = run.model_dir if full else run.adapter_dir
    if need_finished and state not in FINISHED_RUN_STATES:
        live = state in ("starting", "running")
        raise UserError(
            f"Run {run.run_id} {'is still running' if live else f'ended {state}'}, so there is no finished "
            f"model to {purpose}; "
            + (
                f"wait for it (`ftui runs {run.run_id} --follow`)."
                if live
                else f"`ftui runs {run.run_id}` says why; resume it or {purpose} another run."
            )
        )
    if need_finished and not (weights / ("config.json" if full else "adapter_config.json")).is_file():
        raise UserError(
            f"Run {run.run_id} has no saved {'model' if full else 'adapter'} in {weights}; "
            f"it stopped before saving one, so there is nothing to {purpose}."
        )
    return FinishedRun(
        run_id=run.run_id,
        path=run.path,
        state=state,
        model=config.model,
        load_repo=config.load_repo,
        method=config.settings.method,
        template=config.template,
        python=config.python,
        weights_dir=weights,
        samples=[msgspec.to_builtins(sample) for sample in run.samples()],
        max_new_tokens=config.max_new_tokens,
        eval_split=config.settings.eval_split,
        seq=config.settings.seq,
        last_eval_loss=next(
            (
                r.eval_loss
                for r in reversed(run.metrics())
                if isinstance(r, EvalRecord) and r.eval_loss is not None
            ),
            None,
        ),
        modality=config.modality,
    )


# ----- sizes ------------------------------------------------------------------------------------
def safetensors_params(folder: Path) -> tuple[int, int]:
    """(parameters, bytes) of the *.safetensors files in `folder`, from their headers (no torch)."""
    params = stored = 0
    for path in sorted(folder.glob("*.safetensors")):
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in info["shape"]:
                count *= dim
            params += count
            stored += count * _DTYPE_BYTES.get(info["dtype"], 2)
    return params, stored


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def base_parameters(run: FinishedRun, base: BaseWeights | None) -> int:
    """Parameters of the model being exported: exact from safetensors headers when the weights are here,
    else from the model's dims (catalog or config.json)."""
    folder = run.weights_dir if run.full else (base.path if base else None)
    if folder is not None:
        params, _ = safetensors_params(folder)
        if params:
            return params
    from ftui.core.catalog import dims_for
    from ftui.core.memory import parameter_counts

    return parameter_counts(dims_for(base.repo if base else run.model)).total


def bytes_needed(fmt: str, quant: str | None, params: int, adapter_bytes: int = 0) -> dict[str, int]:
    """Disk the export takes at its peak (`peak`) and once finished (`final`), in bytes. GGUF goes
    through a merged 16-bit folder and, for llama.cpp's quantizer, an f16 GGUF, both removed at the end."""
    merged = 2 * params
    if fmt == "adapter":
        return {"peak": adapter_bytes, "final": adapter_bytes}
    if fmt == "merged":
        return {"peak": merged, "final": merged}
    assert quant is not None
    final = int(params * QUANTS[quant] / 8)
    intermediate = 0 if quant in CONVERTER_QUANTS else 2 * params
    return {"peak": merged + intermediate + final, "final": final}


def gib(n: int | float) -> str:
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 / 100 else f"{n / 1024**2:.1f} MiB"


# ----- the request ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportPlan:
    run: FinishedRun
    fmt: str
    quant: str | None
    out: Path
    base: BaseWeights | None
    params: int
    needed: dict[str, int]
    free: int


def default_out(run: FinishedRun, fmt: str, quant: str | None) -> Path:
    return run.path / "exports" / (f"{fmt}-{quant}" if quant else fmt)


def check_quant(fmt: str, quant: str | None) -> str | None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}.")
    if quant is None:
        return DEFAULT_QUANT if fmt == "gguf" else None
    quant = quant.strip().lower()
    if fmt != "gguf":
        raise UsageError(f"--quant applies to --format gguf only, not {fmt}; leave it out.")
    if quant not in QUANTS:
        raise UsageError(
            f"--quant {quant!r} is not a llama.cpp type ftui knows; use one of {', '.join(QUANTS)}."
        )
    return quant


def free_bytes(folder: Path) -> int:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def check_out_free(out: Path) -> None:
    """The output folder must not hold anything yet (an export never mixes with other files)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not empty; pass another --out or remove it first.")


def check_access(out: Path) -> None:
    """Refuse a folder that cannot be written without writing anything: the nearest folder that exists
    must allow writing (a read-only mount says no even to root; mode bits say no to other users). The
    write test of `check_writable` still decides when the export starts."""
    existing = out.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        import errno

        reason = os.strerror(errno.EROFS if _read_only(existing) else errno.EACCES)
        raise UserError(
            f"Cannot write the export in {out.parent} ({reason}); pass --out DIR in a folder you can write."
        )


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_writable(out: Path) -> None:
    """Create the output's parent and a probe file in it: the only reliable test (root ignores mode bits;
    a read-only mount does not)."""
    check_out_free(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".ftui-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise UserError(
            f"Cannot write the export in {parent} ({error.strerror or error}); pass --out DIR in a folder you can write."
        ) from None


def gguf_tools_problem() -> str | None:
    """Why a GGUF export cannot run on this machine (llama.cpp's tools are not installed), or None. Read
    from the installed packages' metadata: nothing is imported."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("llama-cpp-python")
    except PackageNotFoundError:
        return (
            "GGUF export needs llama.cpp's tools (llama-cpp-python), which are not installed here; install "
            'them with `pip install "ftui[export]"` (it builds llama.cpp: a C++ compiler and CMake), or export '
            "merged."
        )
    return None


def size_export(
    run: FinishedRun, fmt: str, quant: str | None, out: str | None, base_weights: str | None = None
) -> ExportPlan:
    """The export's size on disk and the free space where it goes, with every check that writes nothing:
    the format and type, llama.cpp's tools for GGUF, the base weights, an output folder already in use.
    What the app shows before the user starts an export; `plan_export` adds the rest."""
    quant = check_quant(fmt, quant)
    if fmt != "adapter":
        check_text_model(run, f"a {fmt} export")
    if fmt == "gguf" and (problem := gguf_tools_problem()):
        raise UserError(problem)
    target = Path(out).expanduser().resolve() if out else default_out(run, fmt, quant)
    base = None
    if fmt != "adapter" and not run.full:
        from ftui.core.catalog import load_catalog

        found = load_catalog().find(run.model)
        base = find_base_weights(
            run.model,
            run.load_repo,
            run.method,
            catalog_bf16=found.unsloth.bf16 if found else None,
            given=base_weights,
        )
    check_out_free(target)
    check_access(target)
    params = base_parameters(run, base) if fmt != "adapter" else 0
    needed = bytes_needed(fmt, quant, params, folder_bytes(run.weights_dir))
    return ExportPlan(run, fmt, quant, target, base, params, needed, free_bytes(target.parent))


def room_problem(plan: ExportPlan) -> str | None:
    """One sentence when the export will not fit the free space where it is written, else None."""
    if plan.needed["peak"] + MARGIN_BYTES <= plan.free:
        return None
    return (
        f"The {plan.fmt}{' ' + plan.quant if plan.quant else ''} export needs about "
        f"{gib(plan.needed['peak'] + MARGIN_BYTES)} on the disk of {plan.out.parent} while it is written and "
        f"only {gib(plan.free)} is free; free some space or pass --out DIR on a larger disk."
    )


def plan_export(
    run: FinishedRun, fmt: str, quant: str | None, out: str | None, base_weights: str | None = None
) -> ExportPlan:
    """Check everything that can be checked before a process starts: the format and type, the base
    weights, the output folder (by writing in it), and that the export fits the free space there."""
    sized = size_export(run, fmt, quant, out, base_weights)
    check_writable(sized.out)
    plan = dataclasses.replace(sized, free=free_bytes(sized.out.parent))
    if problem := room_problem(plan):
        raise UserError(problem)
    return plan


# ----- records ----------------------------------------------------------------------------------
def exports_dir(run_path: Path) -> Path:
    return run_path / "exports"


def record_path(run_path: Path, export_id: str) -> Path:
    return exports_dir(run_path) / f"{export_id}.json"


def log_path(run_path: Path, export_id: str) -> Path:
    return exports_dir(run_path) / f"{export_id}.log"


def partial_path(out: Path, export_id: str) -> Path:
    """Where the export is written until it is complete: hidden, beside the final name, same disk."""
    return out.with_name(f".{out.name}.partial-{export_id}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_record(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def update_record(path: Path, **changes: Any) -> dict[str, Any]:
    """Merge `changes` into the record under a lock and write it atomically."""
    with _locked(path):
        record = read_record(path)
        record.update(changes)
        record["updated_at"] = now_iso()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return record


def export_status(run_path: Path, export_id: str) -> dict[str, Any]:
    """The record, with a dead export process noticed: its partial files removed and the state failed."""
    path = record_path(run_path, export_id)
    record = read_record(path)
    if record.get("state") in ("starting", "running") and _alive(record) is False:
        with _locked(path):
            record = read_record(path)
            if record.get("state") in ("starting", "running") and _alive(record) is False:
                partial = partial_path(Path(record["out"]), export_id)
                shutil.rmtree(partial, ignore_errors=True)
                record.update(
                    state="failed",
                    ended_at=now_iso(),
                    error=(
                        f"The export process (pid {record.get('pid')}) ended before finishing (killed, or out "
                        f"of memory); its partial files were removed; see {log_path(run_path, export_id)}."
                    ),
                )
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
                os.replace(tmp, path)
    return record


def _alive(record: dict[str, Any]) -> bool | None:
    from types import SimpleNamespace

    from ftui.core.runs import process_alive

    fields = ("pid", "pid_started", "host", "state", "created_at")
    return process_alive(SimpleNamespace(**{k: record.get(k) for k in fields}))  # a ProcessRecord


def list_exports(run_path: Path) -> list[dict[str, Any]]:
    folder = exports_dir(run_path)
    if not folder.is_dir():
        return []
    return [export_status(run_path, p.stem) for p in sorted(folder.glob("*.json"))]


def start_export(
    plan: ExportPlan, *, verify: bool = True, python: str | None = None
) -> tuple[dict[str, Any], subprocess.Popen]:
    """Write the record and start the export process, detached (its own session, output to a log)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    export_id = f"{stamp}-{plan.fmt}{'-' + plan.quant if plan.quant else ''}"
    folder = exports_dir(plan.run.path)
    folder.mkdir(parents=True, exist_ok=True)
    n = 1
    while record_path(plan.run.path, export_id).exists():
        n += 1
        export_id = f"{stamp}-{plan.fmt}{'-' + plan.quant if plan.quant else ''}-{n}"
    path = record_path(plan.run.path, export_id)
    update_record(
        path,
        export_id=export_id,
        run_id=plan.run.run_id,
        format=plan.fmt,
        quant=plan.quant,
        out=str(plan.out),
        verify=verify,
        state="starting",
        phase="starting",
        progress=None,
        created_at=now_iso(),
        host=socket.gethostname(),
        base_weights=plan.base.to_dict() if plan.base else None,
        params=plan.params,
        bytes_needed=plan.needed["peak"],
        bytes_final_estimate=plan.needed["final"],
        bytes_free=plan.free,
        files=[],
        size_bytes=None,
        verification=None,
        error=None,
        warnings=[],
    )
    command = [
        python or plan.run.python or sys.executable,
        "-m",
        "ftui.exporter",
        str(plan.run.path),
        export_id,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if plan.run.python:  # another interpreter finds this ftui through PYTHONPATH
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with open(log_path(plan.run.path, export_id), "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=plan.run.path,
            start_new_session=True,
            close_fds=True,
        )
    try:
        import psutil

        started = psutil.Process(process.pid).create_time()
    except Exception:  # gone already: export_status notices
        started = None
    record = update_record(path, pid=process.pid, pid_started=started, command=command)
    return record, process


def wait_for_export(
    run_path: Path, export_id: str, *, process: subprocess.Popen | None = None, poll: float = 0.3
) -> Iterator[dict[str, Any]]:
    """Yield the record each time its phase or progress changes, until it is completed or failed."""
    last: tuple[Any, ...] | None = None
    while True:
        if process is not None:
            process.poll()
        record = export_status(run_path, export_id)
        key = (record.get("state"), record.get("phase"), json.dumps(record.get("progress"), sort_keys=True))
        if key != last:
            last = key
            yield record
        if record.get("state") in ("completed", "failed"):
            if process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=60)
            return
        time.sleep(poll)
