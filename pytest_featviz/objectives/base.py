"""The objective algebra (private; the names are re-exported by ``objectives``).

:class:`Objective` is the base of every objective: ``+``, ``-``, scalar ``*`` build a
:class:`Sum`, ``>=`` builds a :class:`Condition`. The helpers below check and expand the
class, unit and channel indices of the objectives that pick one target per batch item.
Nothing here imports TensorFlow at import time.

Examples
--------
>>> from pytest_featviz.objectives import ClassLogit, TotalVariation
>>> ClassLogit(3) - 0.05 * TotalVariation()
ClassLogit(3) - 0.05 * TotalVariation()
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._fields import parts, per_item_of, structure_of, value, values_of
from ..errors import ConfigurationError, FeatvizTypeError

__all__ = ["Objective", "Sum", "Condition"]


class Objective:
    """Base class: a scalar function of the model's input, one value per batch item.

    Objectives compose: ``a + b``, ``a - b``, ``-a``, ``2.0 * a``; and
    ``a >= 0.9`` gives a :class:`Condition` for ``ascend(..., until=...)``.
    """

    # -- algebra ---------------------------------------------------------------------------
    def _terms(self) -> tuple[tuple[float, Objective], ...]:
        return ((1.0, self),)

    def __add__(self, other: Any) -> Sum:
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(self._terms() + other._terms())

    def __sub__(self, other: Any) -> Sum:
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(self._terms() + tuple((-c, o) for c, o in other._terms()))

    def __neg__(self) -> Sum:
        return Sum(tuple((-c, o) for c, o in self._terms()))

    def __mul__(self, scalar: Any) -> Sum:
        if isinstance(scalar, Objective):
            raise FeatvizTypeError(
                f"objectives can be multiplied by numbers only, not by another objective ({scalar!r})"
            )
        if isinstance(scalar, (bool, np.bool_)):
            raise FeatvizTypeError(f"an objective's coefficient must be a number, not a bool; got {scalar!r}")
        if not isinstance(scalar, numbers.Real) or not np.isfinite(float(scalar)):
            return NotImplemented
        return Sum(tuple((float(scalar) * c, o) for c, o in self._terms()))

    __rmul__ = __mul__

    def __ge__(self, threshold: Any) -> Condition:
        if isinstance(threshold, (bool, np.bool_)):
            raise FeatvizTypeError(f"a condition needs a number threshold, not a bool; got {threshold!r}")
        if not isinstance(threshold, numbers.Real) or not np.isfinite(float(threshold)):
            raise FeatvizTypeError(f"a condition needs a finite number threshold; got {threshold!r}")
        return Condition(self, float(threshold))

    def _only_ge(self, op: str, value: Any) -> Condition:
        raise FeatvizTypeError(
            f"{self!r} {op} {value!r} is not supported: conditions (for ascend(until=...) and "
            f"assert_reaches) are written `objective >= value`, e.g. {self!r} >= 0.9"
        )

    def __gt__(self, value: Any) -> Condition:
        return self._only_ge(">", value)

    def __lt__(self, value: Any) -> Condition:
        return self._only_ge("<", value)

    def __le__(self, value: Any) -> Condition:
        return self._only_ge("<=", value)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    # -- what the compiled loop needs --------------------------------------------------------
    def leaves(self) -> tuple[Objective, ...]:
        """The non-composite objectives this one is made of, in order."""
        return tuple(o for _, o in self._terms())

    def layers(self) -> frozenset[str]:
        """Layer names whose outputs the objective reads (``LOGITS``, ``PROBABILITIES`` for the head)."""
        return frozenset().union(*(leaf._layer_needs() for leaf in self.leaves()))

    def batch_size(self) -> int | None:
        """The number of targets when an index is a sequence, else ``None``."""
        sizes = {n for n in (leaf._targets() for leaf in self.leaves()) if n is not None}
        if len(sizes) > 1:
            raise ConfigurationError(
                f"the objective {self!r} has index sequences of different lengths {sorted(sizes)}; "
                "give one target per batch item everywhere, or a single int"
            )
        return sizes.pop() if sizes else None

    def structure(self) -> tuple:
        """A hashable key of everything that decides the compiled graph (from the fields' kinds, see ``_fields``)."""
        return tuple((type(o).__name__, structure_of(o)) for o in self.leaves())

    def params(self, batch: int) -> list[np.ndarray]:
        """The values fed to the compiled loop as tensors (coefficients first)."""
        coefs = np.array([c for c, _ in self._terms()], dtype=np.float32)
        out = [coefs]
        for leaf in self.leaves():
            out.extend(leaf._values(batch))
        return out

    def evaluate(self, ctx: Any, params: Sequence[Any]) -> Any:
        """Per-item value ``(B,)`` from a context of layer outputs (inside TensorFlow)."""
        it = iter(params)
        coefs = next(it)
        total = None
        for i, leaf in enumerate(self.leaves()):
            vals = [next(it) for _ in range(leaf._n_values())]
            term = coefs[i] * leaf._evaluate(ctx, vals)
            total = term if total is None else total + term
        return total

    def slice_params(self, params: Sequence[Any], items: np.ndarray) -> list[Any]:
        """:meth:`params` for the batch items ``items`` (the per-item indices are cut; the rest is shared)."""
        out, i = [params[0]], 1
        for leaf in self.leaves():
            for per_item in per_item_of(leaf):
                out.append(params[i][items] if per_item else params[i])
                i += 1
        return out

    def ascent_value(self, ctx: Any, params: Sequence[Any]) -> Any:
        """What the ascent differentiates: :meth:`evaluate`, except for a lone positive leaf.

        An objective that is one leaf times a positive coefficient follows the leaf's own
        ascent function (``ClassProbability`` its log-probability, which has the same
        maximisers but a gradient that does not underflow); in a sum every term counts
        as its value, since a logarithm would change the trade-off between the terms.
        """
        import tensorflow as tf

        if self.ascends_its_value():
            return self.evaluate(ctx, params)
        coef, leaf, vals = params[0][0], self._terms()[0][1], list(params[1:])
        # the coefficient is a tensor (its value is not part of the compiled structure)
        return tf.where(coef > 0, coef * leaf._ascent_value(ctx, vals), coef * leaf._evaluate(ctx, vals))

    def value_and_ascent(self, ctx: Any, params: Sequence[Any]) -> tuple[Any, Any]:
        """``(evaluate, ascent_value)`` at one context, the value computed once when the ascent follows it.

        What the loop and the attack trace each step: the value to report and the function to
        differentiate.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> import tensorflow as tf
        >>> from pytest_featviz.objectives import ClassLogit
        >>> objective, ctx = ClassLogit(1), SimpleNamespace(logits=tf.constant([[1.0, 3.0]]))
        >>> value, ascent = objective.value_and_ascent(ctx, objective.params(1))
        >>> float(value[0]), ascent is value
        (3.0, True)
        """
        value = self.evaluate(ctx, params)
        return value, (value if self.ascends_its_value() else self.ascent_value(ctx, params))

    def ascends_its_value(self) -> bool:
        """Whether :meth:`ascent_value` is :meth:`evaluate` itself (:meth:`value_and_ascent` then computes it once).

        Examples
        --------
        >>> from pytest_featviz.objectives import ClassLogit, ClassProbability
        >>> ClassLogit(0).ascends_its_value(), ClassProbability(0).ascends_its_value()
        (True, False)
        """
        terms = self._terms()
        return len(terms) != 1 or type(terms[0][1])._ascent_value is Objective._ascent_value

    def validate(self, info: Any) -> None:
        """Check the model's input, layer names and indices against a model description; raise a clear error."""
        info.check_input()
        for leaf in self.leaves():
            leaf._check(info)

    # -- leaf protocol (overridden) -----------------------------------------------------------
    def _layer_needs(self) -> frozenset[str]:
        return frozenset()

    def _targets(self) -> int | None:
        return None

    def _n_values(self) -> int:
        return len(values_of(self))

    def _values(self, batch: int) -> list[np.ndarray]:
        """The value fields as arrays: per-item ones expanded to ``batch``, floats as float32."""
        out = []
        for (_, v), per_item in zip(values_of(self), per_item_of(self)):
            arr = np.asarray(v)
            if per_item:
                arr = _expand(arr, batch, repr(self))
            elif np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(np.float32)
            out.append(arr)
        return out

    def _check(self, info: Any) -> None:
        return None

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _ascent_value(self, ctx: Any, values: list[Any]) -> Any:
        """A function with the maximisers of :meth:`_evaluate` and a better gradient (default: itself)."""
        return self._evaluate(ctx, values)


@dataclass(frozen=True, repr=False, eq=False)
class Sum(Objective):
    """A weighted sum of objectives; built by ``+``, ``-`` and scalar ``*``."""

    terms: tuple[tuple[float, Objective], ...] = parts()  # coefficients are fed as values (params()[0])

    def _terms(self) -> tuple[tuple[float, Objective], ...]:
        return self.terms

    def __repr__(self) -> str:
        text = ""
        for i, (c, o) in enumerate(self.terms):
            sign = "-" if c < 0 else "+"
            mag = abs(c)
            body = repr(o) if mag == 1.0 else f"{mag:g} * {o!r}"
            if i == 0:
                text = ("-" if c < 0 else "") + body
            else:
                text += f" {sign} {body}"
        return text


@dataclass(frozen=True, repr=False, eq=False)
class Condition:
    """``objective >= threshold``, checked per batch item; used by ``ascend(until=...)``."""

    objective: Objective = parts()
    threshold: float = value()

    def __repr__(self) -> str:
        return f"{self.objective!r} >= {self.threshold:g}"

    def __bool__(self) -> bool:
        raise FeatvizTypeError(
            f"{self!r} is a Condition for ascend(until=...), not a truth value; use assert_reaches to assert it"
        )


def _index_array(index: Any, name: str) -> np.ndarray:
    arr = np.asarray(index)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer) or arr.ndim > 1:
        raise FeatvizTypeError(f"{name} index must be an int or a sequence of ints; got {index!r}")
    if arr.ndim == 1 and arr.size == 0:
        raise ConfigurationError(f"{name} index sequence is empty; give at least one target")
    return arr.astype(np.int32)


def _expand(arr: np.ndarray, batch: int, what: str) -> np.ndarray:
    if arr.ndim == 0:
        return np.full((batch,), arr, dtype=arr.dtype)
    if arr.shape[0] == batch:
        return arr
    if arr.shape[0] == 1:
        return np.repeat(arr, batch, axis=0)
    raise ConfigurationError(f"{what} has {arr.shape[0]} targets but the batch has {batch} items")


def _fmt_index(arr: np.ndarray) -> str:
    return repr(int(arr)) if arr.ndim == 0 else repr([int(i) for i in arr])


def _pick(x: Any, index: Any) -> Any:
    """``x[b, ..., index[b]]``: entry ``index[b]`` of the last axis of item ``b`` (a tensor).

    A select and a sum rather than a batched gather: the same values and gradients, and a
    gradient that is one select, where a batched gather's takes about 80 graph ops to trace
    (every compiled ascent loop traces it).
    """
    import tensorflow as tf

    n = x.shape[-1] if x.shape[-1] is not None else tf.shape(x)[-1]
    at = tf.reshape(index, [-1] + [1] * (len(x.shape) - 1))
    return tf.reduce_sum(tf.where(tf.equal(tf.range(n), at), x, tf.zeros([], x.dtype)), axis=-1)


def _check_range(arr: np.ndarray, size: int, what: str) -> None:
    bad = (arr < 0) | (arr >= size)
    if np.any(bad):
        value = int(np.asarray(arr).reshape(-1)[np.argmax(np.asarray(bad).reshape(-1))])
        raise ConfigurationError(f"{what} {value} is out of range; valid indices are 0..{size - 1}")


class _Indexed(Objective):
    """Shared code of the objectives that pick one unit per batch item."""

    index: np.ndarray

    def _targets(self) -> int | None:
        return None if self.index.ndim == 0 else int(self.index.shape[0])
