"""The trainer keeps torch's custom-operator aliasing check a warning where the environment sets CI.

torch raises on it when $CI is set; Unsloth's Inductor memory planning trips it by design, so a run's
sample generation died in CI shells only (stop 19's CI, and the vision GPU test on the H200's torch 2.11,
which reads no variable for it). Each case runs in a fresh interpreter, as the trainer does.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "from ftui.trainer.compat import custom_op_aliasing_is_a_warning as keep\n"
    "keep()\n"
    "from torch._functorch import config\n"
    "print(config.error_on_custom_op_aliasing)\n"
)


def probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_ERROR_ON_CUSTOM_OP_ALIASING"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_torch_raises_where_ci_is_set_without_it():
    """What the fix is for: torch's own default under CI (so this file can fail)."""
    done = subprocess.run(
        [sys.executable, "-c", "from torch._functorch import config; print(config.error_on_custom_op_aliasing)"],
        env={**os.environ, "CI": "1"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "True"


def test_the_trainer_makes_it_a_warning_under_ci():
    assert probe(CI="1") == "False"


def test_a_user_who_asks_for_errors_keeps_them():
    assert probe(CI="1", TORCHINDUCTOR_ERROR_ON_CUSTOM_OP_ALIASING="1") == "True"
