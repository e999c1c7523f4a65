"""The export sheet in a process of its own, for the tests that need a machine the test process cannot be:
a small filesystem (in a private mount namespace) or no llama.cpp installed. `python -m
tests.tui.sheet_probe RUNS_DIR RUN_ID FORMAT [FOLDER]` opens the runs step, presses e, sets the format
(and the folder; $VARIABLES in it are expanded), waits until the sheet has sized the export, and prints what the sheet says."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path


async def probe(runs_dir: Path, run_id: str, fmt: str, folder: str | None) -> str:
    from textual.widgets import Input

    from ftui.app import FtuiApp
    from ftui.widgets.choice import Choice
    from tests.tui.conftest import text_of, wait_until

    app = FtuiApp(runs_dir=runs_dir, start="runs", probe_hardware=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#runs-table").row_count == 1, "the run listed")
        await pilot.press("x")
        await wait_until(pilot, lambda: app.screen.query("#export-format"), "the export sheet")
        await wait_until(pilot, lambda: "Sizing" not in text_of(app.screen.query_one("#export-size")))
        sheet = app.screen
        sheet.query_one("#export-format", Choice).value = fmt
        if folder:
            sheet.query_one("#export-out", Input).value = folder
        await pilot.pause()
        await wait_until(
            pilot,
            lambda: sheet.refusal or sheet.plan is not None,
            "the sheet's sizing",
        )
        return text_of(sheet.query_one("#export-size"))


if __name__ == "__main__":
    runs, run_id, fmt, *rest = sys.argv[1:]
    import os

    folder = os.path.expandvars(rest[0]) if rest else None  # $MNT: the test's small filesystem
    print(asyncio.run(probe(Path(runs), run_id, fmt, folder)))
