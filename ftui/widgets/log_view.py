"""The log tail of a run: untrusted text, shown plainly, fast enough for a chatty trainer.

Writing line by line into a Log costs a refresh per line (20,000 lines take seconds); here lines wait in
a LineBuffer (ftui.core.line_buffer) and go to the screen in one `write_lines`, at most `flush_interval`
seconds after the first of them arrived. The buffer and the widget both keep at most `max_lines`, so a
run of a million lines holds only the tail in memory.

A reader thread never touches this widget: it feeds a LineBuffer, and the view drains that buffer on
the event loop (`follow` names the buffer to drain; the run view flushes it once per tick).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.widgets import Log

from ftui.core.line_buffer import LineBuffer


class LogView(Log):
    # Textual's Log has no keys of its own: these are a scrollable container's, so that the keyboard reads
    # back through the log (and End returns to following it).
    BINDINGS = [
        Binding("up", "scroll_up", "Scroll up", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("home", "scroll_home", "Top of the log", show=False),
        Binding("end", "scroll_end", "End of the log", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]
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
        self.buffer = LineBuffer(max_lines)
        """The lines waiting to be drawn; a reader thread may hold and feed it, never the widget."""
        self._writing = False
        self._armed = False  # a flush is due within flush_interval
        self.layouts_saved = 0  # relayouts of the screen that growing the log did not cost
        self.following = True
        """The view shows the end of the log and keeps it in view as lines come (until scrolled away)."""

    def on_mount(self) -> None:
        if self.buffer.pending:
            self._arm()

    @property
    def lines_received(self) -> int:
        """Every line fed to the current buffer, shown or dropped for the bound."""
        return self.buffer.received

    @property
    def flush_pending(self) -> bool:
        """Lines have been fed that are not on the screen yet."""
        return self.buffer.pending

    def follow(self, buffer: LineBuffer) -> None:
        """Clear the log and show the lines of `buffer` from now on (a reader thread feeds it)."""
        self.clear()
        self.buffer = buffer

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

    def feed(self, chunk: str) -> None:
        """Raw text from the stream (partial lines, \\r, escape sequences and all), on the event loop."""
        if self.buffer.feed(chunk):
            self._arm()

    def feed_lines(self, lines: Iterable[str]) -> None:
        """Whole lines, cleaned here, on the event loop."""
        if self.buffer.add(lines):
            self._arm()

    def end_of_stream(self) -> None:
        """The stream is over: its unfinished last line is a line too."""
        if self.buffer.end_of_stream():
            self._arm()

    def flush(self) -> None:
        """Move the buffered lines onto the screen in one write (the armed timer calls it)."""
        lines = self.buffer.drain()
        if lines:
            self.write_lines(lines)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> LogView:
        self.following = self.is_vertical_scroll_end  # (what Log itself decides on before the write)
        self._writing = True
        try:
            super().write_lines(lines, scroll_end)
        finally:
            self._writing = False
        return self

    def on_resize(self) -> None:
        # Log follows the end only from exactly the end: when a widget above grows by a row (the run's
        # head gets a warning line) the log shrinks, the end moves down a row, and it would stop following
        # for good. A log that was following scrolls to the new end.
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        # New lines grow the virtual height, which asks Textual for a relayout of the whole screen: two a
        # second while a run logs, most of the view's CPU. With the vertical scrollbar already shown (more
        # lines keep it shown), nothing else on the screen moves: only the scrollbar's range changes, so
        # it is set here through the scrollbar's public reactives and this widget repaints instead.
        # tests/tui/test_log_view.py fails if a Textual release stops routing the growth through here.
        if layout and self._writing and self.show_vertical_scrollbar and not recompose:
            bar = self.vertical_scrollbar
            bar.window_virtual_size = self.virtual_size.height
            bar.window_size = self.scrollable_content_region.height
            self.layouts_saved += 1
            layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def clear(self) -> LogView:
        self.buffer = LineBuffer(self.buffer.max_lines)
        super().clear()
        return self
