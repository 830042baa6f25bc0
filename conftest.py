"""Root conftest: quiet TensorFlow, and use the `featviz` Hypothesis profile for the project's own tests."""

import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

# Under pytest-xdist every worker is one process per core: one thread each for TensorFlow's op pools and
# OpenBLAS, or the workers' thread pools fight over the same cores (a 32x784 @ 784x128 float64 product took
# 40 ms with OpenBLAS's default threads on the 2 shared cores, 0.2 ms with one). Set before either library loads.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in (
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
    ):
        os.environ.setdefault(name, "1")

# Tests that share an expensive module-level computation run on one xdist worker, so it is computed once:
# `pytest -n 2 --dist loadgroup` (make test) schedules each group below as one unit and every other test
# on its own, as `--dist load` would. The groups are read off node ids here, on the controller, rather
# than from `xdist_group` marks: with pytest 9.2 the marks' node-id suffix no longer reaches the
# scheduler and the grouping silently stops (pytest-dev/pytest-xdist#1386).
XDIST_GROUPS = (
    # the five nested runs of the baseline workflow, one module fixture
    (re.compile(r"^tests/integration/test_baseline_workflow\.py::"), "baseline-workflow"),
    # the two memory measurements, made in one subprocess by a module fixture
    (re.compile(r"^tests/integration/test_memory\.py::"), "memory"),
    # the two mypy runs, which share a cache
    (re.compile(r"^tests/integration/test_typing\.py::"), "typing"),
    # the gate calibration matrix, measured once per model (the models spread over the workers)
    (
        re.compile(r"^tests/integration/test_gate_calibration\.py::.*\[(digits_mlp|digits_cnn|textures_cnn)[-\]]"),
        "gate",
    ),
)


def xdist_group_of(nodeid):
    """The group of the test ``nodeid`` (see XDIST_GROUPS), or None."""
    for pattern, name in XDIST_GROUPS:
        m = pattern.search(nodeid)
        if m:
            return "-".join((name, *m.groups()))
    return None


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return xdist_group_of(nodeid) or nodeid

    return GroupScheduling(config, log)


# Checks of how far Hypothesis shrinks fv.strategies' examples (to the documented simplest ones):
# Hypothesis 6.111.1 and later do; 6.100 (the supported floor) draws valid examples but shrinks
# them less far, so on older versions these are skipped, not failed (make test-oldest).
# Doctests are matched by function name anywhere under pytest_featviz.strategies (their item name
# carries the module path, which moves when the package is reorganised).
SHRINK_DOCTESTS = ("boxes", "constraint_sets", "starting_points")
SHRINK_TESTS = ("test_shrinking_goes_to_a_constant_start_at_min_value", "test_constraint_sets_shrink_to_a_lone_box")


def is_shrink_check(name):
    """Whether the test item ``name`` checks how far Hypothesis shrinks (see SHRINK_DOCTESTS, SHRINK_TESTS)."""
    if name.startswith("pytest_featviz.strategies."):
        return name.rsplit(".", 1)[-1] in SHRINK_DOCTESTS
    return name in SHRINK_TESTS


def pytest_collection_modifyitems(config, items):
    from importlib.metadata import version

    import pytest

    if tuple(int(p) for p in version("hypothesis").split(".")[:3]) >= (6, 111, 1):
        return
    for item in items:
        if is_shrink_check(item.name):
            item.add_marker(pytest.mark.skip(reason="Hypothesis < 6.111.1 shrinks less far than documented"))
