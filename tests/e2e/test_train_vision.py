"""Vision fine-tuning end to end on CPU: a tiny Gemma 3 the test builds, PNG files it writes, `ftui train`.

The training process is the real one: the same trainer code as on a GPU from the data on (Unsloth's own
UnslothVisionDataCollator, TRL's SFTTrainer with the vision settings, ftui's callbacks, checkpoints,
samples), with the model loaded through transformers + PEFT because Unsloth's CPU backend refuses
FastVisionModel (see ftui/trainer/vision.py for exactly why).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftui.core.run_config import RunConfig
from ftui.core.runs import find_run
from ftui.core.runs.records import ResumeRecord, TrainRecord
from tests.e2e.test_train import ftui, train_steps, wait_for
from tests.helpers.images import colour_rows, truncated_png, write_rows
from tests.helpers.tiny_vision_model import tiny_gemma3_for_session

pytestmark = pytest.mark.slow

FAST = ["--method", "lora", "--batch", "4", "--grad-accum", "1", "--seq", "128", "--lr", "5e-3",
        "--optimizer", "adamw_torch"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    return tiny_gemma3_for_session(tmp_path_factory)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("colours")
    return write_rows(folder / "colours.jsonl", colour_rows(folder, 40))


def test_vision_lora_trains_with_falling_loss_and_samples_show_their_images(tiny_vlm, images, runs_dir):
    result = ftui(
        "train", "--model", str(tiny_vlm), "--data", str(images), *FAST, "--max-steps", "12",
        "--save-steps", "6", "--eval-split", "0.1", "--no-finetune-vision", "--responses-only", "--json",
        timeout=420,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = find_run(json.loads(result.stdout)["run_id"])
    steps = train_steps(run)
    assert [r.step for r in steps] == list(range(1, 13))
    first, last = steps[0].loss, sum(r.loss for r in steps[-3:]) / 3
    assert last < first - 0.3, f"the loss did not fall: {first:.3f} -> {last:.3f}"

    config = RunConfig.read(run.config_path)
    assert config.modality == "vision" and config.template == "model"  # the processor's own template
    assert config.settings.finetune_vision_layers is False and config.settings.finetune_language_layers
    adapter = json.loads((run.adapter_dir / "adapter_config.json").read_text())
    assert "language" in adapter["target_modules"] and "vision" not in adapter["target_modules"]
    assert (run.adapter_dir / "processor_config.json").is_file()  # the processor is saved with the adapter
    log = run.log_path.read_text()
    assert "40 images checked" in log and "Unsloth's collator" in log

    samples = run.samples()
    assert len(samples) == 3
    for sample in samples:
        assert sample.prompt == "<image>what colour is this" and sample.reference in ("red", "green", "blue")
        assert len(sample.images) == 1 and Path(sample.images[0]).is_file()
        assert sample.new_tokens > 0


def test_vision_run_stops_and_resumes_from_its_checkpoint(tiny_vlm, images, runs_dir):
    result = ftui(
        "train", "--model", str(tiny_vlm), "--data", str(images), *FAST, "--max-steps", "40",
        "--save-steps", "1000", "--detach", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = find_run(json.loads(result.stdout)["run_id"])
    wait_for(lambda: len(train_steps(run)) >= 3, timeout=300, what="three training steps")
    stopped = ftui("stop", run.run_id, "--json", timeout=300)
    assert stopped.returncode == 0, stopped.stderr
    status = run.status()
    assert status.state == "stopped", status
    step = status.step
    assert 3 <= step < 40 and run.last_checkpoint().name == f"checkpoint-{step}"

    config = RunConfig.read(run.config_path)
    config.settings.max_steps = step + 3  # resume for three more steps: the test's time, not the run's
    config.write(run.config_path)
    resumed = ftui("resume", run.run_id, "--json", timeout=420)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["state"] == "completed"
    records = run.metrics()
    marker = next(i for i, r in enumerate(records) if isinstance(r, ResumeRecord))
    assert records[marker].step == step
    assert [r.step for r in records[marker:] if isinstance(r, TrainRecord)] == [step + 1, step + 2, step + 3]


def test_a_bad_image_fails_the_run_naming_its_row_before_the_model_loads(tiny_vlm, runs_dir, tmp_path):
    rows = colour_rows(tmp_path, 6)
    truncated_png(tmp_path / "images" / "0004.png")  # row 5's image, cut in half
    data = write_rows(tmp_path / "data.jsonl", rows)
    result = ftui("train", "--model", str(tiny_vlm), "--data", str(data), *FAST, "--max-steps", "2")
    assert result.returncode == 1
    assert "line 5" in result.stderr.lower() and "cannot be decoded" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not runs_dir.exists() or not list(runs_dir.iterdir())  # the preflight refused: no run at all
    # The trainer checks too (a file that changed after the preflight): the run fails naming the row.
    from ftui.core.plan import TrainingSettings
    from ftui.core.runs import create_run, start, wait_until_final

    settings = TrainingSettings(method="lora", batch=4, grad_accum=1, seq=128, learning_rate=5e-3,
                                optimizer="adamw_torch", max_steps=2)  # fmt: skip
    config = RunConfig(model=str(tiny_vlm), data=str(data), modality="vision", settings=settings)
    run = create_run(config, runs_dir)
    start(run).wait(timeout=240)
    status = wait_until_final(run, timeout=60)
    assert (
        status.state == "failed" and "line 5" in status.error.lower() and "cannot be decoded" in status.error
    )
    assert not train_steps(run)
