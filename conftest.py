"""Root conftest: quiet TensorFlow, and use the `featviz` Hypothesis profile for the project's own tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

# Checks of how far Hypothesis shrinks fv.strategies' examples (to the documented simplest ones):
# Hypothesis 6.111.1 and later do; 6.100 (the supported floor) draws valid examples but shrinks
# them less far, so on older versions these are skipped, not failed (make test-oldest).
SHRINK_CHECKS = ("pytest_featviz.strategies.boxes", "pytest_featviz.strategies.constraint_sets",
                 "pytest_featviz.strategies.starting_points", "test_shrinking_goes_to_a_constant_start_at_min_value")


def pytest_collection_modifyitems(config, items):
    from importlib.metadata import version

    import pytest

    if tuple(int(p) for p in version("hypothesis").split(".")[:3]) >= (6, 111, 1):
        return
    for item in items:
        if item.name in SHRINK_CHECKS:
            item.add_marker(pytest.mark.skip(reason="Hypothesis < 6.111.1 shrinks less far than documented"))
