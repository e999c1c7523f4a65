"""Unsloth's chat templates, read from the installed unsloth's source without importing it.

Importing unsloth takes seconds and pulls in torch; its templates are plain string constants in
unsloth/chat_templates.py, so reading them with `ast` is exact and instant. The test that guards
assets/templates/ uses this, and `python -m tests.core.data.unsloth_source --write` regenerates the
stored copies after an Unsloth upgrade.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

# The templates ftui stores, one file each, as Unsloth spells them (aliases live in templates.json).
SHIPPED = (
    "chatml",
    "llama-3",
    "llama-3.1",
    "mistral",
    "qwen-2.5",
    "qwen3",
    "phi-3",
    "phi-4",
    "gemma2",
    "gemma-3",
    "zephyr",
    "gpt-oss",
    "alpaca",
    "vicuna",
)


def source_path() -> Path | None:
    spec = importlib.util.find_spec("unsloth")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "chat_templates.py"
    return path if path.is_file() else None


def unsloth_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("unsloth")
    except PackageNotFoundError:
        return None


def read_templates(path: Path) -> dict[str, dict]:
    """{name: {"jinja": str, "stop_word": str, "system_message": str | None}} as Unsloth defines them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, object] = {}
    templates: dict[str, tuple] = {}
    systems: dict[str, object] = {}

    def value(node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(left, str) and isinstance(right, str) else None
        if isinstance(node, ast.Tuple):
            return tuple(value(e) for e in node.elts)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            table = {"CHAT_TEMPLATES": templates, "DEFAULT_SYSTEM_MESSAGE": systems}.get(node.value.id)
            key = value(node.slice)
            return table.get(key) if table is not None else None
        return None

    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name):
            names[target.id] = value(node.value)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            key = value(target.slice)
            if target.value.id == "CHAT_TEMPLATES":
                templates[key] = value(node.value)
            elif target.value.id == "DEFAULT_SYSTEM_MESSAGE":
                systems[key] = value(node.value)
    # The llama-3.2 / 3.3 aliases are set in a for loop: follow it as Unsloth does.
    for alias in ("llama-3.2", "llama-3.3", "llama-32", "llama-33"):
        templates.setdefault(alias, templates.get("llama-3.1"))
        systems.setdefault(alias, systems.get("llama-3.1"))
    out = {}
    for name, entry in templates.items():
        if not entry or not isinstance(entry[0], str):
            continue
        out[name] = {"jinja": entry[0], "stop_word": entry[1], "system_message": systems.get(name)}
    return out


def escape_jinja_literal(text: str) -> str:
    # Unsloth's _escape_jinja_literal: the system message is spliced into a Jinja string literal.
    return text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\r", "\\r")


def as_set_on_tokenizer(entry: dict) -> str:
    """The template string get_chat_template sets on the tokenizer (default system message filled in)."""
    jinja = entry["jinja"]
    if entry["system_message"] is not None:
        jinja = jinja.replace("{system_message}", escape_jinja_literal(entry["system_message"]))
    return jinja


def main(argv: list[str]) -> int:
    path = source_path()
    if path is None:
        print("unsloth is not installed", file=sys.stderr)
        return 1
    templates = read_templates(path)
    out_dir = Path(__file__).resolve().parents[3] / "assets" / "templates"
    for name in SHIPPED:
        jinja = as_set_on_tokenizer(templates[name])
        target = out_dir / f"{name}.jinja"
        if "--write" in argv:
            target.write_text(jinja, encoding="utf-8")
        else:
            print(name, "same" if target.is_file() and target.read_text("utf-8") == jinja else "DIFFERENT")
    print(json.dumps({"unsloth": unsloth_version(), "source": str(path)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
