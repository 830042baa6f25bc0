"""Claims: the assertions, what they return (:class:`ClaimResult`), what they record (:class:`Record`),
and the running test's context they record into (:class:`TestContext`).

The assertions load on first use, so that the plugin reads and writes records and sets
the test context without importing NumPy or the engine (a pytest hook may run after a
``pytester`` test has unloaded them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .context import TestContext, activate, current, derive_seed
from .outcome import ClaimResult, unwrap
from .record import Record, from_json, plain, read_record_file, record_file, to_json

if TYPE_CHECKING:
    from .faithful import FaithfulResult as FaithfulResult
    from .faithful import assert_faithful as assert_faithful
    from .reach import assert_not_reaches as assert_not_reaches
    from .reach import assert_reaches as assert_reaches
    from .structure import assert_structure as assert_structure
    from .within import assert_within as assert_within

# each assertion and the module it lives in (loaded on first use: they import NumPy and the engine)
_ASSERTIONS = {
    "assert_reaches": "reach",
    "assert_not_reaches": "reach",
    "assert_within": "within",
    "assert_structure": "structure",
    "assert_faithful": "faithful",
    "FaithfulResult": "faithful",
}

__all__ = [
    *_ASSERTIONS,
    "ClaimResult",
    "unwrap",
    "Record",
    "to_json",
    "from_json",
    "record_file",
    "read_record_file",
    "plain",
    "TestContext",
    "activate",
    "current",
    "derive_seed",
]


def __getattr__(name: str) -> Any:
    if name in _ASSERTIONS:
        return getattr(importlib.import_module(f".{_ASSERTIONS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
