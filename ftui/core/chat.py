"""Talking to a fine-tuned model: choose where it loads, check that it fits, start the model process
(ftui.exporter.chat) and exchange JSON lines with it. No torch here: `ftui chat` and a TUI panel use
this, and the model lives in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ftui.core.errors import UserError
from ftui.core.exports import FinishedRun


@dataclass(frozen=True)
class ChatPlan:
    run: FinishedRun
    base_dir: Path  # the base model the adapter goes on (or, for full fine-tuning, the base to compare)
    base_why: str
    device: str  # "cuda" or "cpu"
    estimate_gib: float
    breakdown: dict[str, float] = field(default_factory=dict)
    free_gib: float | None = None


def _gpu_free_gib(nvml: Any = None) -> tuple[str, float] | None:
    """(name, free GiB) of the first GPU this process may use, or None without one."""
    from ftui.core.hardware import probe

    hardware = probe(nvml, processes=False)
    if not hardware.gpus:
        return None
    gpu = hardware.gpus[0]
    free = gpu.memory_free_gib if gpu.memory_free_gib is not None else gpu.memory_total_gib
    return gpu.name, free


def plan_chat(run: FinishedRun, *, with_base: bool, tokens: int, nvml: Any = None) -> ChatPlan:
    """Where the model loads and how much memory it takes there; one sentence when it does not fit."""
    import psutil

    from ftui.core.base_weights import BaseWeights, cached_snapshot, find_base_weights, has_weights
    from ftui.core.catalog import dims_for, load_catalog
    from ftui.core.exports import check_text_model
    from ftui.core.memory import estimate_inference_memory
    from ftui.core.plan import TrainingSettings

    check_text_model(run, "ftui's model process (chat and eval)")
    gpu = _gpu_free_gib(nvml)
    found = load_catalog().find(run.model)
    base: BaseWeights | None = None
    weights = "16bit" if gpu else "fp32"
    if gpu and run.method == "qlora":
        # As trained: the 4-bit base, when it is here (bitsandbytes 4-bit runs on NVIDIA GPUs only).
        local = Path(run.load_repo).expanduser()
        trained = local if has_weights(local) else cached_snapshot(run.load_repo)
        if trained is not None:
            base = BaseWeights(run.load_repo, "local", trained, f"the 4-bit base it trained on ({trained}).")
            weights = "nf4"
    if base is None:
        base = find_base_weights(
            run.model,
            run.load_repo,
            "lora" if run.full else run.method,  # full fine-tuning started from 16-bit weights
            catalog_bf16=found.unsloth.bf16 if found else None,
        )
    if base.path is None:
        raise UserError(
            f"The base model {base.repo} is not on this machine; download it first (`hf download {base.repo}`)."
        )
    dims = dims_for(str(base.path))
    settings = TrainingSettings(method=run.method)
    models = 2 if (run.full and with_base) else 1
    estimate = estimate_inference_memory(
        dims, weights=weights, settings=settings, tokens=tokens, models=models, gpu=gpu is not None
    )
    parts = ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in estimate.breakdown.items() if v)
    if gpu is not None:
        name, free = gpu
        if estimate.total_gib > free:
            raise UserError(
                f"Chatting with {run.run_id} needs about {estimate.total_gib:.1f} GiB of GPU memory ({parts} GiB) "
                f"and the {name} has {free:.1f} GiB free; stop what is using it, or chat on a GPU with more free memory."
            )
        return ChatPlan(run, base.path, base.why, "cuda", estimate.total_gib, estimate.breakdown, free)
    free = psutil.virtual_memory().available / 1024**3
    if estimate.total_gib > free:
        raise UserError(
            f"Without a GPU, chatting with {run.run_id} needs about {estimate.total_gib:.1f} GiB of RAM ({parts} GiB) "
            f"and {free:.1f} GiB is available; run it on a GPU machine or close other programs."
        )
    return ChatPlan(run, base.path, base.why, "cpu", estimate.total_gib, estimate.breakdown, free)


class ChatProcess:
    """The model process: start it, send requests, read its events (see ftui.exporter.chat)."""

    def __init__(self, plan: ChatPlan, *, with_base: bool, log: IO[bytes] | None = None) -> None:
        run = plan.run
        command = [
            run.python or sys.executable,
            "-m",
            "ftui.exporter.chat",
            str(run.path),
            "--base-weights",
            str(plan.base_dir),
        ] + (["--with-base"] if with_base and run.full else [])
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        if plan.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        if run.python:
            root = str(Path(__file__).resolve().parent.parent.parent)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log if log is not None else subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
        )
        self._next_id = 0

    def events(self) -> Iterator[dict[str, Any]]:
        """Events until the process ends (or the caller stops reading)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except ValueError:
                continue

    def wait_ready(self) -> dict[str, Any]:
        for event in self.events():
            if event["event"] == "ready":
                return event
            if event["event"] == "error":
                raise UserError(event["message"] + " See the log.")
        raise UserError("The model process ended before it was ready; see its log.")

    def send(self, prompt: str, *, models: list[str], temperature: float, max_new_tokens: int) -> int:
        """Send one prompt without waiting; returns its request id (the events of its answers carry it)."""
        assert self.process.stdin is not None
        self._next_id += 1
        request = {
            "id": self._next_id,
            "prompt": prompt,
            "models": models,
            "temperature": temperature,
            "max_new_tokens": max_new_tokens,
        }
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._next_id

    def ask(
        self, prompt: str, *, models: list[str], temperature: float, max_new_tokens: int
    ) -> Iterator[dict[str, Any]]:
        """Send one prompt; yield its events up to the last model's `done`."""
        request_id = self.send(prompt, models=models, temperature=temperature, max_new_tokens=max_new_tokens)
        left = set(models)
        for event in self.events():
            if event.get("id") not in (request_id, None):
                continue
            yield event
            if event["event"] == "error":
                raise UserError(event["message"])
            if event["event"] == "done":
                left.discard(event["model"])
                if not left:
                    return
        raise UserError("The model process ended while answering; see its log.")

    def close(self, timeout: float = 30.0) -> None:
        """Ask the process to end (it finishes the answer it is writing first); killed after `timeout`."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=timeout)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def check_room_beside(plan: ChatPlan, loading_gib: float, beside: str) -> None:
    """A second model process on the same GPU: `plan` was checked against the memory free now, but the
    process `beside` is still loading and will take `loading_gib` of it; refuse when both do not fit."""
    if plan.device != "cuda" or plan.free_gib is None or not loading_gib:
        return
    if plan.estimate_gib + loading_gib > plan.free_gib:
        raise UserError(
            f"Chatting with {plan.run.run_id} needs about {plan.estimate_gib:.1f} GiB of GPU memory and "
            f"{beside}, still loading, about {loading_gib:.1f} GiB: {plan.estimate_gib + loading_gib:.1f} GiB "
            f"of the {plan.free_gib:.1f} GiB free; wait until it is ready, or compare on a GPU with more "
            "free memory."
        )
