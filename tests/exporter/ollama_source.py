"""Unsloth's Ollama Modelfile templates, read from the installed unsloth's source without importing unsloth.

unsloth/ollama_template_mappers.py is data (string constants and a dict) plus one `import datetime`:
executing that file alone is exact and does not start unsloth. assets/templates/ollama.json stores the
templates of the chat templates ftui ships; `python -m tests.exporter.ollama_source --write` refreshes it
after an Unsloth upgrade, and tests/exporter/test_modelfile.py checks it against the installed unsloth.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from tests.core.data.unsloth_source import SHIPPED, unsloth_version

ASSET = Path(__file__).resolve().parents[2] / "assets" / "templates" / "ollama.json"


def source_path() -> Path | None:
    spec = importlib.util.find_spec("unsloth")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "ollama_template_mappers.py"
    return path if path.is_file() else None


def unsloth_templates() -> dict[str, str]:
    path = source_path()
    assert path is not None, "unsloth is not installed"
    namespace: dict = {"__name__": "ollama_template_mappers"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    templates = namespace["OLLAMA_TEMPLATES"]
    return {name: templates[name] for name in SHIPPED if name in templates}


def asset() -> dict:
    return {
        "source": (
            f"Copied verbatim from unsloth {unsloth_version()}, unsloth/ollama_template_mappers.py (Apache-2.0, "
            "(c) Daniel Han-Chen & the Unsloth team): the Ollama Modelfile of each chat template ftui ships. "
            "{__FILE_LOCATION__} is the GGUF file, {__EOS_TOKEN__} the model's EOS token. "
            "`python -m tests.exporter.ollama_source --write` refreshes it."
        ),
        "templates": unsloth_templates(),
    }


if __name__ == "__main__":
    if "--write" in sys.argv:
        ASSET.write_text(json.dumps(asset(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {ASSET}")
