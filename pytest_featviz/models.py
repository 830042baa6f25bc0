"""Loading models safely, looking up layers, and reading every needed layer in one pass.

TensorFlow and Keras are imported inside the functions, never at module import.
"""

from __future__ import annotations

import importlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import FeatvizTypeError, LayerNotFoundError, ModelLoadError, closest
from .objectives import LOGITS

__all__ = ["load_model", "layer_names", "get_layer", "ModelInfo", "model_info", "FeatureExtractor"]

_SUFFIXES = (".keras", ".h5", ".hdf5")


def load_model(source: Any, *, safe_mode: bool = True) -> Any:
    """Load a Keras model for inspection (never compiled, never trained).

    Parameters
    ----------
    source : str, os.PathLike or keras.Model
        A ``.keras`` file, a legacy ``.h5`` file, a SavedModel directory, a
        ``keras.Model`` (returned as is), or ``"package.module:factory"`` naming a
        callable that returns a model.
    safe_mode : bool
        Refuse files that need arbitrary code to deserialize (``Lambda`` layers).
        Pass ``False`` only for files you trust.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    >>> load_model(m) is m
    True
    """
    import keras

    if isinstance(source, keras.Model):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise FeatvizTypeError(
            f"load_model needs a path, a keras.Model or 'package.module:factory'; got {type(source).__name__}"
        )
    text = os.fspath(source)
    path = Path(text)
    if ":" in text and not path.exists() and not (len(text) > 1 and text[1] == ":"):
        return _from_factory(text)
    if not path.exists():
        raise ModelLoadError(f"model file not found: {text} (resolved to {path.resolve()})")
    if path.is_dir():
        return _from_saved_model(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise ModelLoadError(
            f"cannot load {text}: unknown model format {path.suffix!r}; "
            "use a .keras or .h5 file, a SavedModel directory, or 'package.module:factory'"
        )
    return _from_file(path, safe_mode)


def _from_file(path: Path, safe_mode: bool) -> Any:
    import keras

    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path} is not a valid .keras file: it is not a zip archive (truncated or corrupted?)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as exc:  # Keras raises many types; translate them for people
        text = str(exc)
        if "safe_mode" in text or "unsafe" in text.lower():
            raise ModelLoadError(
                f"{path} was refused: it needs unsafe deserialization (a Lambda layer or other Python "
                "code). Pass safe_mode=False only if you trust this file."
            ) from exc
        raise ModelLoadError(f"{path} could not be loaded ({type(exc).__name__}: {text.splitlines()[0] if text else ''})") from exc


def _from_saved_model(path: Path) -> Any:
    import keras
    import tensorflow as tf

    if not (path / "saved_model.pb").exists():
        raise ModelLoadError(f"{path} is a directory but not a SavedModel (it has no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(path))
        sig = loaded.signatures["serving_default"]
        spec = list(sig.structured_input_signature[1].values())[0]
        layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    except Exception as exc:
        raise ModelLoadError(f"{path} could not be loaded as a SavedModel ({type(exc).__name__}: {exc})") from exc
    inputs = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name)
    out = layer(inputs)
    if isinstance(out, dict):
        out = out[sorted(out)[0]]
    return keras.Model(inputs, out, name=path.name)


def _from_factory(text: str) -> Any:
    import keras

    module_name, _, attr = text.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelLoadError(f"cannot import module {module_name!r} from {text!r}: {exc}") from exc
    if not hasattr(module, attr):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ModelLoadError(f"module {module_name!r} has no attribute {attr!r}{closest(attr, names)}")
    obj = getattr(module, attr)
    model = obj() if callable(obj) and not isinstance(obj, keras.Model) else obj
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"{text!r} gave {type(model).__name__}, not a keras.Model")
    return model


def layer_names(model: Any) -> list[str]:
    """Names of the model's layers, in order.

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    >>> layer_names(m)
    ['head']
    """
    return [layer.name for layer in model.layers]


def get_layer(model: Any, name: str) -> Any:
    """The layer called ``name``, or a ``LayerNotFoundError`` that lists the layers.

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    >>> get_layer(m, "head").name
    'head'
    """
    for layer in model.layers:
        if layer.name == name:
            return layer
    names = layer_names(model)
    raise LayerNotFoundError(
        f"layer {name!r} not found{closest(name, names)}; layers are: {', '.join(names)}"
    )


def _is_softmax(fn: Any) -> bool:
    return getattr(fn, "__name__", "") == "softmax"


def _logits_mode(model: Any) -> str:
    """How to get logits: 'output' (no softmax), 'input' (separate softmax layer) or 'preact'."""
    import keras

    last = model.layers[-1] if model.layers else None
    if last is None:
        return "output"
    if isinstance(last, keras.layers.Softmax):
        return "input"
    if isinstance(last, keras.layers.Activation) and _is_softmax(last.activation):
        return "input"
    if _is_softmax(getattr(last, "activation", None)):
        if isinstance(last, keras.layers.Dense):
            return "preact"
        raise ModelLoadError(
            f"the last layer {last.name!r} ({type(last).__name__}) applies softmax inside itself; "
            "featviz can split it off only for Dense layers. Use ClassProbability, or end the model "
            "with a separate Softmax layer."
        )
    return "output"


@dataclass(frozen=True)
class ModelInfo:
    """What objectives need to validate themselves: layer output shapes and class count."""

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    shapes: dict[str, tuple[int, ...]]

    def output_shape(self, layer: str) -> tuple[int, ...]:
        if layer not in self.shapes:
            names = list(self.shapes)
            raise LayerNotFoundError(
                f"layer {layer!r} not found in model {self.name!r}{closest(layer, names)}; "
                f"layers are: {', '.join(names)}"
            )
        return self.shapes[layer]


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(s) if s is not None else -1 for s in tensor.shape[1:])


def model_info(model: Any) -> ModelInfo:
    """Describe ``model`` for validation (input shape, class count, layer output shapes).

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    >>> model_info(m).num_classes
    2
    """
    if not getattr(model, "inputs", None):
        raise ModelLoadError(
            f"model {model.name!r} has no defined inputs; build it with keras.Input so featviz can "
            "read its input shape"
        )
    shapes = {}
    for layer in model.layers:
        try:
            shapes[layer.name] = _shape(layer.output)
        except (AttributeError, ValueError):
            continue
    out = model.outputs[0]
    return ModelInfo(model.name, _shape(model.inputs[0]), int(out.shape[-1]), shapes)


class _Context:
    """Layer outputs of one forward pass, handed to objectives."""

    def __init__(self, inputs: Any, features: dict[str, Any], logits: Any, output: Any, softmax_out: bool):
        self.inputs = inputs
        self.features = features
        self.logits = logits
        self.output = output
        self._softmax_out = softmax_out

    def probabilities(self) -> Any:
        import tensorflow as tf

        return self.output if self._softmax_out else tf.nn.softmax(self.logits, axis=-1)


class FeatureExtractor:
    """Computes, in one forward pass, every layer output an objective needs, plus logits.

    The user's model is not modified: a second functional model shares its layers.
    """

    def __init__(self, model: Any, layers: frozenset[str]):
        import keras

        self.model = model
        self.mode = _logits_mode(model)
        names = sorted(n for n in layers if n != LOGITS)
        for n in names:
            get_layer(model, n)
        outputs = [model.layers[-1].input if self.mode != "output" else model.outputs[0]]
        outputs.append(model.outputs[0])
        outputs += [get_layer(model, n).output for n in names]
        self.names = names
        self.extractor = keras.Model(model.inputs, outputs, name=f"{model.name}_featviz")

    def __call__(self, x: Any, inputs_for_regularizers: Any = None) -> _Context:
        outs = self.extractor(x, training=False)
        pre, output = outs[0], outs[1]
        if self.mode == "preact":
            last = self.model.layers[-1]
            pre = pre @ last.kernel
            if last.use_bias:
                pre = pre + last.bias
        features = dict(zip(self.names, outs[2:]))
        reg_x = x if inputs_for_regularizers is None else inputs_for_regularizers
        return _Context(reg_x, features, pre, output, self.mode != "output")
