"""The pytest plugin (entry point ``pytest11: featviz``): hooks and fixtures only.

Loading it imports neither TensorFlow nor Keras; fixtures import them when a test uses them.
"""

from __future__ import annotations

import os

import pytest


def _register_hypothesis_profile() -> None:
    """Register (not load) the `featviz` Hypothesis settings profile."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        return
    in_ci = bool(os.environ.get("CI"))
    settings.register_profile(
        "featviz",
        deadline=None,
        max_examples=25,
        derandomize=in_ci,
        database=None if in_ci else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # before any conftest runs, so `settings.load_profile("featviz")` works in a conftest
    _register_hypothesis_profile()
