"""Claims: the assertions, what they return (:class:`ClaimResult`) and what they record (:class:`Record`).

The assertions load on first use, so that the plugin reads and writes records without
importing NumPy or the engine (a pytest hook may run after a ``pytester`` test has
unloaded them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .outcome import ClaimResult, unwrap
from .record import Record, from_json, plain, read_record_file, record_file, to_json

if TYPE_CHECKING:
    from .assertions import assert_not_reaches as assert_not_reaches
    from .assertions import assert_reaches as assert_reaches
    from .assertions import assert_structure as assert_structure
    from .assertions import assert_within as assert_within
    from .faithful import FaithfulResult as FaithfulResult
    from .faithful import assert_faithful as assert_faithful

_ASSERTIONS = ("assert_reaches", "assert_not_reaches", "assert_within", "assert_structure")
_FAITHFUL = ("assert_faithful", "FaithfulResult")

__all__ = [
    *_ASSERTIONS,
    *_FAITHFUL,
    "ClaimResult",
    "unwrap",
    "Record",
    "to_json",
    "from_json",
    "record_file",
    "read_record_file",
    "plain",
]


def __getattr__(name: str) -> Any:
    if name in _ASSERTIONS:
        from . import assertions

        return getattr(assertions, name)
    if name in _FAITHFUL:
        from . import faithful

        return getattr(faithful, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
