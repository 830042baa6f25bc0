"""Calibrate the regression gate: each comparison's number under harmless and real model changes.

Run from the repository root: ``.venv/bin/python bench/calibrate_gates.py [--steps 128] [--no-retrain]``.
It prints the markdown table of the README's "Regression gates" section.

For each shipped model (``examples/models/``: digits MLP, digits CNN, texture CNN) and two
gates (the units of a hidden layer, and the class logits) it captures a baseline of v1
(``ascend`` in ``Box(0, 1)``, seed 0, with ``model=`` so the reference activations are
stored), then runs the same ascent on each v2 and compares by every comparison:

(a) ``same``: the same model re-run;
(b) ``noise 1e-6`` ... ``1e-4``: Gaussian noise of that standard deviation added to every weight;
(c) ``xla flipped``: the ascent compiled the other way (``jit_compile``), and ``float64``: the
    model evaluated in float64;
(d) ``retrain``: the shipped training recipe (``examples/train_models.py``) from seed 1;
(e) ``unit replaced``: one unit's incoming weights redrawn; ``head swap``: two classes of the last
    Dense layer swapped; ``feature destroyed``: fine-tuning that silences one unit on the data.

Each cell is the worst item: the lowest cross-activation, similarity and SSIM, the largest
relative value change; ``gate`` is the verdict of the default behavioural gate.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models"
HARMLESS = ("same", "noise 1e-6", "noise 1e-5", "noise 1e-4", "xla flipped", "float64")
CHANGES = ("unit replaced", "head swap", "feature destroyed")


@dataclass(frozen=True)
class Spec:
    """A shipped model: its file, test data, the hidden layer of the units gate, the unit that changes."""

    file: str
    data: str
    layer: str
    units: int  # the units gate covers units 0..units-1 of layer
    changed_unit: int
    head: str  # the last Dense layer
    channel_axis: bool

    def unit_objective(self) -> Any:
        import pytest_featviz as fv

        kind = fv.Channel if self.layer.startswith("conv") else fv.Neuron
        return kind(self.layer, list(range(self.units)))


SPECS = {
    "digits_mlp": Spec("digits_mlp.keras", "digits_test.npz", "dense_1", 16, 1, "dense_2", False),
    "digits_cnn": Spec("digits_cnn.keras", "digits_test.npz", "conv2", 16, 1, "logits", True),
    "textures_cnn": Spec("textures_cnn.keras", "textures_test.npz", "conv2", 8, 1, "probs", True),
}


def load(name: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """The shipped model and its test split (inputs in [0, 1], with the channel axis where the model has one)."""
    import pytest_featviz as fv

    spec = SPECS[name]
    with np.load(MODELS / spec.data) as data:
        x, y = data["x_test"].astype(np.float32) / 255.0, data["y_test"]
    return fv.load_model(MODELS / spec.file), (x[..., None] if spec.channel_axis else x), y


def clone(model: Any, weights: list[np.ndarray] | None = None, dtype: str | None = None) -> Any:
    """A copy of ``model`` with ``weights`` (default: its own), its layers computing in ``dtype`` when given."""
    import keras

    def layer_copy(layer: Any) -> Any:
        config = layer.get_config()
        config.pop("kernel_constraint", None)  # training-only (the texture recipe's zero-mean filters)
        if dtype is not None:
            config["dtype"] = dtype
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=layer_copy)
    copy.set_weights(model.get_weights() if weights is None else weights)
    return copy


def noisy(model: Any, std: float, seed: int = 0) -> list[np.ndarray]:
    """``model``'s weights with Gaussian noise of standard deviation ``std`` added to each."""
    rng = np.random.default_rng(seed)
    return [w + rng.normal(0.0, std, w.shape).astype(w.dtype) for w in model.get_weights()]


def unit_replaced(model: Any, layer: str, unit: int, seed: int = 0) -> Any:
    """``unit``'s incoming weights redrawn from a normal distribution with the layer's spread."""
    copy = clone(model)
    target = copy.get_layer(layer)
    kernel = target.kernel.numpy()
    kernel[..., unit] = np.random.default_rng(seed).normal(0.0, kernel.std(), kernel[..., unit].shape)
    target.kernel.assign(kernel)
    return copy


def head_swapped(model: Any, head: str, a: int = 0, b: int = 1) -> Any:
    """Classes ``a`` and ``b`` swapped in the last Dense layer (its kernel columns and bias entries)."""
    copy = clone(model)
    dense = copy.get_layer(head)
    order = np.arange(dense.kernel.shape[-1])
    order[[a, b]] = order[[b, a]]
    dense.kernel.assign(dense.kernel.numpy()[:, order])
    dense.bias.assign(dense.bias.numpy()[order])
    return copy


def feature_destroyed(model: Any, layer: str, unit: int, x: np.ndarray, y: np.ndarray, steps: int = 150) -> Any:
    """Fine-tune on ``(x, y)`` with cross-entropy plus a penalty on ``unit``'s activation: the unit goes silent."""
    import keras
    import tensorflow as tf

    copy = clone(model)
    probe = keras.Model(copy.inputs, [copy.get_layer(layer).output, copy.outputs[0]])
    opt = keras.optimizers.Adam(1e-3)
    rng = np.random.default_rng(0)

    @tf.function  # one trace: 150 eager steps took most of this function's 9 s
    def step(xb: Any, yb: Any) -> None:
        with tf.GradientTape() as tape:
            acts, probs = probe(xb, training=True)
            loss = keras.losses.sparse_categorical_crossentropy(yb, probs)
            loss = tf.reduce_mean(loss) + 10.0 * tf.reduce_mean(acts[..., unit])
        grads = tape.gradient(loss, copy.trainable_variables)
        opt.apply_gradients(zip(grads, copy.trainable_variables))

    for _ in range(steps):
        batch = rng.choice(len(x), 64, replace=False)
        step(tf.constant(x[batch]), tf.constant(y[batch]))
    return copy


def retrained(name: str, seed: int = 1) -> Any:
    """The shipped training recipe (``examples/train_models.py``) from another seed, kept in memory."""
    import keras

    path = ROOT / "examples" / "train_models.py"
    recipe = importlib.util.module_from_spec(spec := importlib.util.spec_from_file_location("train_models", path))
    spec.loader.exec_module(recipe)  # type: ignore[union-attr]
    recipe.SEED = seed
    if name == "textures_cnn":
        x_codes, y, _, _ = recipe.texture_split()
        x, build, epochs, lr = x_codes[..., None] / 255.0, recipe._textures_cnn, 10, 3e-3
    else:
        codes, labels = recipe.digits_28()
        train, _ = recipe.digits_split(labels)
        x, y = codes[train].astype(np.float32) / 255.0, labels[train]
        build, epochs, lr = (recipe._digits_mlp, 60, 3e-4) if name == "digits_mlp" else (recipe._digits_cnn, 15, 2e-3)
        x = x if name == "digits_mlp" else x[..., None]
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy")
    model.fit(x.astype(np.float32), y, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    return clone(model)  # without the training-only kernel constraint's state


@dataclass(frozen=True)
class Variant:
    """A v2: its weights (``None``: v1's own), whether its layers compute in float64, extra ``ascend`` options."""

    weights: list[np.ndarray] | None = None
    float64: bool = False
    options: dict = field(default_factory=dict)


def variants(name: str, model: Any, x: np.ndarray, y: np.ndarray, retrain: bool) -> dict[str, Variant]:
    """v2 models by case name, built in memory from the shipped v1 (see :class:`Models` for how they run)."""
    spec = SPECS[name]
    found = {"same": Variant()}
    for std in (1e-6, 1e-5, 1e-4):
        found[f"noise {std:.0e}".replace("e-0", "e-")] = Variant(noisy(model, std))
    found["xla flipped"] = Variant(options={"jit_compile": True})  # the default is no XLA
    found["float64"] = Variant(float64=True)
    if retrain:
        found["retrain"] = Variant(retrained(name).get_weights())
    found["unit replaced"] = Variant(unit_replaced(model, spec.layer, spec.changed_unit).get_weights())
    found["head swap"] = Variant(head_swapped(model, spec.head).get_weights())
    found["feature destroyed"] = Variant(feature_destroyed(model, spec.layer, spec.changed_unit, x, y).get_weights())
    return found


class Models:
    """The model a :class:`Variant` runs as: v1 itself when its weights are v1's and it computes in float32;
    otherwise one float32 (and one float64) copy of v1 that takes each variant's weights in turn. Every v2 is
    the same architecture, so each copy's ascent loop is traced once instead of once per case (weights are
    variables that a traced loop reads when it runs)."""

    def __init__(self, v1: Any) -> None:
        self.v1, self.copies = v1, {False: clone(v1), True: clone(v1, dtype="float64")}

    def __call__(self, variant: Variant) -> Any:
        if variant.weights is None and not variant.float64:
            return self.v1
        copy = self.copies[variant.float64]
        copy.set_weights(self.v1.get_weights() if variant.weights is None else variant.weights)
        return copy


def gates(name: str, model: Any, priors: bool = False) -> dict[str, tuple[Any, dict]]:
    """The gates: objective and ``ascend`` options. The hidden layer's units, every class logit, and
    (``priors``) the units visualized with the ``'standard'`` priors, whose pictures SSIM can compare."""
    import pytest_featviz as fv
    from pytest_featviz.models import model_info

    classes = model_info(model).num_classes
    units = SPECS[name].unit_objective()
    found = {"units": (units, {}), "classes": (fv.ClassLogit(list(range(classes))), {})}
    return {**found, "units, priors": (units, {"priors": "standard"})} if priors else found


def run_gate(v1: Any, v2: Any, objective: Any, steps: int, options: dict, baseline: Any = None) -> Any:
    """Compare v2's ascent with v1's baseline by every comparison, and with the default gate.

    ``options`` go to both ascents, except ``jit_compile`` (v2's only)."""
    import pytest_featviz as fv
    from pytest_featviz import baselines

    box = fv.Box(0.0, 1.0)
    if baseline is None:
        first = {k: v for k, v in options.items() if k != "jit_compile"}
        r1 = fv.ascend(v1, objective, constraints=box, steps=steps, seed=0, **first)
        baseline = baselines.capture(r1, model=v1)
    r2 = fv.ascend(v2, objective, constraints=box, steps=steps, seed=0, **options)
    every = ("cross", "cross_back", "similarity", "values", "ssim")
    c = baselines.compare(r2, baseline, model=v2, old_model=v1, checks=every)
    return c, baselines.compare(r2, baseline, model=v2), baseline


def worst(c: Any, default: Any) -> dict[str, float]:
    """The worst item of each comparison of ``c`` (lowest cross-activations, similarity and SSIM; largest value
    change) and ``gate``: whether ``default``, the comparison with the default gate, passed."""
    out = {k.name: float(np.nanmin(k.numbers) if k.at_least else np.nanmax(k.numbers)) for k in c.checks}
    out["gate"] = default.passed
    return out


def measure(
    names: list[str], steps: int, retrain: bool, priors: bool, wanted: Callable[[str, str], bool] | None = None
) -> list[tuple[str, str, str, dict]]:
    """One row per model, gate and case (``wanted(gate, case)``: which ones; default all)."""
    rows = []
    for name in names:
        model, x, y = load(name)
        cases, as_model = variants(name, model, x, y, retrain), Models(model)
        for gate, (objective, gate_options) in gates(name, model, priors).items():
            baseline = None
            for case, variant in cases.items():
                if wanted is not None and not wanted(gate, case):
                    continue
                options = {**gate_options, **variant.options}
                c, default, baseline = run_gate(model, as_model(variant), objective, steps, options, baseline)
                rows.append((name, gate, case, worst(c, default)))
                print(f"{name:13} {gate:8} {case:18} {rows[-1][3]}", file=sys.stderr, flush=True)
    return rows


def table(rows: list[tuple[str, str, str, dict]]) -> str:
    cols = ("cross", "cross_back", "similarity", "values", "ssim")
    lines = [
        "| model | gate | case | cross | cross back | similarity | value change | SSIM (not judged) | default gate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, gate, case, w in rows:
        cells = [f"{w[k]:.4g}" if k in w else "-" for k in cols]
        verdict = "pass" if w["gate"] else "**fail**"
        lines.append(f"| {name} | {gate} | {case} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines)


def settings(model: Any, steps: int) -> dict[str, dict]:
    """Visualization settings whose pictures :func:`stability` compares: ``ascend`` options each."""
    from pytest_featviz.models import model_info

    grey = np.full((1, *model_info(model).input_shape), 0.5, dtype=np.float32)
    return {
        f"random start, {steps} steps": {"steps": steps},
        f"random start, {4 * steps} steps": {"steps": 4 * steps},
        f"fixed start (0.5), {steps} steps": {"steps": steps, "start": grey},
        f"fixed start (0.5), {4 * steps} steps": {"steps": 4 * steps, "start": grey},
        f"priors 'standard', {4 * steps} steps": {"steps": 4 * steps, "priors": "standard"},
    }


def _pictures(model: Any, objective: Any, jit: bool, options: dict) -> Any:
    import pytest_featviz as fv

    return fv.ascend(model, objective, constraints=fv.Box(0.0, 1.0), seed=0, jit_compile=jit, **options)


def stability(names: list[str], steps: int) -> list[tuple[str, str, str, float]]:
    """The lowest SSIM of the units' pictures against v1's under each harmless case, per setting."""
    from pytest_featviz import baselines

    rows = []
    for name in names:
        model, x, y = load(name)
        cases = {k: v for k, v in variants(name, model, x, y, retrain=False).items() if k in HARMLESS}
        as_model = Models(model)
        objective, auto = SPECS[name].unit_objective(), False  # the engine's default: no XLA
        for setting, options in settings(model, steps).items():
            if "start" in options:
                options = {**options, "start": np.repeat(options["start"], SPECS[name].units, axis=0)}
            first = baselines.capture(_pictures(model, objective, auto, options))
            for case, variant in cases.items():
                jit = not auto if "jit_compile" in variant.options else auto
                ssim = baselines.compare(_pictures(as_model(variant), objective, jit, options), first).ssim
                rows.append((name, setting, case, float(np.min(ssim))))
                print(name, setting, case, rows[-1][3], file=sys.stderr, flush=True)
    return rows


def stability_table(rows: list[tuple[str, str, str, float]]) -> str:
    cases = list(dict.fromkeys(case for _, _, case, _ in rows))
    lines = ["| model | setting | " + " | ".join(cases) + " |", "|---|---|" + "---|" * len(cases)]
    for key in dict.fromkeys((name, setting) for name, setting, _, _ in rows):
        found = {case: ssim for name, setting, case, ssim in rows if (name, setting) == key}
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(f"{found[c]:.3f}" for c in cases) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(SPECS), choices=list(SPECS))
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--no-retrain", action="store_true", help="leave out case (d), the retrain")
    parser.add_argument("--priors", action="store_true", help="add the units gate visualized with priors")
    parser.add_argument("--stability", action="store_true", help="instead: SSIM of the pictures per setting")
    args = parser.parse_args(argv)
    if args.stability:
        print(stability_table(stability(args.models, args.steps)))
        return 0
    print(table(measure(args.models, args.steps, not args.no_retrain, args.priors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
