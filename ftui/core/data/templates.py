"""Chat templates and base-model prompts, stored as data in assets/templates/ and rendered with jinja2.

The Jinja is Unsloth's own (see assets/templates/templates.json for the source), rendered in an
environment configured as transformers' `apply_chat_template` configures it (trim_blocks,
lstrip_blocks, loopcontrols, its tojson and raise_exception), so what the preview shows is byte for
byte what the trainer's tokenizer would produce. No transformers import: the TUI needs this too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ftui.core import fs
from ftui.core.errors import UserError
from ftui.core.paths import assets_dir


class UnknownTemplateError(UserError):
    pass


class TemplateRenderError(ValueError):
    """The template refused the conversation (its own raise_exception), e.g. roles that do not alternate."""


@dataclass(frozen=True)
class ChatTemplate:
    name: str
    jinja: str
    kind: str  # "chat" (an instruct model's own format) or "base" (a prompt for base models)
    stop_word: str  # "eos_token" = the model's EOS; otherwise the token Unsloth maps EOS to
    instruction_part: str
    response_part: str
    description: str
    aliases: tuple[str, ...] = ()

    def render(
        self,
        messages: list[dict[str, Any]],
        *,
        add_generation_prompt: bool = False,
        bos_token: str = "",
        eos_token: str = "",
    ) -> str:
        try:
            return _compiled(self.jinja).render(
                messages=messages,
                tools=None,
                documents=None,
                add_generation_prompt=add_generation_prompt,
                bos_token=bos_token,
                eos_token=eos_token,
            )
        except Exception as error:  # jinja2's TemplateError, or a KeyError/TypeError on an odd message
            raise TemplateRenderError(str(error) or type(error).__name__) from error


def templates_dir() -> Path:
    return assets_dir() / "templates"


@cache
def _index() -> dict[str, dict[str, Any]]:
    data = json.loads((templates_dir() / "templates.json").read_text(encoding="utf-8"))
    return data["templates"]


@cache
def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, entry in _index().items():
        table[name] = name
        for alias in entry.get("aliases", ()):
            table[alias] = name
    return table


def template_names(kind: str | None = None) -> list[str]:
    """The canonical template names (not aliases), optionally only "chat" or "base" ones."""
    return [name for name, entry in _index().items() if kind is None or entry["kind"] == kind]


MODEL_TEMPLATE = "model"  # the name that means "the model's own chat template" (as `ftui train` takes it)


def model_template(tokenizer: Any, model: str | None) -> ChatTemplate:
    """The chat template stored with the model's tokenizer (`--template model`); UserError when there is
    none on this machine."""
    own = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if not own:
        where = f"{model}'s tokenizer" if model else "a model (none was given)"
        raise UserError(
            f"Template {MODEL_TEMPLATE!r} is the model's own chat template, and {where} has none on this "
            "machine; give a model whose tokenizer files are here, or name a template such as chatml."
        )
    return ChatTemplate("the model's own", own, "chat", "eos_token", "", "", "")


def get_template(name: str) -> ChatTemplate:
    """A stored template by its Unsloth name or alias, or a path to a .jinja file of your own."""
    canonical = _aliases().get(name) or _aliases().get(name.lower())
    if canonical is None:
        path = fs.expand(name)
        if path.suffix == ".jinja" and path.is_file():
            return _custom_template(path)
        raise UnknownTemplateError(
            f"There is no chat template called {name!r}; use one of {', '.join(template_names())} "
            "or a path to a .jinja file."
        )
    return _load(canonical)


@cache
def _load(name: str) -> ChatTemplate:
    entry = _index()[name]
    return ChatTemplate(
        name=name,
        jinja=(templates_dir() / entry["file"]).read_text(encoding="utf-8"),
        kind=entry["kind"],
        stop_word=entry["stop_word"],
        instruction_part=entry["instruction_part"],
        response_part=entry["response_part"],
        description=entry.get("for", ""),
        aliases=tuple(entry.get("aliases", ())),
    )


def _custom_template(path: Path) -> ChatTemplate:
    # A user's own template, or a model's own saved by the trainer. Markers are read off renders, the
    # way Unsloth's auto-detection finds them; a template without them still converts rows, and only
    # template_markers (responses-only masking) then says it cannot.
    try:
        jinja = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"The chat template {path} is not UTF-8 text; re-save it as UTF-8.") from None
    except OSError as error:
        raise UserError(f"Cannot read the chat template {path} ({error.strerror}); check the path.") from None
    try:
        _compiled(jinja)
    except Exception as error:  # jinja2.TemplateSyntaxError
        raise UserError(f"The chat template {path} does not compile ({error}); fix the Jinja.") from error
    probe = ChatTemplate(str(path), jinja, "chat", "eos_token", "", "", f"the template in {path}")
    try:
        instruction, response = _detect_markers(probe)
    except UserError:
        instruction, response = "", ""
    return ChatTemplate(str(path), jinja, "chat", "eos_token", instruction, response, probe.description)


def _detect_markers(template: ChatTemplate) -> tuple[str, str]:
    # The response marker is what add_generation_prompt appends; the instruction marker is what a new
    # user turn adds in front of its content. Both are read off renders, never guessed.
    user, assistant = "\u2060USERPROBE\u2060", "\u2060ASSTPROBE\u2060"
    one = [{"role": "user", "content": user}]
    two = [*one, {"role": "assistant", "content": assistant}]
    three = [*two, {"role": "user", "content": user}]
    try:
        asked = template.render(one)
        response = template.render(one, add_generation_prompt=True)[len(asked) :]
        before, after = template.render(two), template.render(three)
    except TemplateRenderError as error:
        raise UserError(
            f"Your chat template {template.name} cannot render a plain conversation ({error}); fix the template."
        ) from error
    added = after[len(before) :] if after.startswith(before) else ""
    instruction = added[: added.find(user)] if user in added else ""
    if not response or not instruction:
        raise UserError(
            f"ftui cannot find the user and assistant markers in your chat template {template.name}; "
            "use a stored template (ftui inspect --template) or one with an add_generation_prompt branch."
        )
    return instruction, response


def template_markers(template: str | ChatTemplate) -> tuple[str, str]:
    """(instruction_part, response_part): what unsloth's train_on_responses_only needs to mask prompts."""
    chosen = get_template(template) if isinstance(template, str) else template
    if not chosen.instruction_part or not chosen.response_part:
        raise UserError(
            f"ftui cannot find the user and assistant markers in {chosen.description or chosen.name}, so it cannot "
            "train on responses only; turn responses-only off or use a stored template (e.g. chatml)."
        )
    return chosen.instruction_part, chosen.response_part


@cache
def _environment():
    # Mirrors transformers.utils.chat_template_utils._cached_compile_jinja_template.
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        x: Any,
        ensure_ascii: bool = False,
        indent: Any = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(format: str) -> str:
        from datetime import datetime

        return datetime.now().strftime(format)

    class Generation(jinja2.ext.Extension):
        # {% generation %}...{% endgeneration %} marks assistant text for transformers' masks; rendering
        # it is rendering its body.
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.Scope(body).set_lineno(lineno)

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    return environment


@cache
def _compiled(jinja: str):
    return _environment().from_string(jinja)
