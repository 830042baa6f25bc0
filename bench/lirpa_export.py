"""Hand a Keras network to auto_LiRPA (``bench/lirpa_compare.py``, run by another interpreter)
and read its figures back: shared by ``bench/bounds.py`` and ``bench/smooth.py``."""

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


def export_lirpa(
    model: Any,
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    balls: list[tuple[float, float]],
    methods: tuple[str, ...] = ("CROWN", "alpha-CROWN"),
) -> None:
    """Write ``model`` (Flatten/Dense/Conv2D with ReLU, sigmoid or tanh), the inputs ``x``
    (channels last), the labels, the balls ``(p, eps)`` and auto_LiRPA's methods: weights in
    PyTorch's layout, a Flatten after convolutions reordered to channels first."""
    import keras

    out: dict[str, Any] = {}
    layers: list[tuple[str, dict[str, Any]]] = []
    spatial: tuple[int, ...] | None = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.Flatten):
            layers.append(("flatten", {}))
            continue
        if isinstance(layer, keras.layers.Conv2D):
            w, b = layer.get_weights()
            if layer.padding == "same" and (w.shape[0] - layer.strides[0]) % 2:
                raise ValueError(f"{layer.name}: asymmetric 'same' padding has no PyTorch Conv2d equivalent")
            pad = 0 if layer.padding == "valid" else (w.shape[0] - layer.strides[0]) // 2
            layers.append(("conv", {"w": w.transpose(3, 2, 0, 1), "b": b, "geometry": (layer.strides[0], pad)}))
            spatial = tuple(layer.output.shape[1:])
        else:
            w, b = layer.get_weights()
            if spatial is not None:  # the first Dense after convolutions: rows (h, w, c) -> (c, h, w)
                w = w.reshape((*spatial, -1)).transpose(2, 0, 1, 3).reshape(w.shape)
                spatial = None
            layers.append(("dense", {"w": w.T, "b": b}))
        act = _activation(layer, layer is model.layers[-1])
        if act is not None:
            layers.append((act, {}))
    for i, (kind, arrays) in enumerate(layers):
        out[f"layer_{i}_kind"] = kind
        out.update({f"layer_{i}_{k}": np.asarray(v) for k, v in arrays.items()})
    x = np.moveaxis(x, -1, 1) if x.ndim == 4 else x
    np.savez(
        path,
        layers=len(layers),
        x=x.astype(np.float32),
        y=y,
        classes=int(model.outputs[0].shape[-1]),
        balls=np.array(balls, np.float64),
        methods=np.array(methods),
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
) -> dict[tuple[float, float, str], tuple[float, float, float]]:
    """auto_LiRPA's figures on the same weights, run by ``python`` (optional: empty without it):
    ``(p, eps, method) -> (mean width, proven fraction, seconds)``, also printed as a table."""
    if python is None:
        return {}
    path = Path(tempfile.mkdtemp(prefix="lirpa_")) / "export.npz"
    export_lirpa(model, path, x, y, balls, methods)
    script = ROOT / "bench" / "lirpa_compare.py"
    done = subprocess.run([python, "-W", "ignore", str(script), str(path)], capture_output=True, text=True)
    if done.returncode:
        print(f"{name}: auto_LiRPA did not run ({done.stderr.strip().splitlines()[-1:]})")
        return {}
    print(f"{name}: auto_LiRPA (same weights, float32 PyTorch; no rounding model)")
    print(f"  {'ball':>10s} {'run':24s} {'width':>10s} {'proven':>7s} {'s/call':>7s}")
    found = {}
    for line in done.stdout.splitlines():
        p, eps, method, width, proven, seconds, *why = line.split()
        found[(float(p), float(eps), method)] = (float(width), float(proven), float(seconds))
        ball = f"{'Linf' if float(p) == np.inf else 'L2'} {float(eps):g}"
        print(f"  {ball:>10s} {'auto_LiRPA ' + method:24s} {float(width):10.4f} {proven:>7s} {seconds:>7s}", *why)
    return found
