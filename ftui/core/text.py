"""Untrusted text (training logs, dataset rows, file names, model output) made safe for a terminal.

The one place where that happens, for the CLI and the TUI alike: terminal control sequences and control
characters (bidirectional overrides included) are removed, line breaks normalised. JSON output keeps
data exact and is not passed through here; everything shown as text is.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (colours, cursor moves), OSC (titles, hyperlinks; ends in BEL or ST),
# DCS/SOS/PM/APC strings (end in ST), and the two-character escapes. Then the 8-bit C1 forms, then any
# other C0 control and DEL. Tab is kept (Log expands it); \r and \n are line breaks, handled by the splitter.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def strip_control(text: str) -> str:
    """The text without terminal control sequences or control characters; tabs and newlines are kept,
    a lone carriage return becomes a newline."""
    if text.isprintable():  # the common case, decided at C speed
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_CONTROL.sub("", line) for line in text.split("\n"))


def one_line(text: str, limit: int | None = None) -> str:
    """Untrusted text for a single row: control sequences removed, line breaks shown as a visible mark."""
    clean = strip_control(text).replace("\n", " \u23ce ")
    if limit is not None and len(clean) > limit:
        clean = clean[: max(0, limit - 1)] + "\u2026"
    return clean


class LineSplitter:
    """Turns chunks of a stream's text into clean lines.

    A line ends at \\n, \\r\\n or a lone \\r (tqdm redraws its bar with \\r: each redraw is a line, and
    the empty pieces between redraws are dropped). The unfinished last line of a chunk waits for the
    next one; a line longer than `max_line` is cut, so a log without newlines cannot grow memory.
    """

    def __init__(self, max_line: int = 4096) -> None:
        self._partial = ""
        self._after_cr = False  # the last chunk ended in CR: an LF starting the next one is its pair
        self.max_line = max_line

    def feed(self, chunk: str) -> list[str]:
        if self._after_cr and chunk.startswith("\n"):
            chunk = chunk[1:]
        self._after_cr = False
        pieces = (self._partial + chunk).split("\n")
        self._partial = pieces.pop()
        lines: list[str] = []
        for piece in pieces:
            if "\r" in piece:
                lines.extend(part for part in piece.split("\r") if part)
            else:
                lines.append(piece)
        if "\r" in self._partial:
            head, _, self._partial = self._partial.rpartition("\r")
            lines.extend(part for part in head.split("\r") if part)
            self._after_cr = not self._partial
        while len(self._partial) > self.max_line:
            lines.append(self._partial[: self.max_line])
            self._partial = self._partial[self.max_line :]
        return [strip_control(line) for line in lines]

    @property
    def partial(self) -> str:
        """The unfinished line so far, cleaned (tqdm's newest redraw waits here for the next \\r)."""
        return strip_control(self._partial)

    def flush(self) -> list[str]:
        """The unfinished line, if any (the stream ended without a newline)."""
        rest, self._partial = self._partial, ""
        return [strip_control(rest)] if rest else []


# ----- secrets ------------------------------------------------------------------------------------
# HF user access tokens: "hf_" and 30+ letters and digits. The token in use is masked too, whatever its
# form. Every reader of a run's output (logs, status sentences) and every error sentence goes through
# mask_secrets, so a token printed by something below Python never reaches a screen or a JSON answer.
TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")
MASK = "hf_***"
_PARTIAL_TOKEN = re.compile(r"h(?:f(?:_[A-Za-z0-9]*)?)?\Z")


_token_file_cache: dict[str, tuple[float, str | None]] = {}


def known_token() -> str | None:
    """The HF token this machine would use (HF_TOKEN, the legacy variable, or the HF login file), read
    without importing huggingface_hub; never printed. The file is re-read only when it changes."""
    import os
    from pathlib import Path

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(name):
            return os.environ[name].strip()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "huggingface"
    )
    path = os.environ.get("HF_TOKEN_PATH") or os.path.join(home, "token")
    try:
        changed = os.stat(path).st_mtime
    except OSError:
        return None
    cached = _token_file_cache.get(path)
    if cached and cached[0] == changed:
        return cached[1]
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read(4096).strip() or None
    except (OSError, UnicodeDecodeError):
        token = None
    _token_file_cache[path] = (changed, token)
    return token


def mask_secrets(text: str, token: str | None = None) -> str:
    """`text` with HF tokens replaced by hf_***: anything shaped like one, and `token` (default: the
    token this machine would use) whatever its shape."""
    token = known_token() if token is None else token
    if token and len(token) >= 8 and token in text:
        text = text.replace(token, MASK)
    return TOKEN_PATTERN.sub(MASK, text) if "hf_" in text else text


def unfinished_secret(text: str, token: str | None = None) -> int:
    """How many characters at the end of `text` could be the start of a token still being written (a
    reader holds them back until the rest arrives, so that half a token is never shown)."""
    match = _PARTIAL_TOKEN.search(text[-64:])
    held = len(match.group(0)) if match else 0
    token = known_token() if token is None else token
    if token and len(token) >= 8:
        for size in range(min(len(token) - 1, len(text)), 3, -1):
            if text.endswith(token[:size]):
                held = max(held, size)
                break
    return held
