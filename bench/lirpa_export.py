"""Hand a Keras network to auto_LiRPA (``bench/lirpa_compare.py``, run by another interpreter)
and read its figures back: shared by ``bench/bounds.py``, ``bench/smooth.py`` and ``bench/residual.py``."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ACTIVATIONS = ("relu", "sigmoid", "tanh")


def _activation(layer: Any, last: bool) -> str | None:
    """The name of ``layer``'s activation (None when linear, or a softmax head: the margins are
    of the logits); an error for one the export lacks."""
    import keras

    act = getattr(layer, "activation", None)
    if act is None or act is keras.activations.linear:
        return None
    name = getattr(act, "__name__", str(act))
    if last and name == "softmax":
        return None
    if name not in ACTIVATIONS:
        raise ValueError(f"{layer.name}: activation {name!r} is not exported; exported are {ACTIVATIONS}")
    return name


def _sources(layer: Any, where: dict[str, int]) -> list[int]:
    """The exported indices of ``layer``'s inputs (-1: the model's input)."""
    tensors = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    return [where.get(t._keras_history.operation.name, -1) for t in tensors]


def export_lirpa(
    model: Any,
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    balls: list[tuple[float, float]],
    methods: tuple[str, ...] = ("CROWN", "alpha-CROWN"),
) -> None:
    """Write ``model`` (Flatten/Dense/Conv2D with ReLU, sigmoid or tanh, ReLU layers and
    residual ``Add``), the inputs ``x`` (channels last), the labels, the balls ``(p, eps)`` and
    auto_LiRPA's methods: weights in PyTorch's layout, a Flatten after convolutions reordered to
    channels first, and per layer the indices of its inputs (``layer_i_inputs``, -1 the model's
    input) in the order of ``model.layers``."""
    import keras

    out: dict[str, Any] = {}
    layers: list[tuple[str, dict[str, Any], list[int]]] = []
    where: dict[str, int] = {}  # a Keras layer's name -> the index of its exported output
    flat_from: dict[int, tuple[int, ...]] = {}  # an exported Flatten -> the spatial shape it flattens
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inputs = _sources(layer, where)
        if isinstance(layer, keras.layers.Flatten):
            layers.append(("flatten", {}, inputs))
            if len(layer.input.shape) == 4:
                flat_from[len(layers) - 1] = tuple(layer.input.shape[1:])
        elif isinstance(layer, keras.layers.Add):
            layers.append(("add", {}, inputs))
        elif isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)):
            relu = isinstance(layer, keras.layers.ReLU) and layer.max_value is None and not layer.negative_slope
            name = "relu" if relu else _activation(layer, False)
            if name is None or (isinstance(layer, keras.layers.ReLU) and not relu):
                raise ValueError(f"{layer.name}: only plain ReLU, sigmoid and tanh layers are exported")
            layers.append((name, {}, inputs))
        elif isinstance(layer, keras.layers.Conv2D):
            w, b = layer.get_weights()
            if layer.padding == "same" and (w.shape[0] - layer.strides[0]) % 2:
                raise ValueError(f"{layer.name}: asymmetric 'same' padding has no PyTorch Conv2d equivalent")
            pad = 0 if layer.padding == "valid" else (w.shape[0] - layer.strides[0]) // 2
            conv = {"w": w.transpose(3, 2, 0, 1), "b": b, "geometry": (layer.strides[0], pad)}
            layers.append(("conv", conv, inputs))
        elif isinstance(layer, keras.layers.Dense):
            w, b = layer.get_weights()
            spatial = flat_from.get(inputs[0])
            if spatial is not None:  # a Dense after a Flatten of convolutions: rows (h, w, c) -> (c, h, w)
                w = w.reshape((*spatial, -1)).transpose(2, 0, 1, 3).reshape(w.shape)
            layers.append(("dense", {"w": w.T, "b": b}, inputs))
        else:
            raise ValueError(f"{layer.name}: {type(layer).__name__} is not exported")
        act = (
            _activation(layer, layer is model.layers[-1])
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
            else None
        )
        if act is not None:
            layers.append((act, {}, [len(layers) - 1]))
        where[layer.name] = len(layers) - 1
    for i, (kind, arrays, inputs) in enumerate(layers):
        out[f"layer_{i}_kind"] = kind
        out[f"layer_{i}_inputs"] = np.array(inputs)
        out.update({f"layer_{i}_{k}": np.asarray(v) for k, v in arrays.items()})
    x_keras = x.astype(np.float32)
    x = np.moveaxis(x, -1, 1) if x.ndim == 4 else x
    np.savez(
        path,
        layers=len(layers),
        x=x.astype(np.float32),
        y=y,
        classes=int(model.outputs[0].shape[-1]),
        balls=np.array(balls, np.float64),
        methods=np.array(methods),
        logits=np.asarray(model(x_keras), np.float32),  # checked against PyTorch's before any bound
        **out,
    )


def run_lirpa(
    name: str,
    model: Any,
    python: str | None,
    x: np.ndarray,
    y: np.ndarray,
    balls: list[tuple[float, float]],
    methods: tuple[str, ...] = ("CROWN", "alpha-CROWN"),
    show: bool = True,
) -> dict[tuple[float, float, str], tuple[float, float, float]]:
    """auto_LiRPA's figures on the same weights, run by ``python`` (optional: empty without it):
    ``(p, eps, method) -> (mean width, proven fraction, seconds)``, also printed as a table (``show``)."""
    if python is None:
        return {}
    path = Path(tempfile.mkdtemp(prefix="lirpa_")) / "export.npz"
    export_lirpa(model, path, x, y, balls, methods)
    script = ROOT / "bench" / "lirpa_compare.py"
    done = subprocess.run([python, "-W", "ignore", str(script), str(path)], capture_output=True, text=True)
    if done.returncode:
        print(f"{name}: auto_LiRPA did not run ({done.stderr.strip().splitlines()[-1:]})")
        return {}
    if show:
        print(f"{name}: auto_LiRPA (same weights, float32 PyTorch; no rounding model)")
        print(f"  {'ball':>10s} {'run':24s} {'width':>10s} {'proven':>7s} {'s/call':>7s}")
    found = {}
    for line in done.stdout.splitlines():
        p, eps, method, width, proven, seconds, *why = line.split()
        found[(float(p), float(eps), method)] = (float(width), float(proven), float(seconds))
        ball = f"{'Linf' if float(p) == np.inf else 'L2'} {float(eps):g}"
        if show:
            print(f"  {ball:>10s} {'auto_LiRPA ' + method:24s} {float(width):10.4f} {proven:>7s} {seconds:>7s}", *why)
    return found
