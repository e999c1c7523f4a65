"""Argument types for the commands' flags: each one refuses a bad value in one sentence, before any work.

argparse reports a refused value as `ftui: Argument --rows: ...` with exit 2 (cli.py's parser); what a
value means (a count of rows, a size in GiB) is said once here, for every command.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(minimum: int = 1) -> Callable[[str], int]:
    """A whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"takes a whole number of {minimum} or more, not {value}")
        return value

    return parse


def number(
    *, above: float | None = 0.0, at_least: float | None = None, below: float | None = None
) -> Callable[[str], float]:
    """A finite number in a range (nan and inf are refused: no size, rate or count is infinite)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes a number, not {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"takes a finite number, not {text!r}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"takes a number above {above:g}, not {value:g}")
        if at_least is not None and value < at_least:
            raise argparse.ArgumentTypeError(f"takes a number of {at_least:g} or more, not {value:g}")
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(f"takes a number below {below:g}, not {value:g}")
        return value

    return parse


def text(what: str, limit: int = 4096) -> Callable[[str], str]:
    """A non-empty piece of text (a name, a path), without control characters."""

    def parse(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"needs {what}; it is empty")
        if len(value) > limit:
            raise argparse.ArgumentTypeError(f"takes {what} of at most {limit} characters, not {len(value)}")
        if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
            raise argparse.ArgumentTypeError(f"takes {what} without control characters")
        return value

    return parse


COUNT = whole(1)
COUNT_OR_ZERO = whole(0)
GIB = number(above=0.0)
EPOCHS = number(above=0.0)
FRACTION = number(above=None, at_least=0.0, below=1.0)
LEARNING_RATE = number(above=0.0, below=1.0)
SECONDS = number(above=None, at_least=0.0)
