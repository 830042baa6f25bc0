"""``featviz render SOURCE --layer L --out grid.png``: a PNG grid of inputs that maximise a layer's channels (or units)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, cast, get_args

from ..errors import ConfigurationError
from ..priors import Preset
from .args import CHANNELS_HELP, add_search_options, constraint, load_source, parse_channels, png
from .output import progress, table

__all__ = ["resolve_channels", "layer_units", "priors_preset", "add_command"]


def resolve_channels(parts: Sequence[slice | int], count: int, what: str) -> list[int]:
    """The indices ``--channels`` names (parts from :func:`~.args.parse_channels`) among ``count``.

    Examples
    --------
    >>> resolve_channels((slice(0, 2), 5, slice(8, None)), 10, "layer 'conv'")
    [0, 1, 5, 8, 9]
    """
    indices: list[int] = []
    for part in parts:
        if isinstance(part, int):
            chosen = [part]
        else:
            stop = count if part.stop is None else part.stop
            chosen = list(range(part.start or 0, stop, part.step or 1))
            if not chosen:
                raise ConfigurationError(f"--channels range {part.start or 0}:{stop} is empty for {what}")
        bad = [i for i in chosen if i >= count]
        if bad:
            raise ConfigurationError(f"--channels asks for index {bad[0]}, but {what} has {count} (0 to {count - 1})")
        indices += chosen
    return indices


def priors_preset(name: str | None) -> Preset | None:
    """``--priors NAME``: the name of a preset of :mod:`pytest_featviz.priors` (None without the flag).

    Examples
    --------
    >>> priors_preset("standard"), priors_preset(None)
    ('standard', None)
    """
    if name is None:
        return None
    for preset in get_args(Preset):
        if name == preset:
            return cast(Preset, preset)
    raise ConfigurationError(f"--priors {name!r} is not one of {', '.join(map(repr, sorted(get_args(Preset))))}")


def layer_units(model: Any, layer: str, channels: Sequence[slice | int] | None) -> tuple[Any, list[int], bool]:
    """The objective over the ``--channels`` of ``layer`` (default: its first 16), their indices, and
    whether they are channels of a feature map (``Channel``) rather than units of a vector (``Neuron``)."""
    from ..models import model_info
    from ..objectives import Channel, Neuron

    shape = model_info(model).output_shape(layer)
    conv = len(shape) >= 2
    count = shape[-1] if conv else shape[0]
    indices = resolve_channels(
        channels or (slice(0, min(16, count)),), count, f"layer {layer!r} (output shape {shape})"
    )
    return (Channel(layer, indices) if conv else Neuron(layer, indices)), indices, conv


def run(args: argparse.Namespace) -> int:
    """Ascend the chosen channels (or units) of ``--layer``, write their grid to ``--out`` and print the values."""
    import pytest_featviz as fv

    from ..render import save_png

    preset, box = priors_preset(args.priors), constraint(args)
    with progress(3) as phase:
        phase("loading the model")
        model = load_source(args.source)
        objective, indices, conv = layer_units(model, args.layer, args.channels)
        phase(f"ascending {len(indices)} {'channels' if conv else 'units'} x {args.steps} steps")
        r = fv.ascend(model, objective, constraints=box, steps=args.steps, seed=args.seed, priors=preset)
        phase("writing the grid")
        labels = [f"{'ch' if conv else 'unit'} {i}: {v:.3g}" for i, v in zip(indices, r.values)]
        path = save_png(args.out, r, labels=labels)  # over r.value_range: the box
    print(f"{objective!r} inside {box!r}: {args.steps} steps, seed {args.seed}")
    print(table(("index", "value"), [(str(i), f"{v:.6g}") for i, v in zip(indices, r.values)]))
    print(f"wrote {path}")
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``render`` to the ``featviz`` command's subparsers."""
    render = sub.add_parser(
        "render",
        help="a PNG grid of inputs that maximise channels (or units) of a layer",
        epilog="examples:\n  featviz render model.keras --layer conv2d_1 --channels 0:16 --out "
        "grid.png\n  featviz render model.keras --layer dense --channels 0,3 --priors standard "
        "--out g.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_argument("source", metavar="SOURCE")
    render.add_argument(
        "--layer",
        required=True,
        help="layer name, or path inside a nested model such as base/conv (see `featviz layers`)",
    )
    render.add_argument(
        "--channels",
        type=parse_channels,
        default=None,
        help=f"channels of a conv layer, units of a dense layer: {CHANNELS_HELP}; default 0:16",
    )
    render.add_argument("--priors", default=None, help="image priors preset, e.g. 'standard' (default: none)")
    render.add_argument("--out", required=True, type=png, help="the PNG file to write")
    add_search_options(render)
    render.set_defaults(run=run)
