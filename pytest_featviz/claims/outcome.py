"""What a claim returns: the search's :class:`~pytest_featviz.engine.AscentResult` and the claim's own verdict.

The engine's result knows nothing of claims; a claim that certifies wraps it with
its status and its :class:`~pytest_featviz.verify.Certificate` instead of setting
fields on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..engine import AscentResult
    from ..verify import Certificate

__all__ = ["ClaimResult", "Status", "unwrap"]

Status = Literal["proven", "unknown", "counterexample"]


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of :func:`~pytest_featviz.assert_not_reaches`: the search result, the status, the certificate.

    Every attribute of the :class:`~pytest_featviz.AscentResult` (``inputs``, ``values``,
    ``history``, ``best``, ``reached``, ...) reads through: ``r.values`` is
    ``r.result.values``. The claim's own fields are not on the engine's result.

    Attributes
    ----------
    result : AscentResult
        What gradient ascent found.
    status : {'proven', 'unknown', 'counterexample'} or None
        ``"proven"`` when the sound upper bound is below the threshold for every item,
        ``"unknown"`` when it is not, ``None`` without ``certify=True``.
    certificate : Certificate or None
        The sound bounds behind ``status`` (``certificate.bounds.upper`` per item), when certified.

    Examples
    --------
    >>> import keras, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="ones")])
    >>> r = fv.assert_not_reaches(m, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), steps=5, certify=True)
    >>> r.status, float(r.certificate.bounds.upper[0]) < 3.5, r.values.shape == r.result.values.shape
    ('proven', True, True)
    """

    result: AscentResult
    status: Status | None = None
    certificate: Certificate | None = None

    def __getattr__(self, name: str) -> Any:
        # only called for names the claim does not have itself: the search result's attributes
        if name.startswith("__") or name == "result":
            raise AttributeError(name)
        try:
            return getattr(self.result, name)
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__!r} object (nor its AscentResult) has no attribute {name!r}"
            ) from None


def unwrap(value: Any) -> Any:
    """The AscentResult inside a :class:`ClaimResult`; anything else unchanged.

    Examples
    --------
    >>> unwrap([1, 2])
    [1, 2]
    """
    return value.result if isinstance(value, ClaimResult) else value
