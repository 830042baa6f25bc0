"""``featviz reach SOURCE --class K``: check that ascent reaches a class score inside a box; print the account.

The claim is :func:`pytest_featviz.assert_reaches`, run under a
:class:`~pytest_featviz.claims.TestContext` whose ``pictures_to`` is ``--out``: a failing
search's inputs are drawn there, and its account is printed with the command's flags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..claims import TestContext, activate
from .args import add_search_options, cli_remedy, constraint, load_source, png, positive
from .output import progress

__all__ = ["add_command"]


def run(args: argparse.Namespace) -> int:
    """Run the claim; print the account of a failure (exit 1) or what was reached (exit 0)."""
    import pytest_featviz as fv

    from ..render import save_png

    out, box = args.out or Path(f"reach_class{args.target}.png"), constraint(args)
    failure: str | None = None
    with progress(3) as phase:
        phase("loading the model")
        model = load_source(args.source)
        objective = (fv.ClassLogit if args.logit else fv.ClassProbability)(args.target)
        phase(f"ascending {args.restarts} start(s) x up to {args.steps} steps")
        ctx = TestContext("featviz reach", args.seed, pictures_to=out)  # the failing inputs go to --out
        try:
            with activate(ctx):  # a picture it cannot write: a note on the failure, printed below
                r = fv.assert_reaches(
                    model,
                    objective,
                    args.threshold,
                    constraints=box,
                    steps=args.steps,
                    seed=args.seed,
                    restarts=args.restarts,
                )
        except AssertionError as exc:
            failure = str(exc)
        else:
            phase("writing the picture")
            labels = [f"{i}: {v:.4g}" for i, v in enumerate(r.values)]
            save_png(out, r, labels=labels)  # over r.value_range: the box
    if failure is not None:
        print(cli_remedy(failure))
        for path, reason in ctx.unwritten:
            print(f"featviz reach: the picture could not be written to {path} ({reason})", file=sys.stderr)
        return 1
    record = ctx.records[-1]
    print(f"assert_reaches passed: {record.claim} inside {box!r}")
    print(
        f"  best value {record.best_value:.6g} at item {r.best} after {int(r.steps[r.best])} steps "
        f"(seed {args.seed}, {args.restarts} start(s))"
    )
    print(f"  picture: {out}")
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``reach`` to the ``featviz`` command's subparsers."""
    reach = sub.add_parser(
        "reach",
        help="check that ascent reaches a class score inside a box; print the account",
        epilog="examples:\n  featviz reach model.keras --class 3 --box 0,1 --at-least 0.9\n"
        "  featviz reach model.keras --class 3 --logit --at-least 12 --out three.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reach.add_argument("source", metavar="SOURCE")
    reach.add_argument("--class", dest="target", type=int, required=True, help="the class index")
    reach.add_argument(
        "--at-least",
        dest="threshold",
        type=float,
        default=0.9,
        help="the threshold: the class score to reach (default 0.9)",
    )
    reach.add_argument("--logit", action="store_true", help="score the class logit instead of its probability")
    reach.add_argument("--restarts", type=positive, default=1, help="independent starts (default 1)")
    reach.add_argument("--out", type=png, default=None, help="the PNG to write (default reach_class<K>.png)")
    add_search_options(reach)
    reach.set_defaults(run=run)
