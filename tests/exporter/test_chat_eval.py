"""`ftui chat` and `ftui eval` on a real finished run; the verification's flag on a model that is not
the fine-tuned one; the memory check before a model loads."""

from __future__ import annotations

import json

import pytest

from ftui.core.errors import UserError
from ftui.core.exports import read_run
from tests.exporter.conftest import ftui
from tests.fakes.nvml import GIB, FakeNvml, t4
from tests.helpers.finished_run import failed_run

pytestmark = pytest.mark.slow


def test_chat_streams_the_fine_tuned_answer_then_the_base_answer(finished_run):
    from ftui.core.chat import ChatProcess, plan_chat

    found = read_run(str(finished_run))
    plan = plan_chat(found, with_base=True, tokens=256)
    assert plan.device == "cpu" and plan.base_dir.name == "tiny-llama-sentencepiece"
    process = ChatProcess(plan, with_base=True)
    try:
        assert process.wait_ready()["models"] == ["base", "tuned"]
        events = list(
            process.ask("what is 2 plus 3", models=["tuned", "base"], temperature=0.0, max_new_tokens=12)
        )
    finally:
        process.close()
    assert [e["event"] for e in events if e["event"] != "token"] == ["start", "done", "start", "done"]
    done = {e["model"]: e for e in events if e["event"] == "done"}
    base_tokens = [e for e in events if e["event"] == "token" and e["model"] == "base"]
    # The random base rambles to the limit: its text arrives in pieces, before `done`, and adds up.
    assert done["base"]["new_tokens"] == 12 and done["base"]["stopped"] == "length"
    assert len(base_tokens) >= 2 and "".join(e["text"] for e in base_tokens) == done["base"]["text"]
    assert done["tuned"]["text"] != done["base"]["text"]


def test_chat_command_json_and_text(finished_run):
    result = ftui(
        "chat", str(finished_run), "--prompt", "what is 2 plus 3", "--base", "--max-new-tokens", "8", "--json"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    assert [a["model"] for a in payload["answers"]] == ["tuned", "base"]
    assert payload["device"] == "cpu" and payload["temperature"] == 0.0
    text = ftui("chat", str(finished_run), "--prompt", "what is 2 plus 3", "--base", "--max-new-tokens", "8")
    assert text.returncode == 0, text.stderr[-2000:]
    assert text.stdout.startswith("fine-tuned> ") and "\nbase> " in text.stdout


def test_chat_refuses_a_model_that_does_not_fit_the_free_gpu_memory(finished_run):
    from ftui.core.chat import plan_chat

    busy = FakeNvml([t4(memory_used=int(14.9 * GIB))])  # a T4 with 0.1 GiB free
    with pytest.raises(UserError) as error:
        plan_chat(read_run(str(finished_run)), with_base=False, tokens=256, nvml=busy)
    message = str(error.value)
    assert "needs about 0.9 GiB of GPU memory (cuda context 0.87 GiB)" in message
    assert "the Tesla T4 has 0.1 GiB free" in message
    roomy = plan_chat(read_run(str(finished_run)), with_base=False, tokens=256, nvml=FakeNvml([t4()]))
    assert roomy.device == "cuda" and roomy.free_gib == 14.0  # a T4 with 1 GiB in use


def test_bad_chat_options_are_one_sentence(finished_run):
    result = ftui("chat", str(finished_run), "--prompt", "hi", "--temperature", "-1")
    assert result.returncode == 2 and "--temperature must be 0 (greedy) or more" in result.stderr


def test_eval_reports_base_and_run_loss_on_the_runs_eval_split(finished_run):
    result = ftui("eval", str(finished_run), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    assert payload["rows"] == 12  # 10% of 120 rows, the trainer's split
    # The same rows and model as the trainer's last evaluation: the same loss, up to its batching.
    assert payload["run_loss"] == pytest.approx(payload["logged_eval_loss"], rel=0.02)
    assert payload["base_loss"] > payload["run_loss"] + 0.3


def test_eval_answers_the_held_out_prompts_with_the_base_model_and_keeps_the_result(finished_run, sp_model):
    from ftui.core.base_eval import read_base_eval

    result = ftui("eval", str(finished_run), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    found = read_run(str(finished_run))
    answers = payload["base_samples"]
    assert [a["line"] for a in answers] == [s["line"] for s in found.samples]  # the run's held-out prompts
    # Kept in the run folder, where the app's runs step reads it.
    kept = read_base_eval(finished_run)
    assert kept is not None and kept.base_loss == payload["base_loss"]
    assert [a.output for a in kept.base_samples] == [a["output"] for a in answers]

    # The base model's own greedy answer (the adapter really was off), with the run's token budget.
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(found.weights_dir)
    model = AutoModelForCausalLM.from_pretrained(sp_model, dtype=torch.float32)
    inputs = tokenizer(found.samples[0]["prompt"], return_tensors="pt")
    with torch.no_grad():
        output = model.generate(
            **inputs,
            max_new_tokens=found.max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    expected = tokenizer.decode(output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert answers[0]["output"] == expected and answers[0]["output"] != found.samples[0]["output"]

    text = ftui("eval", str(finished_run))
    assert text.returncode == 0, text.stderr[-2000:]
    assert f"prompt (line {answers[0]['line']}):" in text.stdout and "  base:       " in text.stdout


def test_a_run_that_is_not_finished_cannot_be_chatted_with_or_evaluated(sp_model, tmp_path):
    run = failed_run(sp_model, tmp_path / "runs", tmp_path)
    for command, words in (
        (["chat", str(run), "--prompt", "hi"], "chat with"),
        (["eval", str(run)], "evaluate"),
    ):
        result = ftui(*command)
        assert result.returncode == 1
        assert f"ended failed, so there is no finished model to {words};" in result.stderr


def test_verification_flags_a_model_that_is_not_the_fine_tuned_one(finished_run, sp_model):
    from ftui.exporter.models import load_tokenizer
    from ftui.exporter.verify import verify

    found = read_run(str(finished_run))
    tokenizer = load_tokenizer(found.weights_dir)
    # The base model without the adapter stands in for a broken merge: it must be caught.
    result = verify(found.samples, tokenizer, 8, merged=sp_model, gguf=None, quant=None, qlora=False)
    assert result["flagged"] == len(found.samples) == 3
    assert all("merged predicts" in row["flags"][0] for row in result["rows"])
