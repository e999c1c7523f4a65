"""The checks an export and a chat make before any process starts, as plain functions: the size of an
export and the free space where it goes, written nowhere; llama.cpp's tools; two model processes on one
GPU."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from ftui.core.chat import ChatPlan, check_room_beside
from ftui.core.errors import UserError
from ftui.core.exports import FinishedRun, gguf_tools_problem, room_problem, size_export


def adapter_run(tmp_path: Path, adapter_bytes: int) -> FinishedRun:
    weights = tmp_path / "run" / "adapter"
    weights.mkdir(parents=True)
    (weights / "adapter_model.safetensors").write_bytes(b"\0" * adapter_bytes)
    return FinishedRun(
        run_id="r", path=tmp_path / "run", state="completed", model="m", load_repo="m", method="lora",
        template=None, python=None, weights_dir=weights, samples=[], max_new_tokens=8, eval_split=0.1,
        seq=128, last_eval_loss=None,
    )  # fmt: skip


def test_sizing_an_export_writes_nothing(tmp_path):
    run = adapter_run(tmp_path, 3 * 1024**2)
    out = tmp_path / "not" / "yet" / "there"
    plan = size_export(run, "adapter", None, str(out))
    assert plan.needed == {"peak": 3 * 1024**2, "final": 3 * 1024**2} and plan.out == out
    assert plan.free > 0 and room_problem(plan) is None
    assert not (tmp_path / "not").exists()
    assert not (run.path / "exports").exists()


def test_an_export_that_does_not_fit_is_one_sentence(tmp_path):
    run = adapter_run(tmp_path, 3 * 1024**2)
    plan = size_export(run, "adapter", None, None)
    tight = dataclasses.replace(plan, free=2 * 1024**2)
    said = room_problem(tight)
    assert said is not None and said.startswith("The adapter export needs about 0.02 GiB on the disk of ")
    assert said.endswith(
        "while it is written and only 2.0 MiB is free; free some space or pass --out DIR on a larger disk."
    )


def test_a_folder_already_in_use_is_refused(tmp_path):
    run = adapter_run(tmp_path, 16)
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    with pytest.raises(UserError, match="already exists and is not empty"):
        size_export(run, "adapter", None, str(used))


def test_gguf_needs_llama_cpp_installed():
    import importlib.util

    problem = gguf_tools_problem()
    if importlib.util.find_spec("llama_cpp") is None:
        assert problem is not None and "GGUF export needs llama.cpp's tools (llama-cpp-python)" in problem
    else:
        assert problem is None


def plan_on_gpu(estimate: float, free: float) -> ChatPlan:
    return ChatPlan(
        run=SimpleNamespace(run_id="second"),  # type: ignore[arg-type]
        base_dir=Path("/base"),
        base_why="",
        device="cuda",
        estimate_gib=estimate,
        free_gib=free,
    )


def test_a_second_model_process_counts_the_one_still_loading():
    check_room_beside(plan_on_gpu(6.0, 10.0), 3.0, "first")  # 9 of 10 GiB: fits
    check_room_beside(plan_on_gpu(6.0, 10.0), 0.0, "first")  # the first is loaded: NVML counted it
    with pytest.raises(UserError) as error:
        check_room_beside(plan_on_gpu(6.0, 10.0), 5.0, "first")
    assert str(error.value) == (
        "Chatting with second needs about 6.0 GiB of GPU memory and first, still loading, about 5.0 GiB: "
        "11.0 GiB of the 10.0 GiB free; wait until it is ready, or compare on a GPU with more free memory."
    )
    cpu = ChatPlan(
        run=SimpleNamespace(run_id="x"), base_dir=Path("/b"), base_why="", device="cpu", estimate_gib=9.0
    )  # type: ignore[arg-type]
    check_room_beside(cpu, 100.0, "first")  # RAM: each process was checked against what is available


def test_a_vision_run_is_refused_where_a_text_model_would_be_loaded(tmp_path):
    from ftui.core.chat import plan_chat

    run = dataclasses.replace(adapter_run(tmp_path, 16), modality="vision")
    assert size_export(run, "adapter", None, None).needed["final"] == 16  # its adapter is only copied
    for fmt in ("merged", "gguf"):
        with pytest.raises(UserError) as error:
            size_export(run, fmt, None, None)
        assert str(error.value) == (
            f"Run r is a vision run, and a {fmt} export loads text models only so far; export its adapter "
            "(--format adapter) and load it with Unsloth's FastVisionModel."
        )
    with pytest.raises(
        UserError, match=r"^Run r is a vision run, and ftui's model process \(chat and eval\)"
    ):
        plan_chat(run, with_base=True, tokens=64)
