"""`ftui script`: the standalone script runs as it is (Unsloth on CPU, the tiny model) and trains on the
same text as ftui's trainer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ftui.core.data import training_texts
from ftui.core.plan import TrainingSettings
from ftui.core.run_config import RunConfig
from tests.helpers.datasets import arithmetic_rows, write_jsonl
from tests.helpers.tiny_model import tiny_llama_for_session

pytestmark = pytest.mark.slow

# The script as it is, run as __main__; only its dataset is read afterwards. Nothing of ftui is imported:
# the script carries the trainer's work-around for this machine's PyPI torchvision (which does not load
# beside the CPU torch) itself, so it runs wherever `ftui train` does.
RUNNER = """
import json, runpy, sys
scope = runpy.run_path(sys.argv[1], run_name="__main__")
assert not any(name == "ftui" or name.startswith("ftui.") for name in sys.modules)
print("FIRST-TEXT " + json.dumps(scope["dataset"][0]["text"]))
"""


def test_generated_script_trains_on_the_same_text_as_ftui(tmp_path_factory, tmp_path):
    model = tiny_llama_for_session(tmp_path_factory)
    data = write_jsonl(tmp_path / "data.jsonl", arithmetic_rows(16))
    config = RunConfig(
        model=str(model),
        data=str(data),
        template="chatml",
        settings=TrainingSettings(
            method="lora",
            max_steps=3,
            batch=2,
            grad_accum=1,
            seq=128,
            optimizer="adamw_torch",
            save_steps=100,
        ),
    )
    config.write(tmp_path / "config.toml")
    written = subprocess.run(
        [
            sys.executable,
            "-m",
            "ftui",
            "script",
            str(tmp_path / "config.toml"),
            "-o",
            str(tmp_path / "train.py"),
        ],
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    script = (tmp_path / "train.py").read_text()
    assert "import ftui" not in script and "max_length=MAX_LENGTH" in script
    assert script.index("import unsloth") < script.index("from trl import")

    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "train.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    first = json.loads(result.stdout.split("FIRST-TEXT ", 1)[1].splitlines()[0])
    ours = next(training_texts(data, template="chatml", eos_token="<|im_end|>"))
    assert first == ours.text
