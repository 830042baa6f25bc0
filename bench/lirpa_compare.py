"""auto_LiRPA's bounds on networks exported by ``bench/lirpa_export.py`` (``bench/bounds.py
--lirpa PYTHON``, ``bench/smooth.py --lirpa PYTHON``, ``bench/residual.py --lirpa PYTHON``).

Run under another interpreter (one with PyTorch and auto_LiRPA; never needed by the tests):
``PYTHON bench/lirpa_compare.py EXPORT.npz``. The file holds the layers (``layer_i_kind`` in
{'dense', 'conv', 'relu', 'sigmoid', 'tanh', 'flatten', 'add'}, weights already in PyTorch's
layout, a Flatten after convolutions reordered to channels first; ``layer_i_inputs``: the
indices of the layers it reads, -1 the input), the inputs (channels first), the
labels, the balls (``balls``: rows ``(p, eps)``, ``p`` in {inf, 2}) and the methods. For each
ball and method it prints one line ``p eps method width proven seconds``: the mean width of
the logit margins ``z_j - z_true`` (an L-inf ball is clipped to ``[0, 1]``, an L2 ball is
not), the fraction of inputs whose margins are all proven negative, and the time of the call.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def build(data: dict) -> object:
    """The exported network as a PyTorch module: an ``nn.Sequential`` when every layer reads the
    one before it, else a module that evaluates the layers in order, each on its inputs."""
    import torch
    from torch import nn

    simple = {"flatten": nn.Flatten, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    layers: list[nn.Module] = []
    sources: list[list[int]] = []
    for i in range(int(data["layers"])):
        kind = str(data[f"layer_{i}_kind"])
        sources.append([int(k) for k in data.get(f"layer_{i}_inputs", [i - 1])])
        if kind == "add":
            layers.append(nn.Identity())  # a placeholder: Graph sums the inputs
        elif kind in simple:
            layers.append(simple[kind]())
        elif kind == "dense":
            w = torch.tensor(data[f"layer_{i}_w"])
            layer = nn.Linear(w.shape[1], w.shape[0])
            layer.weight.data, layer.bias.data = w, torch.tensor(data[f"layer_{i}_b"])
            layers.append(layer)
        else:
            w = torch.tensor(data[f"layer_{i}_w"])
            stride, pad = (int(v) for v in data[f"layer_{i}_geometry"])
            layer = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=stride, padding=pad)
            layer.weight.data, layer.bias.data = w, torch.tensor(data[f"layer_{i}_b"])
            layers.append(layer)
    if all(s == [i - 1] for i, s in enumerate(sources)):
        return nn.Sequential(*layers).eval()
    adds = [str(data[f"layer_{i}_kind"]) == "add" for i in range(len(layers))]

    class Graph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            values: list[torch.Tensor] = []
            for layer, inputs, add in zip(self.layers, sources, adds):
                args = [x if k < 0 else values[k] for k in inputs]
                values.append(sum(args[1:], args[0]) if add else layer(args[0]))
            return values[-1]

    return Graph().eval()


def specification(y: np.ndarray, classes: int) -> np.ndarray:
    """Rows ``z_j - z_true`` for every ``j != true``: ``(N, classes - 1, classes)``."""
    c = np.zeros((len(y), classes - 1, classes), np.float32)
    for i, label in enumerate(y):
        others = [j for j in range(classes) if j != label]
        c[i, np.arange(classes - 1), others] = 1.0
        c[i, :, label] = -1.0
    return c


def main(path: str) -> None:
    import torch
    from auto_LiRPA import BoundedModule, BoundedTensor, PerturbationLpNorm

    named = BoundedModule._named_members  # 0.3 predates PyTorch's remove_duplicate (a residual add asks it)
    BoundedModule._named_members = lambda self, fn, prefix="", recurse=True, **_: named(self, fn, prefix, recurse)
    data = dict(np.load(path))
    model = build(data)
    x = torch.tensor(data["x"])
    spec = torch.tensor(specification(data["y"], int(data["classes"])))
    if "logits" in data:  # the export is the same network
        with torch.no_grad():
            gap = float(np.abs(model(x).numpy() - data["logits"]).max())
        if gap > 1e-3 * max(1.0, float(np.abs(data["logits"]).max())):
            raise SystemExit(f"the exported network's logits differ from Keras's by {gap:.3g}")
    bounded = BoundedModule(model, torch.empty_like(x), verbose=False)
    for p, eps in data["balls"]:
        if np.isinf(p):
            low, high = torch.clamp(x - float(eps), 0, 1), torch.clamp(x + float(eps), 0, 1)
            ball = BoundedTensor(x, PerturbationLpNorm(norm=float("inf"), eps=float(eps), x_L=low, x_U=high))
        else:
            ball = BoundedTensor(x, PerturbationLpNorm(norm=float(p), eps=float(eps)))
        for method in data["methods"]:
            method = str(method)
            t0 = time.perf_counter()
            try:
                lb, ub = bounded.compute_bounds(x=(ball,), C=spec, method=method)
            except RuntimeError as exc:  # auto_LiRPA 0.3 on a newer PyTorch fails on some calls
                print(f"{p} {float(eps)} {method} nan nan nan ({str(exc).splitlines()[0][:60]})", flush=True)
                # a failed call can leave the module's cached bounds broken for the next one
                # (alpha-CROWN failing at L-inf 0.03 on the deep MLP made CROWN at L2 0.1 fail too)
                bounded = BoundedModule(model, torch.empty_like(x), verbose=False)
                continue
            seconds = time.perf_counter() - t0
            lb, ub = lb.detach().numpy(), ub.detach().numpy()
            proven = float(np.mean((ub < 0).all(axis=1)))
            print(f"{p} {float(eps)} {method} {np.mean(ub - lb):.6f} {proven:.2f} {seconds:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
