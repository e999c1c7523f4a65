"""The log tail of a run: untrusted text, shown plainly, fast enough for a chatty trainer.

Writing line by line into a Log costs a refresh per line (20,000 lines take seconds); here lines wait in a
bounded buffer and go to the screen in one `write_lines`, at most `flush_interval` seconds after the
first of them arrived. The buffer and
the widget both keep at most `max_lines`, so a run of a million lines holds only the tail in memory.
`feed` may be called from a worker thread: the tail reader splits and cleans lines off the event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from textual.message import Message
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
        self._writing = False
        self._armed = False  # a flush is due within flush_interval
        self._thread_id: int | None = None  # the event loop's thread

    def on_mount(self) -> None:
        self._thread_id = threading.get_ident()
        if self._pending:
            self._arm()

    # The flush timer is one-shot, armed by the first line after a flush: lines arriving within
    # flush_interval go to the screen together, and a quiet log costs no timer ticks at all (on a
    # small machine a Textual timer tick costs about a millisecond; ten a second were 3% of a core).

    def _arm(self) -> None:
        if not self._armed and self.is_mounted:
            self._armed = True
            self.set_timer(self.flush_interval, self._timer_flush)

    def _timer_flush(self) -> None:
        self._armed = False
        self.flush()

    class LinesArrived(Message):
        """Lines were fed from a worker thread (post_message is thread-safe; unread ones coalesce)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.LinesArrived)

    def on_log_view_lines_arrived(self, message: LinesArrived) -> None:
        message.stop()
        self._arm()

    def _lines_added(self) -> None:
        if threading.get_ident() == self._thread_id:
            self._arm()
        elif self._thread_id is not None and not self._armed:
            self.post_message(self.LinesArrived())

    def feed(self, chunk: str, *, flush_soon: bool = True) -> None:
        """Raw text from the stream (partial lines, \\r, escape sequences and all). Thread-safe.

        flush_soon=False: the caller calls `flush()` itself shortly (the run view does, in the frame that
        also draws the progress and the chart), so no flush timer is armed."""
        with self._lock:
            lines = self._splitter.feed(chunk)
            self._pending.extend(lines)
            self.lines_received += len(lines)
        if lines and flush_soon:
            self._lines_added()

    def feed_lines(self, lines: Iterable[str]) -> None:
        """Whole lines, cleaned here. Thread-safe."""
        clean = [strip_control(line).replace("\n", " ") for line in lines]
        with self._lock:
            self._pending.extend(clean)
            self.lines_received += len(clean)
        if clean:
            self._lines_added()

    def end_of_stream(self) -> None:
        """The stream is over: its unfinished last line is a line too."""
        with self._lock:
            rest = self._splitter.flush()
            self._pending.extend(rest)
            self.lines_received += len(rest)
        if rest:
            self._lines_added()

    @property
    def flush_pending(self) -> bool:
        """Lines have been fed that are not on the screen yet."""
        with self._lock:
            return bool(self._pending)

    def flush(self) -> None:
        """Move the buffered lines onto the screen in one write (the armed timer calls it)."""
        with self._lock:
            if not self._pending:
                return
            lines = list(self._pending)
            self._pending.clear()
        self.write_lines(lines)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> LogView:
        self._writing = True
        try:
            super().write_lines(lines, scroll_end)
        finally:
            self._writing = False
        return self

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):  # type: ignore[no-untyped-def]
        # New lines grow the virtual height, which asks Textual for a relayout of the whole screen: two a
        # second while a run logs, most of the view's CPU. With the vertical scrollbar already shown, only
        # the scrollbar's range changes: update it and repaint this widget instead.
        if layout and self._writing and self.show_vertical_scrollbar and not recompose:
            self._scroll_update(self.virtual_size)
            if self.show_vertical_scrollbar:  # still there: no other widget moves
                layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def clear(self) -> LogView:
        with self._lock:
            self._pending.clear()
            self._splitter = LineSplitter()
        super().clear()
        return self
