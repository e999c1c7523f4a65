"""The log tail of a run: untrusted text, shown plainly, fast enough for a chatty trainer.

Writing line by line into a Log costs a refresh per line (20,000 lines take seconds); here lines wait in a
bounded buffer and go to the screen in one `write_lines` every `flush_interval` seconds. The buffer and
the widget both keep at most `max_lines`, so a run of a million lines holds only the tail in memory.
`feed` may be called from a worker thread: the tail reader splits and cleans lines off the event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from textual.widgets import Log

from ftui.widgets.plain_text import LineSplitter, strip_control


class LogView(Log):
    DEFAULT_CSS = """
    LogView {
        height: 1fr;
        min-height: 3;
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self,
        max_lines: int = 2000,
        flush_interval: float = 0.1,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(
            highlight=False, max_lines=max_lines, auto_scroll=True, name=name, id=id, classes=classes
        )
        self.flush_interval = flush_interval
        self._pending: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._splitter = LineSplitter()
        self.lines_received = 0  # everything fed so far, shown or dropped for the bound

    def on_mount(self) -> None:
        self.set_interval(self.flush_interval, self.flush)

    def feed(self, chunk: str) -> None:
        """Raw text from the stream (partial lines, \\r, escape sequences and all). Thread-safe."""
        with self._lock:
            lines = self._splitter.feed(chunk)
            self._pending.extend(lines)
            self.lines_received += len(lines)

    def feed_lines(self, lines: Iterable[str]) -> None:
        """Whole lines, cleaned here. Thread-safe."""
        clean = [strip_control(line).replace("\n", " ") for line in lines]
        with self._lock:
            self._pending.extend(clean)
            self.lines_received += len(clean)

    def end_of_stream(self) -> None:
        """The stream is over: its unfinished last line is a line too."""
        with self._lock:
            rest = self._splitter.flush()
            self._pending.extend(rest)
            self.lines_received += len(rest)

    def flush(self) -> None:
        """Move the buffered lines onto the screen in one write (called by the timer)."""
        with self._lock:
            if not self._pending:
                return
            lines = list(self._pending)
            self._pending.clear()
        self.write_lines(lines)

    def clear(self) -> LogView:
        with self._lock:
            self._pending.clear()
            self._splitter = LineSplitter()
        super().clear()
        return self
