"""`python -m ftui.trainer RUN_DIR [--resume]`: train the run described by RUN_DIR/config.toml.

ftui's runner starts this detached (its own session, output to RUN_DIR/train.log); it also runs by hand,
which helps when debugging a run: the same command, in the foreground.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftui.trainer", description=__doc__)
    parser.add_argument("run_dir", help="the run directory (holds config.toml)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)
    from ftui.trainer.compat import custom_op_aliasing_is_a_warning

    custom_op_aliasing_is_a_warning()  # before torch is imported
    from ftui.trainer.train import run_training

    return run_training(args.run_dir, resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())
