"""Head detection: how a model's output relates to its logits.

A model may end with its logits, with a separate softmax/sigmoid layer (the logits are
that layer's input) or with a Dense layer whose activation squashes (the logits are its
pre-activation); any other squashing head hides the logits, and :class:`Head` says why.
A SavedModel (a ``TFSMLayer``) has no layers to look at: its head is read from the last
operation of its graph, or declared when it is loaded (:data:`Outputs`), never guessed.
TensorFlow and Keras are imported inside the functions, never at module import.

Examples
--------
>>> import numpy as np
>>> _squash_of(lambda z: 1.0 / (1.0 + np.exp(-z)))
'sigmoid'
>>> _squash_of(np.tanh) is None
True
>>> import keras
>>> _head(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax", name="out")]))
Head(squash='softmax', mode='preact', problem='', layer='out')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from ..errors import ConfigurationError

Squash = Literal["softmax", "sigmoid", "probabilities", "none", "unknown"]
"""What a model's head does to its logits (see :class:`Head`)."""
LogitsMode = Literal["output", "input", "preact"]
"""Where a model's logits are (see :class:`Head`)."""
Outputs = Literal["auto", "logits", "probabilities"]
"""What a SavedModel's output is (``load_model(outputs=...)``): read from its graph, or declared."""
OUTPUTS: tuple[Outputs, ...] = get_args(Outputs)


def _squash_of(fn: Any) -> Literal["softmax", "sigmoid"] | None:
    """'softmax' or 'sigmoid' when ``fn`` computes one (over the last axis), else ``None``.

    Known functions are recognised by name (``tf.nn.softmax`` is ``softmax_v2``); any other
    callable is probed on a small tensor, so wrappers such as ``lambda z: tf.nn.softmax(z)``
    are recognised too.
    """
    import numpy as np

    name = getattr(fn, "__name__", "")
    if name in ("softmax", "softmax_v2"):
        return "softmax"
    if name == "sigmoid":
        return "sigmoid"
    if not callable(fn) or name in ("linear", "relu", "tanh", "elu", "gelu", "swish", "silu", "softplus"):
        return None
    z = np.linspace(-2.0, 3.0, 10, dtype="float32").reshape(2, 5)
    try:
        out = np.asarray(fn(z), dtype="float64")
    except Exception:  # an activation that cannot run on a plain tensor: not recognisable
        return None
    e = np.exp(z - z.max(-1, keepdims=True))
    if out.shape == z.shape and np.allclose(out, e / e.sum(-1, keepdims=True), atol=1e-6):
        return "softmax"
    if out.shape == z.shape and np.allclose(out, 1.0 / (1.0 + np.exp(-z)), atol=1e-6):
        return "sigmoid"
    return None


@dataclass(frozen=True)
class Head:
    """How a model's output relates to its logits.

    ``squash`` is 'softmax', 'sigmoid', 'probabilities' (declared probabilities, by a
    function featviz does not know), 'none' (the output is the logits) or 'unknown' (a
    SavedModel whose output featviz cannot classify: class objectives are refused);
    ``mode`` says where the logits are: 'output', 'input' (the input of a separate last
    softmax/sigmoid layer) or 'preact' (the pre-activation of a last Dense layer); ``None``
    when they cannot be recovered, and ``problem`` then says why. ``layer`` is the path of
    the layer that computes the output (inside nested models: ``"base/predictions"``); in
    modes 'input' and 'preact' the logits are read from its call in the model's own graph.
    """

    squash: Squash
    mode: LogitsMode | None
    problem: str = ""
    layer: str = ""

    def logits_mode(self) -> LogitsMode:
        """:attr:`mode`; a ``ConfigurationError`` saying why and what to do when it is ``None``."""
        if self.mode is None:
            raise ConfigurationError(f"{self.problem}. {_UNKNOWN_FIX if self.squash == 'unknown' else _LOGITS_FIX}")
        return self.mode

    def check_probabilities(self) -> None:
        """A ``ConfigurationError`` saying why and what to do when the output's meaning is unknown."""
        if self.squash == "unknown":
            raise ConfigurationError(f"{self.problem}. {_UNKNOWN_FIX}")


def _head(model: Any) -> Head:
    """Find the output head of a single-output model (see :class:`Head`).

    The head is the layer that computes the output, also when it sits inside a nested
    model (a base model used as a layer), found in the model's own graph.
    """
    import keras

    from .graph import output_layer

    if not model.layers:
        return Head("none", "output")
    path, last = output_layer(model)
    if isinstance(last, keras.layers.TFSMLayer):
        return saved_model_head(last, path)
    if isinstance(last, keras.layers.Softmax):
        return Head("softmax", "input", "", path)
    if isinstance(last, keras.layers.Activation):
        squash = _squash_of(last.activation)
        return Head(squash, "input", "", path) if squash else Head("none", "output", "", path)
    if isinstance(last, keras.Model):  # a model featviz cannot look inside (subclassed)
        inner = _head(last) if getattr(last, "inputs", None) else Head("none", "output")
        if inner.squash == "none":
            return Head("none", "output", "", path)
        return Head(
            inner.squash,
            None,
            (
                f"the model ends with the nested model {last.name!r}, which applies {inner.squash} inside "
                "itself; featviz cannot recover the logits from it"
            ),
            path,
        )
    squash = _squash_of(getattr(last, "activation", None))
    if squash is None:
        return Head("none", "output", "", path)
    if isinstance(last, keras.layers.Dense):
        return Head(squash, "preact", "", path)
    return Head(
        squash,
        None,
        (
            f"the last layer {path!r} ({type(last).__name__}) applies {squash} inside itself; featviz "
            "cannot recover the logits from it (only from a Dense layer)"
        ),
        path,
    )


def logits_mode(model: Any) -> LogitsMode:
    """How to get logits from the top-level layers: 'output', 'input' (separate layer) or 'preact'.

    For readers of the model's top-level layers (``fv.bounds``): raises ``ConfigurationError``
    when the logits cannot be recovered, or sit inside a nested model (the feature extractor
    reads those by path; see :class:`Head`).
    """
    head = _head(model)
    mode = head.logits_mode()
    if mode != "output" and "/" in head.layer:
        raise ConfigurationError(
            f"the output head {head.layer!r} sits inside the nested model {head.layer.split('/')[0]!r}; "
            "the logits are read here only from a top-level layer. Rebuild the model flat (list the "
            "nested model's layers in the outer model)"
        )
    return mode


_LOGITS_FIX = (
    "Use ClassProbability (it reads the output itself), or end the model with a Dense layer "
    "followed by a separate Activation('softmax') or Softmax layer"
)
_UNKNOWN_FIX = (
    "Say what the output is when loading it: fv.load_model(path, outputs='probabilities') (ClassProbability "
    "then reads the output itself; ClassLogit is refused) or outputs='logits'; or export the model from "
    "Keras with its last Dense layer's activation (or a Softmax layer) in the graph"
)
# Operations whose output is an affine function of their input: a SavedModel ending with one outputs logits.
_AFFINE_OPS = ("MatMul", "BatchMatMulV2", "BiasAdd", "Einsum")
_SQUASH_OPS: dict[str, Squash] = {"Softmax": "softmax", "Sigmoid": "sigmoid"}


def saved_model_head(layer: Any, path: str) -> Head:
    """The head of a SavedModel layer: declared (``layer._featviz_outputs``, set by ``load_model``), else read
    from the last operation of its graph; ``'unknown'`` where neither says what the output is."""
    declared = getattr(layer, "_featviz_outputs", "auto")
    last = last_op(layer)
    seen: Squash | None = _SQUASH_OPS.get(last or "") or ("none" if last in _AFFINE_OPS else None)
    lost = f"the SavedModel layer {path!r} applies {{}} inside its graph; featviz cannot recover the logits from it"
    if declared != "auto":
        said: Squash = "none" if declared == "logits" else "probabilities"
        if seen is not None and (seen == "none") != (said == "none"):
            raise ConfigurationError(
                f"outputs={declared!r} was given, but the SavedModel's graph ends with the operation {last!r}, "
                f"whose output {'is not' if seen == 'none' else 'is'} probabilities; leave outputs='auto'"
            )
        seen = said if seen is None else seen
    if seen == "none":
        return Head("none", "output", "", path)
    if seen is not None:
        return Head(seen, None, lost.format(seen if seen != "probabilities" else "a squashing function"), path)
    what = f"the operation {last!r}" if last else "an operation featviz cannot read"
    return Head(
        "unknown",
        None,
        f"the SavedModel layer {path!r} ends with {what}: featviz cannot tell whether its output is logits "
        "or probabilities (only Softmax, Sigmoid and affine operations are recognised), and will not guess",
        path,
    )


def last_op(layer: Any) -> str | None:
    """The type of the operation that computes a SavedModel layer's (first, by name) output, through
    ``Identity`` and ``Cast`` operations and function calls; ``None`` when the graph cannot be read."""
    fn = getattr(layer, "call_endpoint_fn", None)
    if fn is None:
        return None
    try:
        graph = fn.graph.as_graph_def()
        tensor = fn.outputs[0]  # the first output by name: a dict's values are flattened in sorted key order
        name, index = tensor.op.name, tensor.value_index
    except Exception:  # not a concrete function: nothing to read
        return None
    functions = {f.signature.name: f for f in graph.library.function}
    nodes = {n.name: n for n in graph.node}
    for _ in range(1000):  # a bound against cyclic references in a corrupt graph
        node = nodes.get(name)
        if node is None:
            return None
        if node.op in ("Identity", "IdentityN", "Cast"):  # the same values (a mixed-precision output is cast)
            ref = node.input[index if node.op == "IdentityN" else 0]
        elif node.op in ("StatefulPartitionedCall", "PartitionedCall"):
            called = functions.get(node.attr["f"].func.name)
            if called is None:
                return None
            ref = called.ret[called.signature.output_arg[index].name]
            nodes = {n.name: n for n in called.node_def}
        elif node.op in ("AddV2", "Add") and _adds_to_a_product(node, nodes):
            return "BiasAdd"  # Keras 3.3's Dense: matmul, then an add of its bias
        else:
            return str(node.op)
        name, index = _parse_ref(ref)
    return None


def _adds_to_a_product(node: Any, nodes: dict[str, Any]) -> bool:
    """Whether one input of an ``Add`` node is (through ``Identity`` nodes) a matrix product: a bias add."""
    for ref in node.input:
        name, _ = _parse_ref(ref)
        source = nodes.get(name)
        while source is not None and source.op == "Identity":
            source = nodes.get(_parse_ref(source.input[0])[0])
        if source is not None and source.op in ("MatMul", "BatchMatMulV2", "Einsum"):
            return True
    return False


def _parse_ref(ref: str) -> tuple[str, int]:
    """``("node", i)`` from a graph input ``node``/``node:i`` or a function body's ``node:output_name:i``."""
    parts = ref.lstrip("^").split(":")
    return parts[0], int(parts[-1]) if len(parts) > 1 else 0
