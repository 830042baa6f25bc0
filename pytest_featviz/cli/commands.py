"""The ``featviz`` command: list a model's layers, render what its units respond to, check a claim.

Exit codes: 0 success, 1 a ``reach`` claim failed (the account is printed), 2 bad
arguments (an unknown layer, a bad ``--channels``, a missing file...): the message
names the bad value and the choices, never a traceback. TensorFlow is imported only
once the arguments have been read.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._pytest import context as _context
from ..errors import ConfigurationError, FeatvizError, ModelLoadError
from .args import _BOX_FILE_HELP, _box_file, _cli_remedy, _negative_values_attached

__all__ = ["main", "parse_channels", "LayerRow", "layer_rows"]

_EXAMPLES = """examples:
  featviz layers model.keras
  featviz render model.keras --layer conv2d_1 --channels 0:16 --out grid.png
  featviz render model.keras --layer dense --channels 0,3,7 --steps 512 --seed 1 --out units.png
  featviz reach model.keras --class 3 --box 0,1 --at-least 0.9 --out three.png
  featviz reach model.keras --class 3 --box -3,3 --at-least 0.9
  featviz reach model.keras --class 3 --box-file lo_hi.npz --at-least 0.9
SOURCE is a .keras or .h5 file, a SavedModel directory, or 'package.module:factory'."""
_CHANNELS_HELP = "like 0:16 (end excluded), 8: (to the last), 5, or 0,2,5 (parts may mix: 0:4,9)"


def parse_channels(text: str) -> tuple[slice | int, ...]:
    """Parse ``--channels``: comma-separated indices and ``start:stop[:step]`` ranges (stop excluded).

    Raises ``argparse.ArgumentTypeError`` naming the bad text; the parts are resolved
    against a layer's size by the ``render`` command (an open ``stop`` runs to the end).

    Examples
    --------
    >>> parse_channels("0:4,9")
    (slice(0, 4, None), 9)
    >>> parse_channels("8:")
    (slice(8, None, None),)
    """
    parts: list[slice | int] = []
    try:
        for part in text.split(","):
            fields = [int(f) if f.strip() else None for f in part.split(":")]
            if len(fields) == 1 and fields[0] is not None:
                parts.append(fields[0])
            elif 2 <= len(fields) <= 3:
                parts.append(slice(*fields))
            else:
                raise ValueError(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --channels {text!r}: give indices {_CHANNELS_HELP}") from None
    for part in parts:
        numbers = [part] if isinstance(part, int) else [part.start, part.stop, part.step]
        if any(n is not None and n < 0 for n in numbers) or (isinstance(part, slice) and part.step == 0):
            raise argparse.ArgumentTypeError(f"bad --channels {text!r}: indices and steps must be >= 0 (steps > 0)")
    return tuple(parts)


def _resolve_channels(parts: Sequence[slice | int], count: int, what: str) -> list[int]:
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


def _box(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --box {text!r}: give LOW,HIGH such as 0,1") from None
    if not low < high:
        raise argparse.ArgumentTypeError(f"bad --box {text!r}: LOW must be less than HIGH")
    return low, high


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text!r}")
    return value


def _png(text: str) -> Path:
    """An ``--out`` path: a ``.png`` file whose folder exists or can be made."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"must name a .png file, such as grid.png; got {text!r}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name such as {text.rstrip('/')}/grid.png")
    for folder in path.parents:  # the nearest existing ancestor must be a folder
        if folder.exists():
            if not folder.is_dir():
                raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(folder)!r} is a file, not a folder")
            break
    return path


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="featviz", description="Look at what a Keras model has learned.", epilog=_EXAMPLES, formatter_class=raw
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{layers,render,reach,compare}")
    layers = sub.add_parser(
        "layers",
        help="table of layers, output shapes, activations and targets",
        epilog="example:\n  featviz layers model.keras",
        formatter_class=raw,
    )
    layers.add_argument("source", metavar="SOURCE")
    layers.set_defaults(run=_cmd_layers)

    render = sub.add_parser(
        "render",
        help="a PNG grid of inputs that maximise channels (or units) of a layer",
        epilog="examples:\n  featviz render model.keras --layer conv2d_1 --channels 0:16 --out "
        "grid.png\n  featviz render model.keras --layer dense --channels 0,3 --priors standard "
        "--out g.png",
        formatter_class=raw,
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
        help=f"channels of a conv layer, units of a dense layer: {_CHANNELS_HELP}; default 0:16",
    )
    render.add_argument("--priors", default=None, help="image priors preset, e.g. 'standard' (default: none)")
    render.add_argument("--out", required=True, type=_png, help="the PNG file to write")

    reach = sub.add_parser(
        "reach",
        help="check that ascent reaches a class score inside a box; print the account",
        epilog="examples:\n  featviz reach model.keras --class 3 --box 0,1 --at-least 0.9\n"
        "  featviz reach model.keras --class 3 --logit --at-least 12 --out three.png",
        formatter_class=raw,
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
    reach.add_argument("--restarts", type=_positive, default=1, help="independent starts (default 1)")
    reach.add_argument("--out", type=_png, default=None, help="the PNG to write (default reach_class<K>.png)")
    for command in (render, reach):
        box = command.add_mutually_exclusive_group()
        box.add_argument(
            "--box",
            type=_box,
            default=(0.0, 1.0),
            metavar="LOW,HIGH",
            help="the input range, a Box constraint (default 0,1); negative ends work: --box -3,3",
        )
        box.add_argument("--box-file", type=Path, default=None, metavar="FILE.npz", help=_BOX_FILE_HELP)
        command.add_argument("--steps", type=_positive, default=256, help="ascent steps (default 256)")
        command.add_argument("--seed", type=_seed, default=0, help="seed of the starting points (default 0)")
    render.set_defaults(run=_cmd_render)
    reach.set_defaults(run=_cmd_reach)
    from .compare import add_parser as add_compare

    add_compare(sub, raw)
    return parser


@contextmanager
def _progress(phases: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr over ``phases`` named phases; silent when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("starting", total=phases)
        done = [-1]

        def phase(text: str) -> None:
            progress.update(task, description=text, completed=max(done[0], 0))
            done[0] += 1

        yield phase


def _load(source: str) -> Any:
    if ":" not in source and not Path(source).exists():  # before importing TensorFlow: fail fast
        raise ModelLoadError(f"model file not found: {source} (resolved to {Path(source).resolve()})")
    from .._deps import tensorflow
    from ..models import load_model

    tensorflow()  # a missing TensorFlow: exit 2 with a message naming the fix

    return load_model(source)


@dataclass(frozen=True)
class LayerRow:
    """One line of ``featviz layers``."""

    name: str
    kind: str
    shape: tuple[int, ...]
    activation: str
    targets: str


def _activation(layer: Any) -> str:
    fn = getattr(layer, "activation", None)
    if fn is not None:
        return getattr(fn, "__name__", type(fn).__name__)
    name = type(layer).__name__
    return name.lower() if name in ("ReLU", "Softmax", "LeakyReLU", "ELU", "PReLU") else "-"


def _targets(shape: tuple[int, ...], is_input: bool) -> list[str]:
    if is_input or not shape or any(s < 1 for s in shape):
        return []
    found = [f"Channel 0-{shape[-1] - 1}"] if len(shape) >= 2 else []
    size = 1
    for s in shape:
        size *= s
    return found + [f"Neuron 0-{size - 1}"]


def layer_rows(model: Any) -> list[LayerRow]:
    """Describe each layer: class, output shape (-1 where unknown), activation, featviz targets.

    Layers of nested models (a base model used as a layer) follow the nested model, named by
    path (``base/conv``), as :func:`pytest_featviz.layer_names` lists them.

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    >>> layer_rows(m)[0]
    LayerRow(name='head', kind='Dense', shape=(2,), activation='linear', targets='Neuron 0-1, ClassLogit 0-1')
    """
    import keras

    from ..models import entries, model_info

    info = model_info(model)
    rows = []
    last = model.layers[-1] if model.layers else None
    for name, layer in [(p, layer) for p, layer, _ in entries(model)] or [(la.name, la) for la in model.layers]:
        shape = info.shapes.get(name, ())
        targets = _targets(shape, isinstance(layer, keras.layers.InputLayer))
        if layer is last and "/" not in name:
            targets.append(f"ClassLogit 0-{info.num_classes - 1}")
        rows.append(LayerRow(name, type(layer).__name__, shape, _activation(layer), ", ".join(targets) or "-"))
    return rows


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_layers(args: argparse.Namespace) -> int:
    from ..models import model_info

    with _progress(1) as phase:
        phase("loading the model")
        model = _load(args.source)
        info, rows = model_info(model), layer_rows(model)
    print(f"model {info.name!r}: input shape {info.input_shape}, {info.num_classes} classes")
    shape_text = [f"({', '.join(map(str, r.shape))}{',' if len(r.shape) == 1 else ''})" for r in rows]
    print(
        _table(
            ("layer", "class", "output shape", "activation", "targets"),
            [(r.name, r.kind, s, r.activation, r.targets) for r, s in zip(rows, shape_text)],
        )
    )
    return 0


def _priors_option(name: str | None) -> dict:
    if name is None:
        return {}
    from ..engine import ascend

    if "priors" not in inspect.signature(ascend).parameters:
        raise ConfigurationError(
            f"--priors {name!r} is not supported by this version of pytest_featviz.ascend "
            "(it takes no priors= yet); leave --priors out"
        )
    from ..priors import PRESETS

    if name not in PRESETS:
        raise ConfigurationError(f"--priors {name!r} is not one of {sorted(PRESETS)}")
    return {"priors": name}


def _cmd_render(args: argparse.Namespace) -> int:
    import pytest_featviz as fv

    from ..models import model_info
    from ..render import save_png

    options, box = _priors_option(args.priors), _constraint(args)
    with _progress(3) as phase:
        phase("loading the model")
        model = _load(args.source)
        shape = model_info(model).output_shape(args.layer)
        conv = len(shape) >= 2
        what = f"layer {args.layer!r} (output shape {shape})"
        count = shape[-1] if conv else shape[0]
        indices = _resolve_channels(args.channels or (slice(0, min(16, count)),), count, what)
        objective = fv.Channel(args.layer, indices) if conv else fv.Neuron(args.layer, indices)
        phase(f"ascending {len(indices)} {'channels' if conv else 'units'} x {args.steps} steps")
        r = fv.ascend(model, objective, constraints=box, steps=args.steps, seed=args.seed, **options)
        phase("writing the grid")
        labels = [f"{'ch' if conv else 'unit'} {i}: {v:.3g}" for i, v in zip(indices, r.values)]
        path = save_png(args.out, r, labels=labels)  # over r.value_range: the box
    print(f"{objective!r} inside {box!r}: {args.steps} steps, seed {args.seed}")
    print(_table(("index", "value"), [(str(i), f"{v:.6g}") for i, v in zip(indices, r.values)]))
    print(f"wrote {path}")
    return 0


def _constraint(args: argparse.Namespace) -> Any:
    """The Box of ``--box-file`` when given, else of ``--box``."""
    from ..constraints import Box

    return _box_file(args.box_file) if args.box_file is not None else Box(*args.box)


def _cmd_reach(args: argparse.Namespace) -> int:
    import pytest_featviz as fv

    from ..render import save_png

    out, box = args.out or Path(f"reach_class{args.target}.png"), _constraint(args)
    with _progress(3) as phase:
        phase("loading the model")
        model = _load(args.source)
        objective = (fv.ClassLogit if args.logit else fv.ClassProbability)(args.target)
        phase(f"ascending {args.restarts} start(s) x up to {args.steps} steps")
        ctx = _context.TestContext("featviz reach", args.seed, pictures_to=out)  # the failing inputs go to --out
        try:
            with _context.activate(ctx):  # a picture it cannot write: a note on the failure, printed below
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
            failure = None
            phase("writing the picture")
            labels = [f"{i}: {v:.4g}" for i, v in enumerate(r.values)]
            save_png(out, r, labels=labels)  # over r.value_range: the box
    if failure is not None:
        print(_cli_remedy(failure))
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``featviz`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Examples
    --------
    >>> main(["layers", "no/such/model.keras"])
    2
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = _parser().parse_args(_negative_values_attached(sys.argv[1:] if argv is None else argv))
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
