"""The TUI starts without the training stack: no screen or widget imports it at module level."""

import subprocess
import sys

HEAVY = ("torch", "transformers", "datasets", "unsloth", "trl", "peft", "plotext")

PROBE = """
import importlib, pkgutil, sys
import ftui.app, ftui.screens, ftui.widgets
for package in (ftui.screens, ftui.widgets):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
print(" ".join(sorted(name for name in sys.modules if name.split(".")[0] in %r)))
"""


def test_importing_the_app_and_every_screen_leaves_the_training_stack_alone():
    result = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
