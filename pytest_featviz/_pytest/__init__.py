"""The pytest glue behind :mod:`pytest_featviz.plugin`: the running test's context (seed, artifacts, records).

Kept light: importing it loads neither NumPy nor TensorFlow (the plugin imports it at
start-up). The ``featviz`` fixture's class lives in :mod:`.fixture`.
"""

from .context import TestContext, activate, current, derive_seed

__all__ = ["TestContext", "activate", "current", "derive_seed"]
