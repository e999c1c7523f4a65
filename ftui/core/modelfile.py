"""An Ollama Modelfile for a GGUF export: the run's chat template and stop tokens, and a parser for it.

The templates are Unsloth's Ollama templates for the chat templates ftui ships (assets/templates/
ollama.json), with the model's EOS token filled in. A run that kept the model's own template (or a
.jinja file) gets no TEMPLATE line: Ollama then reads the chat template that the converter stores in
the GGUF (tokenizer.chat_template). Unsloth's sampling defaults (temperature 1.5, min_p 0.1) are left
out: sampling is the user's choice, not the template's.

The parser follows Ollama's Modelfile grammar (instruction, then a value: bare to the end of the line,
"quoted", or \"\"\"triple-quoted\"\"\" over several lines) and rejects what Ollama would reject.
"""

from __future__ import annotations

import json
from functools import cache

from ftui.core.paths import assets_dir

INSTRUCTIONS = ("FROM", "ADAPTER", "TEMPLATE", "SYSTEM", "PARAMETER", "LICENSE", "MESSAGE", "REQUIRES")
_SAMPLING = ("PARAMETER temperature", "PARAMETER min_p")


class ModelfileError(ValueError):
    pass


@cache
def _templates() -> dict[str, str]:
    data = json.loads((assets_dir() / "templates" / "ollama.json").read_text(encoding="utf-8"))
    return data["templates"]


def ollama_template_name(template: str | None) -> str | None:
    """The Ollama template for a run's template name (aliases resolved), or None for the model's own."""
    if not template:
        return None
    from ftui.core.data.templates import UnknownTemplateError, get_template

    try:
        name = get_template(template).name
    except UnknownTemplateError:
        return None
    return name if name in _templates() else None


def modelfile_text(gguf_name: str, template: str | None, eos_token: str) -> str:
    """The Modelfile for `gguf_name` (a file beside it) chatting with the run's template."""
    name = ollama_template_name(template)
    header = "# Ollama Modelfile written by ftui: `ollama create NAME -f Modelfile` in this folder.\n"
    if name is None:
        return (
            header
            + "# The run kept the model's own chat template: Ollama reads it from the GGUF.\n"
            + f"FROM ./{gguf_name}\n"
            + (f'PARAMETER stop "{_escape(eos_token)}"\n' if eos_token else "")
        )
    body = _templates()[name].replace("{__FILE_LOCATION__}", f"./{gguf_name}")
    body = body.replace("{__EOS_TOKEN__}", eos_token)
    lines = [line for line in body.strip("\n").split("\n") if not line.startswith(_SAMPLING)]
    text = header + f"# Chat template: {name}.\n" + "\n".join(lines) + "\n"
    stops = {
        value for key, value in parse_modelfile(text) if key == "PARAMETER" and value.startswith("stop ")
    }
    if eos_token and f"stop {eos_token}" not in stops:
        text += f'PARAMETER stop "{_escape(eos_token)}"\n'
    return text


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, value) pairs; PARAMETER values are "name value" with the value unquoted."""
    result: list[tuple[str, str]] = []
    i, n, line_no = 0, len(text), 1
    while i < n:
        # skip blank space and comments
        if text[i] in " \t\r":
            i += 1
            continue
        if text[i] == "\n":
            i, line_no = i + 1, line_no + 1
            continue
        if text[i] == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        end = i
        while end < n and not text[end].isspace():
            end += 1
        word = text[i:end].upper()
        if word not in INSTRUCTIONS:
            raise ModelfileError(f"line {line_no}: unknown instruction {text[i:end]!r}")
        i = end
        while i < n and text[i] in " \t":
            i += 1
        prefix = ""
        if word == "PARAMETER":
            end = i
            while end < n and not text[end].isspace():
                end += 1
            prefix = text[i:end]
            if not prefix:
                raise ModelfileError(f"line {line_no}: PARAMETER needs a name and a value")
            i = end
            while i < n and text[i] in " \t":
                i += 1
        value, i, lines = _value(text, i, line_no)
        if not value and word != "SYSTEM":
            raise ModelfileError(f"line {line_no}: {word} has no value")
        result.append((word, f"{prefix} {value}" if prefix else value))
        line_no += lines
    if not any(key == "FROM" for key, _ in result):
        raise ModelfileError("no FROM instruction")
    return result


def _value(text: str, i: int, line_no: int) -> tuple[str, int, int]:
    """The value starting at i: its text, where parsing goes on, and the newlines it spanned."""
    if text.startswith('"""', i):
        end = text.find('"""', i + 3)
        if end < 0:
            raise ModelfileError(f"line {line_no}: unterminated triple-quoted value")
        value = text[i + 3 : end]
        return value, end + 3, value.count("\n")
    if text.startswith('"', i):
        out, j = [], i + 1
        while j < len(text) and text[j] != '"':
            if text[j] == "\n":
                raise ModelfileError(f"line {line_no}: unterminated quoted value")
            if text[j] == "\\" and j + 1 < len(text):
                j += 1
            out.append(text[j])
            j += 1
        if j >= len(text):
            raise ModelfileError(f"line {line_no}: unterminated quoted value")
        return "".join(out), j + 1, 0
    end = text.find("\n", i)
    end = len(text) if end < 0 else end
    return text[i:end].strip(), end, 0
