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
        sys.stdout.write((text() if callable(text) else text).rstrip("\n") + "\n")
    sys.stdout.flush()
