"""ftui: which model should I fine-tune? A terminal app that answers, then fine-tunes it."""

__version__ = "0.1.0"
