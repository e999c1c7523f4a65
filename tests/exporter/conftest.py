"""The export, chat and eval tests run on the real finished run of tests/conftest.py (`finished_run`,
`sp_model`, `export_runs`: trained once per session by tests/helpers/finished_run.py)."""

from __future__ import annotations

from tests.helpers.finished_run import TRAIN, ftui

__all__ = ["TRAIN", "ftui"]
