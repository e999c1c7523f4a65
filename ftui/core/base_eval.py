"""The base model beside a finished run: its held-out loss against the run's, and its answers to the run's
held-out prompts, for the runs step's generation table and `ftui eval`.

The eval process (`python -m ftui.exporter.evaluate`, torch lives there) computes both from one load of
the model (the adapter switched off for the base) and keeps them in RUN/base_eval.json, so the app shows
them again without loading anything. Plain Python: no torch, no Textual.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec

from ftui.core.errors import UserError
from ftui.core.exports import FinishedRun

FILE = "base_eval.json"
LOG = "eval.log"


class BaseAnswer(msgspec.Struct, kw_only=True):
    """The base model's greedy answer to one of the run's held-out prompts (samples.jsonl's `line` and
    `prompt`), with the run's token budget."""

    line: int | None = None
    prompt: str = ""
    output: str = ""
    new_tokens: int = 0


class BaseEval(msgspec.Struct, kw_only=True):
    """RUN/base_eval.json: what `ftui eval` measured. Losses are mean cross-entropy per token on the
    run's eval split; None when the run held out no rows."""

    run_id: str = ""
    rows: int = 0
    tokens: int = 0
    base_loss: float | None = None
    run_loss: float | None = None
    logged_eval_loss: float | None = None  # the run's last eval_loss, for comparison
    base_samples: list[BaseAnswer] = msgspec.field(default_factory=list)
    base_model: str = ""  # the base weights' folder (what answered as "base")
    device: str = ""
    seconds: float | None = None
    computed_at: str | None = None

    def to_json(self) -> dict[str, object]:
        return msgspec.to_builtins(self)


def cache_path(run_path: Path) -> Path:
    return Path(run_path) / FILE


def read_base_eval(run_path: Path) -> BaseEval | None:
    """The cached evaluation, or None when there is none (or it cannot be read: computed again on request)."""
    try:
        data = cache_path(run_path).read_bytes()
    except OSError:
        return None
    try:
        return msgspec.json.decode(data, type=BaseEval)
    except (msgspec.MsgspecError, RecursionError, ValueError):
        return None


def write_base_eval(run_path: Path, value: BaseEval) -> None:
    """Written to a temporary name and renamed: a reader never sees half of it."""
    path = cache_path(run_path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(value), indent=2) + b"\n")
    os.replace(tmp, path)


def check_evaluable(run: FinishedRun) -> None:
    """One sentence when there is nothing to evaluate on: no held-out rows and no held-out prompts."""
    if not run.eval_split and not run.samples:
        raise UserError(
            f"Run {run.run_id} held out no rows (eval_split 0) and has no held-out prompts, so there is "
            "nothing to compare the base model on; train with --eval-split 0.1 to measure one."
        )


def start_evaluation(run: FinishedRun, base_dir: Path, device: str, *, detach: bool) -> subprocess.Popen:
    """Start the eval process on `run` with the base weights in `base_dir`. Detached, it runs in its own
    session with all its output in RUN/eval.log and writes RUN/base_eval.json itself at the end, so it
    finishes even if the app that started it is closed; attached, its stdout (the result as JSON) is the
    caller's to read."""
    command = [
        run.python or sys.executable,
        "-m",
        "ftui.exporter.evaluate",
        str(run.path),
        "--base-weights",
        str(base_dir),
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    if run.python:  # another interpreter finds this ftui through PYTHONPATH
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with open(run.path / LOG, "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log if detach else subprocess.PIPE,
            stderr=log,
            env=env,
            text=not detach,
            start_new_session=detach,
            close_fds=True,
        )
