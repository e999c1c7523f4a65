"""Printing a command's result: JSON with --json (stable field names), readable text otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (fields documented in README.md)")


def emit(args: argparse.Namespace, payload: Any, text: Callable[[], str] | str) -> None:
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        # Text mode shows names, rows and log lines that came from files: made terminal-safe here, in
        # one place, for every command (JSON keeps the data exact).
        from ftui.core.text import mask_secrets, strip_control

        shown = text() if callable(text) else text
        sys.stdout.write(mask_secrets(strip_control(shown)).rstrip("\n") + "\n")
    sys.stdout.flush()
