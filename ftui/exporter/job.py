"""One export, start to end: write into a hidden partial folder, verify, then rename it into place.

Every outcome ends in the record: completed (with the files, sizes and the verification table) or
failed with one sentence; on failure the partial folder is removed, so nothing half-written remains.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from ftui.core import exports
from ftui.core.errors import UserError


def log(message: str) -> None:
    print(f"[ftui] {message}", flush=True)


class Progress:
    """Bytes written into the partial folder against what the phase will write, in the record once a
    second: the TUI and `ftui export` follow the record as they follow a training run."""

    def __init__(self, record: Path, folder: Path) -> None:
        self.record, self.folder = record, folder
        self.expected = 0
        self.phase = ""
        self.started = time.monotonic()
        self.phases: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def phase_started(self, phase: str, expected_bytes: int = 0) -> None:
        self.phase, self.expected = phase, expected_bytes
        self.phases.append({"phase": phase, "at_s": round(time.monotonic() - self.started, 1)})
        log(phase)
        exports.update_record(self.record, phase=phase, progress=self._read(), phases=self.phases)

    def _read(self) -> dict[str, Any]:
        written = exports.folder_bytes(self.folder)
        return {"bytes_written": written, "bytes_expected": self.expected or None}

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                exports.update_record(self.record, progress=self._read())
            except OSError:
                pass  # a full disk: the phase itself will say so


def run_export(run_dir: Path, export_id: str) -> int:
    record_path = exports.record_path(run_dir, export_id)
    record = exports.read_record(record_path)
    out = Path(record["out"])
    partial = exports.partial_path(out, export_id)
    exports.update_record(
        record_path, state="running", started_at=exports.now_iso(), exporter_pid=os.getpid()
    )
    started = time.monotonic()
    try:
        run = exports.read_run(str(run_dir))
        partial.mkdir(parents=True)
        with Progress(record_path, partial) as progress:
            result = _export(run, record, partial, progress)
        if out.is_dir():
            out.rmdir()  # an empty folder named by --out (non-empty ones were refused up front)
        os.replace(partial, out)
        files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        exports.update_record(
            record_path,
            state="completed",
            phase=None,
            ended_at=exports.now_iso(),
            seconds=round(time.monotonic() - started, 1),
            files=files,
            size_bytes=exports.folder_bytes(out),
            **{k: v for k, v in result.items() if k != "gguf_file"},
            gguf_file=str(out / result["gguf_file"]) if result.get("gguf_file") else None,
        )
        log(f"export written to {out}")
        return 0
    except BaseException as error:  # noqa: BLE001 - every outcome ends in the record
        sentence = _sentence(error, out)
        if not isinstance(error, UserError):
            traceback.print_exc()
        shutil.rmtree(partial, ignore_errors=True)
        exports.update_record(
            record_path, state="failed", phase=None, ended_at=exports.now_iso(), error=sentence
        )
        log(f"failed: {sentence}")
        return 1


def _sentence(error: BaseException, out: Path) -> str:
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, KeyboardInterrupt):
        return "The export was interrupted; nothing was written. Run it again."
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"The disk of {out.parent} filled up while the export was written; free some space (or pass --out DIR on a larger disk) and export again."
    if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"Cannot write in {out.parent} ({error.strerror}); pass --out DIR in a folder you can write."
    if isinstance(error, MemoryError):
        return "The export ran out of host memory while loading the model; close other programs or export on a larger machine."
    text = " ".join(str(error).split())[:200]
    return f"The export failed ({type(error).__name__}: {text}); see the export's log."


def _export(
    run: exports.FinishedRun, record: dict[str, Any], partial: Path, progress: Progress
) -> dict[str, Any]:
    fmt, quant = record["format"], record.get("quant")
    params = int(record.get("params") or 0)
    if fmt == "adapter":
        progress.phase_started("copying the adapter", exports.folder_bytes(run.weights_dir))
        for path in run.weights_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, partial / path.name)
        return {}
    base = _base_weights(run, record, progress)
    merged = partial if fmt == "merged" else partial / ".merged"
    merged.mkdir(exist_ok=True)
    progress.phase_started("merging the adapter into the 16-bit weights", 2 * params)
    from ftui.exporter.models import load_tokenizer, merge_weights

    facts = merge_weights(run, base, merged, log)
    tokenizer = load_tokenizer(merged)
    result: dict[str, Any] = {"dtype": facts["dtype"]}
    gguf_path = None
    if fmt == "gguf":
        from ftui.core.modelfile import modelfile_text
        from ftui.exporter import llama_cpp

        assert quant is not None, "a GGUF export always has a quant type (the CLI defaults it)"
        name = f"{run.run_id}-{quant}.gguf"
        gguf_path = partial / name
        direct = quant in exports.CONVERTER_QUANTS
        first = gguf_path if direct else partial / f".{run.run_id}-f16.gguf"
        progress.phase_started(
            f"converting to GGUF ({quant if direct else 'f16'}) with llama.cpp's converter",
            exports.folder_bytes(merged) + int(params * exports.QUANTS[quant if direct else "f16"] / 8),
        )
        llama_cpp.convert(merged, first, quant if direct else "f16", log)
        if not direct:
            progress.phase_started(
                f"quantizing to {quant} with llama.cpp's quantizer",
                exports.folder_bytes(partial) + int(params * exports.QUANTS[quant] / 8),
            )
            llama_cpp.quantize(first, gguf_path, quant)
            first.unlink()
        (partial / "Modelfile").write_text(
            modelfile_text(name, run.template, facts["eos_token"] or ""), encoding="utf-8"
        )
        result["gguf_file"] = name
    if record.get("verify", True):
        progress.phase_started("verifying: replaying the held-out prompts")
        from ftui.exporter.verify import verify

        result["verification"] = verify(
            run.samples,
            tokenizer,
            run.max_new_tokens,
            merged=merged,
            gguf=gguf_path,
            quant=quant,
            qlora=run.method == "qlora",
        )
        if result["verification"]["flagged"]:
            result["warnings"] = [
                f"{result['verification']['flagged']} of {len(result['verification']['rows'])} held-out prompts "
                "differ from the adapter beyond the expected drift; see the verification table."
            ]
    if fmt == "gguf":
        shutil.rmtree(merged)
    return result


def _base_weights(run: exports.FinishedRun, record: dict[str, Any], progress: Progress) -> Path:
    if run.full:
        return run.weights_dir
    base = record.get("base_weights") or {}
    if base.get("path"):
        return Path(base["path"])
    progress.phase_started(f"downloading the 16-bit weights of {base.get('repo')}")
    from huggingface_hub import snapshot_download

    path = Path(
        snapshot_download(
            base["repo"], allow_patterns=["*.json", "*.safetensors", "tokenizer.model", "*.jinja"]
        )
    )
    exports.update_record(
        exports.record_path(run.path, record["export_id"]), base_weights={**base, "path": str(path)}
    )
    return path
