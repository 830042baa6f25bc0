"""``featviz compare OLD NEW --layer L``: does the new model's unit still respond to what the old one did?

For a person deciding whether to accept a model: both models ascend the same units from
the same starts, and each unit is judged by the behavioural comparisons of
:func:`pytest_featviz.baselines.compare` (cross-activation both ways, representation
similarity of the layer, best values; picture SSIM is reported, not judged). Prints one
row per unit with every number, its threshold and the verdict; writes the old and the
new pictures to ``--out``. Exit code 1 when a unit fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .args import CHANNELS_HELP, box_pair, load_source, parse_channels, positive, seed
from .render import layer_units, priors_preset, resolve_channels

__all__ = ["add_command"]

_EPILOG = """examples:
  featviz compare v1.keras v2.keras --layer conv2 --channels 0:16 --out compare_out
  featviz compare v1.keras v2.keras --layer logits --match permutation
  featviz compare v1.keras v2.keras --layer dense_1 --channels 0:8 --priors standard --steps 512
--layer logits compares the class logits (channels are classes). Exit code 1 when a unit fails."""


def _number(low: float, high: float) -> Any:
    """An argparse type: a float in ``[low, high]``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a number in [{low:g}, {high:g}]; got {text!r}")
        return value

    return parse


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compare`` subcommand to the ``featviz`` parser's subparsers."""
    from ..baselines import DEFAULT_MIN_CROSS, DEFAULT_MIN_SIMILARITY, DEFAULT_VALUE_RTOL, MATCHES

    p = sub.add_parser(
        "compare",
        help="judge whether a new model's units still respond to what the old model's did",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", metavar="OLD", help="the accepted model (a SOURCE, as for the other commands)")
    p.add_argument("new", metavar="NEW", help="the candidate model")
    p.add_argument("--layer", required=True, help="the layer whose units are compared, or 'logits' for the classes")
    p.add_argument("--channels", type=parse_channels, default=None, help=f"{CHANNELS_HELP}; default 0:16")
    p.add_argument("--box", type=box_pair, default=(0.0, 1.0), metavar="LOW,HIGH", help="the input range (default 0,1)")
    p.add_argument("--steps", type=positive, default=256, help="ascent steps (default 256)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the starting points (default 0)")
    p.add_argument("--priors", default=None, help="image priors preset for both ascents, e.g. 'standard'")
    p.add_argument("--match", choices=MATCHES, default="index", help="pair unit i with unit i, or by assignment")
    p.add_argument("--min-cross", type=_number(-1.0, 1.0), default=DEFAULT_MIN_CROSS, help="default %(default)s")
    p.add_argument(
        "--min-similarity", type=_number(-1.0, 1.0), default=DEFAULT_MIN_SIMILARITY, help="default %(default)s"
    )
    p.add_argument(
        "--value-rtol", type=_number(0.0, float("inf")), default=DEFAULT_VALUE_RTOL, help="default %(default)s"
    )
    p.add_argument("--out", type=Path, default=Path("featviz_compare"), help="folder for old.png and new.png")
    p.set_defaults(run=_cmd_compare)


def _objective(model: Any, layer: str, channels: Any) -> tuple[Any, list[int]]:
    """The objective over the chosen units of ``layer`` (``'logits'``: the classes), and their indices."""
    import pytest_featviz as fv

    from ..models import model_info

    if layer != "logits":
        objective, indices, _ = layer_units(model, layer, channels)
        return objective, indices
    info = model_info(model)
    what = f"the logits of {info.name!r} ({info.num_classes} classes)"
    indices = resolve_channels(channels or (slice(0, min(16, info.num_classes)),), info.num_classes, what)
    return fv.ClassLogit(indices), indices


def _cmd_compare(args: argparse.Namespace) -> int:
    import pytest_featviz as fv

    from .. import baselines
    from ..render import save_png

    options = {"constraints": fv.Box(*args.box), "steps": args.steps, "seed": args.seed}
    options["priors"] = priors_preset(args.priors)
    old, new = load_source(args.old), load_source(args.new)
    objective, indices = _objective(old, args.layer, args.channels)
    _objective(new, args.layer, args.channels)  # the same units must exist in the new model
    r_old, r_new = fv.ascend(old, objective, **options), fv.ascend(new, objective, **options)
    reference = baselines.LOGITS_LAYER if args.layer == "logits" else args.layer
    c = baselines.compare(
        r_new,
        baselines.capture(r_old, model=old, reference=reference),
        model=new,
        old_model=old,
        min_cross=args.min_cross,
        min_similarity=args.min_similarity,
        value_rtol=args.value_rtol,
        match=args.match,
    )
    unit = "class" if args.layer == "logits" else "unit"
    print(f"featviz compare: {objective!r} in {options['constraints']!r}, {args.steps} steps, seed {args.seed}")
    print(f"  old {args.old}\n  new {args.new}")
    print(c.describe(labels=[f"{unit} {i}" for i in indices]) if c.problem is None else c.describe())
    for name, r in (("old", r_old), ("new", r_new)):
        labels = [f"{unit} {i}: {v:.3g}" for i, v in zip(indices, r.values)]
        print(f"wrote {save_png(args.out / f'{name}.png', r, labels=labels)}")
    failed = int(c.failing.sum()) if c.problem is None else len(indices)
    which = ", ".join(f"{k.name} {int(k.failing.sum())}" for k in c.checks if k.failing.any())
    print(f"{'FAIL' if failed else 'pass'}: {failed} of {len(indices)} {unit}s fail" + (f" ({which})" if which else ""))
    return 1 if failed else 0
