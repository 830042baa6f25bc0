"""``featviz layers SOURCE``: a table of a model's layers, output shapes, activations and featviz targets."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from .args import load_source
from .output import progress, table

__all__ = ["LayerRow", "layer_rows", "add_command"]


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


def run(args: argparse.Namespace) -> int:
    """Print the model's input shape, class count and one row per layer."""
    from ..models import model_info

    with progress(1) as phase:
        phase("loading the model")
        model = load_source(args.source)
        info, rows = model_info(model), layer_rows(model)
    print(f"model {info.name!r}: input shape {info.input_shape}, {info.num_classes} classes")
    shape_text = [f"({', '.join(map(str, r.shape))}{',' if len(r.shape) == 1 else ''})" for r in rows]
    print(
        table(
            ("layer", "class", "output shape", "activation", "targets"),
            [(r.name, r.kind, s, r.activation, r.targets) for r, s in zip(rows, shape_text)],
        )
    )
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``layers`` to the ``featviz`` command's subparsers."""
    layers = sub.add_parser(
        "layers",
        help="table of layers, output shapes, activations and targets",
        epilog="example:\n  featviz layers model.keras",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    layers.add_argument("source", metavar="SOURCE")
    layers.set_defaults(run=run)
