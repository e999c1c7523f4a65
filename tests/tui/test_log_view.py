"""The log view: batched, bounded, and literal about what it shows."""

import threading

from textual.app import App, ComposeResult

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
            assert len(log._pending) <= 100
        log.flush()
        await pilot.pause()
        assert log.line_count == 100
        assert log.lines[-1] == "line 19999"
        assert log.lines_received == 20_000


async def test_feeding_from_threads_loses_nothing_within_the_bound():
    app = LogApp(max_lines=10_000, flush_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogView)

        def writer(name: str) -> None:
            for i in range(1000):
                log.feed(f"{name} {i}\n")

        threads = [threading.Thread(target=writer, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log.flush()
        await pilot.pause()
        assert log.line_count == 4000
        assert sorted(log.lines) == sorted(f"t{n} {i}" for n in range(4) for i in range(1000))
