"""Lines of a stream waiting to be shown: fed from any thread, drained on the UI's event loop.

Not a widget, so a reader thread may hold it: the TUI's rule is that widgets are touched on the event
loop only. The buffer keeps at most `max_lines` (the oldest go first), so a reader far ahead of the
screen cannot grow memory; `received` counts every line fed, shown or dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

from ftui.core.text import LineSplitter, strip_control


class LineBuffer:
    def __init__(self, max_lines: int = 2000, divert: Callable[[str], bool] | None = None) -> None:
        """`divert(line)` may take a fed line for itself (True): it is then not kept (the run view takes
        download bars out of the log this way)."""
        self.max_lines = max_lines
        self.divert = divert
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._splitter = LineSplitter()
        self.received = 0

    def feed(self, chunk: str) -> int:
        """Raw text of the stream (partial lines, \\r, escape sequences and all); returns the lines added."""
        with self._lock:
            lines = self._kept(self._splitter.feed(chunk))
            self._add(lines)
        return len(lines)

    def add(self, lines: Iterable[str]) -> int:
        """Whole lines, cleaned here; returns how many."""
        clean = [strip_control(line).replace("\n", " ") for line in lines]
        with self._lock:
            self._add(clean)
        return len(clean)

    def end_of_stream(self) -> int:
        """The stream is over: its unfinished last line is a line too."""
        with self._lock:
            rest = self._kept(self._splitter.flush())
            self._add(rest)
        return len(rest)

    def _kept(self, lines: list[str]) -> list[str]:
        divert = self.divert
        return lines if divert is None else [line for line in lines if not divert(line)]

    def _add(self, lines: list[str]) -> None:
        self._lines.extend(lines)
        self.received += len(lines)

    def drain(self) -> list[str]:
        """Every waiting line, oldest first; the buffer is empty afterwards."""
        with self._lock:
            lines = list(self._lines)
            self._lines.clear()
        return lines

    @property
    def partial(self) -> str:
        """The stream's unfinished last line so far (not a line yet: it may still grow)."""
        with self._lock:
            return self._splitter.partial

    @property
    def pending(self) -> bool:
        with self._lock:
            return bool(self._lines)

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines)
