"""The `ftui` command. No arguments: open the TUI. A subcommand: run headless (text, or JSON with --json).

Each subcommand lives in ftui/commands/<name>.py and is found here by name, so adding one touches no
other file. Exit codes: 0 ok, 1 failure, 2 bad usage; a user error is one sentence on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from ftui import __version__
from ftui.core.errors import UsageError, UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one sentence, exit 2, as argparse does, minus the usage dump
        self.exit(2, f"ftui: {message[0].upper()}{message[1:]}. Run `{self.prog} --help` for the options.\n")


def _command_modules() -> list:
    import ftui.commands as package

    modules = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            modules.append(importlib.import_module(f"ftui.commands.{info.name}"))
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ftui",
        description="Which model should I fine-tune? Run without arguments for the app; subcommands run headless.",
    )
    parser.add_argument("--version", action="version", version=f"ftui {__version__}")
    parser.add_argument(
        "--runs-dir",
        dest="app_runs_dir",
        metavar="DIR",
        help="for the app (no COMMAND): where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _command_modules():
        module.register(sub)
    return parser


def _sentence(error: Exception) -> str:
    """An error sentence as the terminal gets it: no control sequences, no HF token (it may quote a
    file name, a row or a log line)."""
    from ftui.core.text import mask_secrets, one_line

    return mask_secrets(one_line(str(error)))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from ftui.app import run_app

        return run_app()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if args.command is None and args.app_runs_dir:
            from ftui.app import run_app

            return run_app(runs_dir=args.app_runs_dir)
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        print(f"ftui: {_sentence(error)}", file=sys.stderr)
        return 2
    except UserError as error:
        print(f"ftui: {_sentence(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ftui: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ftui models | head`
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
