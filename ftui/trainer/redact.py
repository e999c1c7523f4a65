"""Keep HF tokens out of train.log: every write to stdout/stderr passes through here.

The token reaches the trainer through the environment or the HF login file, and libraries sometimes
print request headers or URLs in their errors; the log is a file people paste into issues.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

from ftui.core.text import MASK, TOKEN_PATTERN

__all__ = ["MASK", "RedactingStream", "install", "known_token", "redact", "scrub_file"]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, MASK)
    return TOKEN_PATTERN.sub(MASK, text)


class RedactingStream:
    """A text stream that masks secrets before they reach the wrapped stream."""

    def __init__(self, stream: TextIO, secrets: tuple[str, ...] = ()):
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(redact(text, self._secrets))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding, ... as the real stream
        return getattr(self._stream, name)


def known_token() -> str | None:
    """The HF token this process would use (environment or the HF login), to mask it; never printed."""
    import os

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:
        return None


def install(secrets: tuple[str, ...]) -> None:
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout, secrets)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr, secrets)


def scrub_file(path: str, secrets: tuple[str, ...]) -> None:
    """A last sweep over a finished log, for anything written below Python (C libraries, subprocesses).
    The mask keeps the secret's length, so a writer still appending to the file is not disturbed."""
    try:
        with open(path, "r+b") as handle:
            data = handle.read()
            cleaned = data
            for secret in secrets:
                if secret and len(secret) >= 8:
                    cleaned = cleaned.replace(secret.encode(), b"*" * len(secret.encode()))
            cleaned = re.sub(rb"hf_[A-Za-z0-9]{30,}", lambda m: b"*" * len(m.group(0)), cleaned)
            if cleaned != data:
                handle.seek(0)
                handle.write(cleaned)
    except OSError:
        pass
