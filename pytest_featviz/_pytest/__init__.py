"""The pytest glue behind :mod:`pytest_featviz.plugin`: the session's settings and the ``featviz`` fixture's class.

Kept light: importing it loads neither NumPy nor TensorFlow (the plugin imports it at
start-up), so :class:`Featviz` (which imports NumPy and the baselines) loads on first use.
The running test's context is the claims' (:class:`pytest_featviz.claims.TestContext`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .collector import Collector
from .settings import Setting, Settings

if TYPE_CHECKING:
    from .fixture import Featviz as Featviz

__all__ = ["Collector", "Featviz", "Setting", "Settings"]


def __getattr__(name: str) -> Any:
    if name == "Featviz":
        from .fixture import Featviz

        return Featviz
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
