"""A fixed machine and plan for the TUI tests, so that what the screens show never depends on this host.

The GPUs come from the stand-in NVML (tests/fakes/nvml.py: this machine has no GPU) read through the real
probe; CPU, RAM and disks are set to fixed figures; the gauge polls once an hour, so nothing moves.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ftui.app import FtuiApp
from ftui.core.hardware import DiskSpace, probe
from ftui.core.plan import Plan
from tests.fakes.nvml import FakeNvml, h200

GIB = 1024**3
ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = ROOT / "assets" / "samples" / "alpaca_sample.jsonl"


def fixed_hardware(nvml: FakeNvml, runs_dir: Path):  # type: ignore[no-untyped-def]
    found = probe(nvml, runs_dir=runs_dir, processes=False)
    return dataclasses.replace(
        found,
        cpu_cores=16,
        cpu_threads=32,
        cpu_usable=32,
        ram_total=128 * GIB,
        ram_available=100 * GIB,
        disks=[
            DiskSpace("hf_cache", "/home/you/.cache/huggingface/hub", 500 * GIB, 1000 * GIB),
            DiskSpace("runs", "/home/you/.local/share/ftui/runs", 500 * GIB, 1000 * GIB),
        ],
        warnings=[],
    )


@pytest.fixture
def make_app(tmp_path):
    """FtuiApp on a fixed machine: one H200 (gpus=1), none (gpus=0: NVML not installed), or two."""

    def make(
        plan: Plan | None = None, *, gpus: int = 1, start: str = "use_case", runs_dir: Path | None = None
    ):
        import pynvml

        if gpus:
            nvml = FakeNvml([h200(i) for i in range(gpus)])
        else:
            nvml = FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
        runs = runs_dir or tmp_path / "runs"
        return FtuiApp(
            plan or Plan(),
            hardware=fixed_hardware(nvml, runs),
            nvml=nvml,
            gauge_interval=3600,
            runs_dir=runs,
            start=start,
        )

    return make


def write_run(
    runs_dir: Path,
    run_id: str,
    *,
    state: str = "completed",
    steps: int = 30,
    loss0: float = 2.5,
    eval_every: int = 10,
    model: str = "Qwen/Qwen3-8B",
    pid: int | None = None,
    samples: list[dict] | None = None,
    log_lines: list[str] | None = None,
) -> Path:
    """A run directory as the trainer leaves it (config.toml, status.json, metrics.jsonl, train.log,
    samples.jsonl), with fixed numbers and times, for screens that read runs."""
    from ftui.core.plan import TrainingSettings
    from ftui.core.run_config import RunConfig

    path = runs_dir / run_id
    path.mkdir(parents=True)
    RunConfig(model=model, data=str(SAMPLE), settings=TrainingSettings(method="lora", max_steps=steps)).write(
        path / "config.toml"
    )
    status = {
        "run_id": run_id,
        "state": state,
        "step": steps if state == "completed" else steps // 2,
        "max_steps": steps,
        "created_at": "2026-01-05T10:00:00+00:00",
        "started_at": "2026-01-05T10:00:05+00:00",
        "peak_gpu_gib": 17.25,
        "device": "NVIDIA H200 (140 GiB)",
    }
    if state != "running":
        status["ended_at"] = "2026-01-05T10:12:35+00:00"
    if pid is not None:
        import psutil

        status.update(pid=pid, pid_started=psutil.Process(pid).create_time(), phase="training")
    (path / "status.json").write_text(json.dumps(status))
    shown = steps if state == "completed" else steps // 2
    with open(path / "metrics.jsonl", "w") as handle:
        for step in range(1, shown + 1):
            record = {
                "time": 1767607205.0 + 25 * step,
                "kind": "train",
                "step": step,
                "max_steps": steps,
                "loss": round(loss0 * (0.97**step) + 0.3, 4),
                "tokens_per_second": 2450.0,
                "gpu_peak_gib": 17.25,
            }
            handle.write(json.dumps(record) + "\n")
            if step % eval_every == 0:
                handle.write(
                    json.dumps(
                        {
                            "time": 1767607206.0 + 25 * step,
                            "kind": "eval",
                            "step": step,
                            "max_steps": steps,
                            "eval_loss": round(loss0 * (0.975**step) + 0.4, 4),
                        }
                    )
                    + "\n"
                )
    lines = log_lines if log_lines is not None else [f"step {i}/{steps}" for i in range(1, shown + 1)]
    (path / "train.log").write_text("".join(line + "\n" for line in lines))
    if samples is not None:
        (path / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    return path


def text_of(widget, width: int = 200) -> str:  # type: ignore[no-untyped-def]
    """What a Static holds, as plain text (a str, a rich Text, or any rich renderable such as a Table)."""
    from rich.console import Console

    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(content)
    return capture.get()


# How long a wait may last before it is a failure. It ends a hang; it never decides a pass: every wait
# below returns as soon as the state it waits for is there, however loaded the machine is.
GUARD_S = 120.0


async def wait_until(pilot, condition, what: str = "the condition", timeout: float = GUARD_S) -> None:  # type: ignore[no-untyped-def]
    """Let the app run (workers, timers, messages) until `condition()` holds."""
    import time

    from textual.css.query import NoMatches

    def holds() -> bool:
        try:
            return bool(condition())
        except NoMatches:  # the widget it reads is not mounted yet
            return False

    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened")
        await pilot.pause(0.02)


async def workers_done(app) -> None:  # type: ignore[no-untyped-def]
    """Wait for every worker running now to end, however it ends (an exclusive worker that a newer one
    replaced ends cancelled)."""
    from textual.worker import WorkerCancelled, WorkerFailed

    for worker in list(app.workers):
        try:
            await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            pass


async def wait_for_text(app, pilot, selector: str, needle: str, timeout: float = GUARD_S) -> str:  # type: ignore[no-untyped-def]
    """Let the app run until the widget shows `needle` (its text is returned)."""
    seen = {"text": ""}

    def shows() -> bool:
        seen["text"] = text_of(app.screen.query_one(selector))
        return needle in seen["text"]

    try:
        await wait_until(pilot, shows, f"{needle!r} in {selector}", timeout)
    except AssertionError:
        raise AssertionError(f"{needle!r} never appeared in {selector}: {seen['text']}") from None
    return seen["text"]


# How long a real model process (an export, a chat model, the eval) may take before the wait is a failure:
# a hang guard only, generous because a loaded 2-core machine loads torch slowly.
PROCESS_GUARD_S = 900.0


def write_finished_run(
    runs_dir: Path, run_id: str, *, adapter_bytes: int = 4096, model: str = "Qwen/Qwen3-8B", **changes
) -> Path:
    """A completed run as write_run makes it, plus the saved adapter that exports and chats look for
    (its weights file of `adapter_bytes`: what an adapter export copies)."""
    samples = changes.pop(
        "samples",
        [{"line": 4, "prompt": "What is 7 times 8?", "reference": "56", "output": "56", "new_tokens": 2}],
    )
    path = write_run(runs_dir, run_id, model=model, samples=samples, **changes)
    adapter = path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 16}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * adapter_bytes)
    return path


def live_chat_processes(run: Path) -> list:  # type: ignore[type-arg]
    """The chat model processes started for `run` that are still alive."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if "ftui.exporter.chat" in cmdline and str(run) in cmdline:
            found.append(process)
    return found
