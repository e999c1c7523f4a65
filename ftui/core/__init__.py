"""Plain Python: no Textual import anywhere below this package. The CLI and the TUI both call into it."""
