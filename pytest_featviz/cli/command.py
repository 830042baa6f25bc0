"""The ``featviz`` command: list a model's layers, render what its units respond to, check a claim.

Exit codes: 0 success, 1 a ``reach`` claim failed (the account is printed), 2 bad
arguments (an unknown layer, a bad ``--channels``, a missing file...): the message
names the bad value and the choices, never a traceback. TensorFlow is imported only
once the arguments have been read. Each subcommand lives in its own module
(:mod:`.layers`, :mod:`.render`, :mod:`.reach`, :mod:`.compare`), with its arguments and what it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import FeatvizError
from . import compare, layers, reach, render, report
from .args import negative_values_attached

__all__ = ["build_parser", "main"]

_EXAMPLES = """examples:
  featviz layers model.keras
  featviz render model.keras --layer conv2d_1 --channels 0:16 --out grid.png
  featviz render model.keras --layer dense --channels 0,3,7 --steps 512 --seed 1 --out units.png
  featviz reach model.keras --class 3 --box 0,1 --at-least 0.9 --out three.png
  featviz reach model.keras --class 3 --box -3,3 --at-least 0.9
  featviz reach model.keras --class 3 --box-file lo_hi.npz --at-least 0.9
  featviz compare old.keras new.keras --layer conv2d_1 --channels 0:16 --out compared/
  featviz report merge shard-1/ shard-2/ -o report.html --summary summary.md
SOURCE is a .keras or .h5 file, a SavedModel directory, or 'package.module:factory'."""


def build_parser() -> argparse.ArgumentParser:
    """The ``featviz`` argument parser: one subparser per command, each set to ``run`` its command."""
    parser = argparse.ArgumentParser(
        prog="featviz",
        description="Look at what a Keras model has learned.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{layers,render,reach,compare,report}")
    for command in (layers, render, reach, compare, report):
        command.add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``featviz`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Examples
    --------
    >>> main(["layers", "no/such/model.keras"])
    2
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = build_parser().parse_args(negative_values_attached(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) and usage errors (2)
        return int(exc.code or 0)
    try:
        return int(args.run(args))
    except (FeatvizError, OSError) as exc:  # configuration mistakes, unreadable or unwritable files
        print(f"featviz {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
