"""`python -m ftui.exporter RUN_DIR EXPORT_ID`: carry out the export described by
RUN_DIR/exports/EXPORT_ID.json (written by `ftui export`, which starts this detached)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftui.exporter", description=__doc__)
    parser.add_argument("run_dir", help="the run directory")
    parser.add_argument("export_id", help="the export's id (its record is exports/EXPORT_ID.json)")
    args = parser.parse_args(argv)
    from ftui.exporter.job import run_export

    return run_export(Path(args.run_dir).resolve(), args.export_id)


if __name__ == "__main__":
    sys.exit(main())
