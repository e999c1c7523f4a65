"""Dataset formats: detecting which one a file is in, and turning a row of it into chat messages.

Formats and the fields each maps to a column of your data (override with `mapping`):
  alpaca             instruction, input (optional), output, system (optional)
  sharegpt           conversations: a list of {"from": human|gpt|system, "value": ...}
  messages           messages: a list of {"role": user|assistant|system, "content": ...} (OpenAI / ChatML)
  prompt_completion  prompt, completion, system (optional)
  text               text: trained on as it is
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ftui.core.data.problems import RowProblem
from ftui.core.errors import UsageError
from ftui.core.plan import DATA_FORMATS

FORMATS: tuple[str, ...] = DATA_FORMATS

# field -> column names that mean it, best first. The first is the format's own name.
_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "alpaca": {
        "instruction": ("instruction", "instructions", "Instruction"),
        "input": ("input", "context", "Input"),
        "output": ("output", "response", "Output", "Response"),
        "system": ("system", "system_prompt"),
    },
    "prompt_completion": {
        "prompt": ("prompt", "question", "query", "Prompt", "Question"),
        "completion": ("completion", "answer", "response", "Completion", "Answer"),
        "system": ("system", "system_prompt"),
    },
    "sharegpt": {"conversations": ("conversations", "conversation", "messages", "dialog", "chat")},
    "messages": {"messages": ("messages", "conversations", "conversation", "chat", "dialog")},
    "text": {"text": ("text", "content", "document", "Text")},
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "alpaca": ("instruction", "output"),
    "prompt_completion": ("prompt", "completion"),
    "sharegpt": ("conversations",),
    "messages": ("messages",),
    "text": ("text",),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "alpaca": ("input", "system", "image"),
    "prompt_completion": ("system", "image"),
    "sharegpt": ("image",),
    "messages": ("image",),
    "text": ("image",),
}
# The column that holds a row's image(s), in any format: LLaVA's "image", TRL's "images", the Hugging Face
# imagefolder's "file_name". Images may also sit inside the turns (content parts, or LLaVA's <image>).
IMAGE_COLUMNS: tuple[str, ...] = ("image", "images", "img", "image_path", "picture", "photo", "file_name")
for _fields in _SYNONYMS.values():
    _fields["image"] = IMAGE_COLUMNS
# Where an image sits in the text of a turn: LLaVA writes <image>; content parts become this mark too, so
# the row checks below see a turn that holds only an image as not empty.
LLAVA_IMAGE = "<image>"
IMAGE_MARK = "\ufffc"  # U+FFFC OBJECT REPLACEMENT CHARACTER

# ShareGPT speaker names as Unsloth's standardize_data_formats reads them, plus common variants.
SHAREGPT_ROLES: dict[str, str] = {
    "system": "system",
    "human": "user",
    "user": "user",
    "input": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "output": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
}
MESSAGE_ROLES: dict[str, str] = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "developer": "system",
}


@dataclass(frozen=True)
class Detection:
    format: str
    mapping: dict[str, str]  # field -> column
    confidence: float  # 0..1: share of sampled rows that fit, lowered for synonyms or a user override
    columns: tuple[str, ...] = ()  # every column seen in the sample
    reason: str = ""
    vision: bool = False  # rows carry images (an image column, image parts, or LLaVA's <image>)


@dataclass
class _Vote:
    rows: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    exact: bool = True


def _conversation_keys(value: Any) -> str | None:
    """'sharegpt' for a list of from/value dicts, 'messages' for role/content, else None."""
    if not isinstance(value, list) or not value or not isinstance(value[0], Mapping):
        return None
    first = value[0]
    if "from" in first and "value" in first:
        return "sharegpt"
    if "role" in first and "content" in first:
        return "messages"
    return None


_LIST_FIELD = {"sharegpt": "conversations", "messages": "messages"}
_PROMPT_COLUMNS = frozenset(
    _SYNONYMS["prompt_completion"]["prompt"] + _SYNONYMS["prompt_completion"]["completion"]
)


def _match_row(row: Mapping[str, Any]) -> list[tuple[str, dict[str, str], bool]]:
    """Every format this row fits: (format, mapping, whether the names were the format's own)."""
    fits = []
    for column, value in row.items():
        if column in _PROMPT_COLUMNS:  # TRL's conversational prompt/completion: lists, but not a chat column
            continue
        if isinstance(value, str) and value.startswith("[{"):  # a CSV cell holding the JSON list
            try:
                value = json.loads(value)
            except ValueError:
                continue
        kind = _conversation_keys(value)
        if kind is not None:
            field = _LIST_FIELD[kind]
            fits.append((kind, {field: column}, column == field))
            break
    for fmt in ("alpaca", "prompt_completion", "text"):
        mapping: dict[str, str] = {}
        exact = True
        for name in _REQUIRED[fmt] + _OPTIONAL.get(fmt, ()):
            if name == "image":
                continue  # mapped below, for every format
            for position, synonym in enumerate(_SYNONYMS[fmt][name]):
                if synonym in row:
                    mapping[name] = synonym
                    exact = exact and position == 0
                    break
        if all(name in mapping for name in _REQUIRED[fmt]):
            if fmt == "text" and not isinstance(row.get(mapping["text"]), str):
                continue
            fits.append((fmt, mapping, exact))
    image = image_column(row)
    if image is not None:
        for _fmt, mapping, _exact in fits:
            mapping["image"] = image
    return fits


def image_column(row: Mapping[str, Any]) -> str | None:
    """The column that holds this row's image(s): a known name whose value can name an image."""
    for column in IMAGE_COLUMNS:
        value = row.get(column)
        if isinstance(value, list):
            value = next((v for v in value if v is not None), None)
        if isinstance(value, str | bytes | bytearray | dict) and value:
            return column
    return None


def has_inline_images(row: Mapping[str, Any]) -> bool:
    """Whether a turn of this row holds an image part or LLaVA's <image>."""
    for value in row.values():
        if isinstance(value, str) and value.startswith("[{"):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if not isinstance(value, list):
            continue
        for turn in value[:8]:
            if not isinstance(turn, Mapping):
                break
            content = turn.get("content", turn.get("value"))
            if isinstance(content, str) and LLAVA_IMAGE in content:
                return True
            if isinstance(content, list) and any(
                isinstance(p, Mapping) and p.get("type") in ("image", "image_url") for p in content
            ):
                return True
    return False


# When a row fits several formats, the richer one wins (an Alpaca row usually has a "text" column too).
_PREFERENCE = {"messages": 0, "sharegpt": 1, "alpaca": 2, "prompt_completion": 3, "text": 4}


def detect_format(rows: Iterable[Mapping[str, Any]]) -> Detection | None:
    """The format most of the sampled rows fit, or None when none of them fits any."""
    votes: dict[str, _Vote] = {}
    columns: dict[str, None] = {}
    sampled = 0
    vision = False
    for row in rows:
        sampled += 1
        columns.update(dict.fromkeys(str(key) for key in row))
        vision = vision or image_column(row) is not None or has_inline_images(row)
        fits = _match_row(row)
        if not fits:
            continue
        fmt, mapping, exact = min(fits, key=lambda fit: _PREFERENCE[fit[0]])
        vote = votes.setdefault(fmt, _Vote())
        vote.rows += 1
        for key, column in mapping.items():
            vote.mapping.setdefault(key, column)
        vote.exact = vote.exact and exact
    if not votes:
        return None
    fmt, vote = max(votes.items(), key=lambda item: (item[1].rows, -_PREFERENCE[item[0]]))
    confidence = vote.rows / sampled * (1.0 if vote.exact else 0.9)
    shown = ", ".join(f"{key} <- {column}" for key, column in vote.mapping.items())
    return Detection(
        fmt,
        vote.mapping,
        round(confidence, 3),
        tuple(columns),
        f"{vote.rows} of {sampled} sampled rows fit {fmt} ({shown})" + (" with images" if vision else ""),
        vision,
    )


def resolve(
    detection: Detection | None,
    format: str | None,
    mapping: Mapping[str, str] | None,
    columns: tuple[str, ...] = (),
) -> Detection | None:
    """Apply the user's --format and --map over what was detected."""
    if format is not None and format not in FORMATS:
        raise UsageError(f"There is no dataset format {format!r}; use one of {', '.join(FORMATS)}.")
    chosen = format or (detection.format if detection else None)
    if chosen is None:
        return None
    known = _REQUIRED[chosen] + _OPTIONAL.get(chosen, ())
    for key in mapping or {}:
        if key not in known:
            raise UsageError(f"The {chosen} format has no field {key!r}; map one of {', '.join(known)}.")
    merged: dict[str, str] = {}
    if detection is not None and detection.format == chosen:
        merged.update(detection.mapping)
    elif columns:  # a forced format: map its fields by name where the data has them
        for key in known:
            for synonym in _SYNONYMS[chosen][key]:
                if synonym in columns:
                    merged[key] = synonym
                    break
    merged.update(mapping or {})
    for key in _REQUIRED[chosen]:
        merged.setdefault(key, _SYNONYMS[chosen][key][0])
    if "image" not in merged and detection is not None and "image" in detection.mapping:
        merged["image"] = detection.mapping["image"]  # a forced format keeps the image column found
    overridden = bool(format and (detection is None or detection.format != format)) or bool(mapping)
    confidence = 1.0 if overridden else (detection.confidence if detection else 0.0)
    reason = "set by you" if overridden else (detection.reason if detection else "")
    vision = "image" in merged or bool(detection and detection.vision)
    return Detection(chosen, merged, confidence, detection.columns if detection else columns, reason, vision)


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """--map field=column pairs (also comma separated) into a dict."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        for item in pair.split(","):
            if not item.strip():
                continue
            key, sep, column = item.partition("=")
            if not sep or not key.strip() or not column.strip():
                raise UsageError(f"--map takes field=column (e.g. instruction=question), not {item!r}.")
            mapping[key.strip()] = column.strip()
    return mapping


# --- turning a row into messages -------------------------------------------------------------------


def _text_field(row: Mapping[str, Any], column: str, name: str, *, required: bool = True) -> str:
    if column not in row or row[column] is None:
        if required:
            raise RowProblem("missing_field", f"there is no {_named(name, column)}")
        return ""
    value = row[column]
    if not isinstance(value, str):
        raise RowProblem("wrong_type", f"{_named(name, column)} is {_type_name(value)}, not text")
    if required and not value.strip():
        raise RowProblem("empty_field", f"{_named(name, column)} is empty")
    return value


def _named(name: str, column: str) -> str:
    return f"'{name}'" if name == column else f"'{name}' (column '{column}')"


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _content_text(content: Any, where: str, images: list[Any] | None = None) -> str:
    """A turn's text. With `images` (a vision row), image parts become IMAGE_MARK and their payload (None
    for TRL's bare {"type": "image"} placeholder) is appended to `images`; LLaVA's <image> too."""
    if isinstance(content, str):
        if images is not None and LLAVA_IMAGE in content:
            images.extend([None] * content.count(LLAVA_IMAGE))
            return content.replace(LLAVA_IMAGE, IMAGE_MARK)
        return content
    # OpenAI's content parts: [{"type": "text", "text": ...}], and for vision rows image parts:
    # {"type": "image", "image"|"url"|"path": ...} (TRL, Unsloth) or {"type": "image_url", "image_url": {"url": ...}}.
    if isinstance(content, list) and content and all(isinstance(p, Mapping) for p in content):
        pieces = []
        for part in content:
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif kind in ("image", "image_url") and images is not None:
                images.append(
                    next((part[k] for k in ("image", "url", "path", "image_url") if part.get(k)), None)
                )
                pieces.append(IMAGE_MARK)
            else:
                break
        else:
            return "".join(pieces)
    raise RowProblem("wrong_type", f"the content of {where} is {_type_name(content)}, not text")


def _turns(
    row: Mapping[str, Any], column: str, fmt: str, images: list[Any] | None = None
) -> list[dict[str, str]]:
    if column not in row or row[column] is None:
        raise RowProblem("missing_field", f"there is no '{column}' list of turns")
    turns = row[column]
    if isinstance(turns, str):  # CSV cells and some Parquet exports hold the list as a JSON string
        try:
            turns = json.loads(turns)
        except ValueError:
            raise RowProblem(
                "malformed_json", f"'{column}' is text that is not a JSON list of turns"
            ) from None
    if not isinstance(turns, list):
        raise RowProblem("wrong_type", f"'{column}' is {_type_name(turns)}, not a list of turns")
    if not turns:
        raise RowProblem("empty_field", f"'{column}' has no turns")
    role_key, content_key, roles = (
        ("from", "value", SHAREGPT_ROLES) if fmt == "sharegpt" else ("role", "content", MESSAGE_ROLES)
    )
    messages = []
    for index, turn in enumerate(turns, 1):
        where = f"turn {index}"
        if not isinstance(turn, Mapping):
            raise RowProblem(
                "wrong_type",
                f"{where} is {_type_name(turn)}, not an object with '{role_key}' and '{content_key}'",
            )
        # Accept the other convention inside a turn: some ShareGPT exports already use role/content.
        speaker = turn.get(role_key, turn.get("role" if role_key == "from" else "from"))
        content = turn.get(content_key, turn.get("content" if content_key == "value" else "value"))
        if speaker is None:
            raise RowProblem("missing_field", f"{where} has no '{role_key}'")
        if content is None:
            raise RowProblem("missing_field", f"{where} has no '{content_key}'")
        if not isinstance(speaker, str):
            raise RowProblem("wrong_type", f"'{role_key}' of {where} is {_type_name(speaker)}, not text")
        role = roles.get(speaker) or roles.get(speaker.lower())
        if role is None:
            raise RowProblem("unknown_role", f"{where} has the role {speaker[:40]!r}")
        messages.append({"role": role, "content": _content_text(content, where, images)})
    return messages


def _check_turn_order(messages: list[dict[str, str]]) -> None:
    body = messages[1:] if messages and messages[0]["role"] == "system" else messages
    if not any(m["role"] == "assistant" for m in body):
        raise RowProblem("no_assistant_turn", "there is no assistant turn to learn from")
    for index, message in enumerate(body):
        expected = "user" if index % 2 == 0 else "assistant"
        if message["role"] != expected:
            number = index + 1 + (len(messages) - len(body))
            raise RowProblem(
                "roles_not_alternating", f"turn {number} is {message['role']} where {expected} was expected"
            )
        if not message["content"].strip():
            number = index + 1 + (len(messages) - len(body))
            raise RowProblem("empty_field", f"turn {number} ({message['role']}) is empty")
    if body[-1]["role"] != "assistant":
        raise RowProblem(
            "roles_not_alternating", f"the last turn is a {body[-1]['role']} turn with no answer"
        )


def to_messages(
    row: Any, fmt: str, mapping: Mapping[str, str], images: list[Any] | None = None
) -> list[dict[str, str]]:
    """The row as chat messages; raises RowProblem naming what is wrong. Text rows give one message.
    With `images` (a vision row) images inside turns are collected there and marked in the text."""
    if not isinstance(row, Mapping):
        raise RowProblem("wrong_type", f"the row is {_type_name(row)}, not an object with named fields")
    if fmt == "alpaca":
        instruction = _text_field(row, mapping["instruction"], "instruction")
        extra = _text_field(row, mapping.get("input", "input"), "input", required=False)
        output = _text_field(row, mapping["output"], "output")
        system = _text_field(row, mapping.get("system", "system"), "system", required=False)
        user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        return ([{"role": "system", "content": system}] if system.strip() else []) + messages
    if fmt == "prompt_completion":
        if isinstance(row.get(mapping["prompt"]), list) or isinstance(row.get(mapping["completion"]), list):
            # TRL's conversational form: the prompt's turns, then the completion's turns.
            messages = _turns(row, mapping["prompt"], "messages", images) + _turns(
                row, mapping["completion"], "messages", images
            )
            _check_turn_order(messages)
            return messages
        prompt = _text_field(row, mapping["prompt"], "prompt")
        completion = _text_field(row, mapping["completion"], "completion")
        system = _text_field(row, mapping.get("system", "system"), "system", required=False)
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
        return ([{"role": "system", "content": system}] if system.strip() else []) + messages
    if fmt in ("sharegpt", "messages"):
        column = mapping["conversations" if fmt == "sharegpt" else "messages"]
        messages = _turns(row, column, fmt, images)
        _check_turn_order(messages)
        return messages
    if fmt == "text":
        return [{"role": "text", "content": _text_field(row, mapping["text"], "text")}]
    raise ValueError(f"unknown format {fmt}")


# --- vision rows: messages with image parts, and the images in order ------------------------------------


def to_vision_messages(
    row: Any, fmt: str, mapping: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """(messages whose content is a list of parts, {"type": "text"|"image"}, and the row's images in the
    order of their parts: the values as the row gives them). The messages are TRL's "messages + images"
    form, which both Unsloth's and TRL's vision collators read. Raises RowProblem."""
    inline: list[Any] = []
    messages = to_messages(row, fmt, mapping, inline)
    column = mapping.get("image")
    from_column = _column_images(row, column) if column else []
    if column and not from_column and not any(p is not None for p in inline):
        raise RowProblem(
            "no_image", f"'{column}' is empty, and every row of this dataset pairs an image with its text"
        )
    if messages and messages[0]["role"] == "text":  # a caption: the image is the prompt, the text the answer
        messages = [
            {"role": "user", "content": IMAGE_MARK * max(1, len(from_column))},
            {"role": "assistant", "content": messages[0]["content"]},
        ]
        inline = [None] * max(1, len(from_column))
    if (
        not inline and from_column
    ):  # images only in a column: they go first in the first user turn (LLaVA, TRL)
        first = next(i for i, m in enumerate(messages) if m["role"] == "user")
        messages[first] = {
            **messages[first],
            "content": IMAGE_MARK * len(from_column) + messages[first]["content"],
        }
        inline = [None] * len(from_column)
    images: list[Any] = []
    queue = list(from_column)
    for payload in inline:
        if payload is not None:
            images.append(payload)
        elif queue:
            images.append(queue.pop(0))
        else:
            marks = len(inline)
            if not from_column and not any(p is not None for p in inline):
                raise RowProblem(
                    "no_image",
                    f"the turns hold {marks} image placeholder{'s' if marks > 1 else ''} (<image> or an image part) but the row has no image",
                )
            raise RowProblem(
                "image_mismatch",
                f"the turns hold {marks} image placeholders but the row gives {len(images) + len(queue)} images",
            )
    if queue:
        raise RowProblem(
            "image_mismatch",
            f"the row gives {len(images) + len(queue)} images but its turns hold {len(inline)} image placeholders (<image> or image parts)",
        )
    return [_with_parts(m) for m in messages], images


def _column_images(row: Mapping[str, Any], column: str) -> list[Any]:
    value = row.get(column)
    if isinstance(value, str) and value.startswith("["):  # a CSV cell holding a JSON list of paths
        try:
            value = json.loads(value)
        except ValueError:
            pass
    values = value if isinstance(value, list) else [value]
    return [v for v in values if v is not None and v != "" and v != {}]


def _with_parts(message: dict[str, str]) -> dict[str, Any]:
    parts: list[dict[str, str]] = []
    pieces = message["content"].split(IMAGE_MARK)
    for index, piece in enumerate(pieces):
        if index:
            parts.append({"type": "image"})
            piece = piece.removeprefix("\n")  # LLaVA's "<image>\nQuestion"
        if index < len(pieces) - 1:
            piece = piece.removesuffix("\n")
        if piece:
            parts.append({"type": "text", "text": piece})
    return {"role": message["role"], "content": parts}


def text_of_parts(content: Any) -> str:
    """A parts list as readable text: images shown as <image>."""
    if isinstance(content, str):
        return content
    return "".join(p["text"] if p["type"] == "text" else LLAVA_IMAGE for p in content)
