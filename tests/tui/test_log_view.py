"""The log view: batched, bounded, and literal about what it shows."""

import threading

from textual.app import App, ComposeResult
from textual.widgets import Static

from ftui.core.line_buffer import LineBuffer
from ftui.widgets.log_view import LogView
from tests.tui.conftest import wait_until


class LogApp(App):
    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = kwargs

    def compose(self) -> ComposeResult:
        yield LogView(**self.kwargs)


async def test_lines_arrive_in_one_batch_per_flush():
    app = LogApp(flush_interval=60)  # the timer never fires: flush by hand
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        log.feed("one\ntwo\nthr")
        assert log.line_count == 0  # nothing drawn until the flush
        log.flush()
        await pilot.pause()
        assert list(log.lines) == ["one", "two"]
        log.feed("ee\n")
        log.flush()
        assert list(log.lines)[-1] == "three"


async def test_the_timer_flushes_without_being_asked():
    app = LogApp(flush_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        log.feed_lines(["from the timer"])
        await wait_until(pilot, lambda: log.line_count > 0, "the timer's flush")
        assert list(log.lines) == ["from the timer"]


async def test_markup_and_escapes_appear_literally_on_screen():
    app = LogApp(flush_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        log.feed("[bold]literal[/bold] \x1b[1;31mred\x1b[0m \x1b]0;title\x07done\n")
        log.flush()
        await pilot.pause()
        row = "".join(segment.text for segment in log.render_line(0))
        assert row.rstrip() == "[bold]literal[/bold] red done"


async def test_memory_is_bounded_by_max_lines():
    app = LogApp(max_lines=100, flush_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        for batch in range(20):
            log.feed("".join(f"line {batch * 1000 + i}\n" for i in range(1000)))
            assert len(log.buffer) <= 100
        log.flush()
        await pilot.pause()
        assert log.line_count == 100
        assert log.lines[-1] == "line 19999"
        assert log.lines_received == 20_000


async def test_threads_feed_a_buffer_the_view_drains_on_the_event_loop():
    app = LogApp(max_lines=10_000, flush_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        buffer = LineBuffer(10_000)
        log.follow(buffer)

        def writer(name: str) -> None:  # a reader thread holds the buffer, never the widget
            for i in range(1000):
                buffer.feed(f"{name} {i}\n")

        threads = [threading.Thread(target=writer, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert log.flush_pending and log.line_count == 0
        log.flush()
        await pilot.pause()
        assert log.line_count == 4000 and log.lines_received == 4000
        assert sorted(log.lines) == sorted(f"t{n} {i}" for n in range(4) for i in range(1000))


async def test_a_growing_log_with_its_scrollbar_shown_costs_no_relayout():
    """LogView.refresh turns the relayout that new lines ask for into a repaint, keeping the scrollbar's
    range itself. This fails if a Textual release stops asking through refresh(layout=True) (the saving
    would be gone silently) or draws the scrollbar from something else than its public reactives."""
    app = LogApp(flush_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        log.feed_lines(f"line {i}" for i in range(100))
        log.flush()
        await wait_until(pilot, lambda: log.show_vertical_scrollbar, "the scrollbar")
        saved = log.layouts_saved
        window = log.vertical_scrollbar.window_size  # as Textual's own layout set it
        log.feed_lines(f"more {i}" for i in range(50))
        log.flush()
        await pilot.pause()
        assert log.layouts_saved == saved + 1
        bar = log.vertical_scrollbar
        assert bar.window_virtual_size == 150 == log.virtual_size.height
        assert bar.window_size == log.scrollable_content_region.height == window
        assert log.scroll_y == log.max_scroll_y == 150 - window  # still following the end
        assert log.lines[-1] == "more 49"


class LogUnderAHead(App):
    def compose(self) -> ComposeResult:
        yield Static("one line", id="head")
        yield LogView(flush_interval=60)


async def test_the_view_keeps_following_when_it_shrinks():
    """A widget above grows (the run's head gets a warning line) and the log loses a row: Textual's Log
    would stop following for good (it follows only from exactly the end)."""
    app = LogUnderAHead()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        log.feed_lines(f"line {i}" for i in range(100))
        log.flush()
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y > 0, "the end")
        height = log.size.height
        app.query_one("#head", Static).update("two\nlines")
        await wait_until(pilot, lambda: log.size.height == height - 1, "the log one row shorter")
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y, "the end in view again")
        log.feed_lines(f"after {i}" for i in range(5))
        log.flush()
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y and log.following


async def test_a_view_scrolled_up_by_the_user_stays_where_it_is():
    app = LogApp(flush_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)
        log.feed_lines(f"line {i}" for i in range(100))
        log.flush()
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y > 0, "the end")
        log.focus()
        await pilot.press("home")  # Log's own key: the top
        await wait_until(pilot, lambda: log.scroll_y == 0, "the top")
        log.feed_lines(["more"])
        log.flush()
        await pilot.pause()
        assert log.scroll_y == 0 and not log.following
        await pilot.press("end")
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y, "the end")
        log.feed_lines(["and more"])
        log.flush()
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y and log.following
