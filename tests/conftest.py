"""Project tests run under the `featviz` Hypothesis profile (registered by the plugin).

Shared tiny models: the factories live in ``tests/tiny_models.py`` (importable as ``tiny_models``: the
``pythonpath`` setting in pyproject.toml); the fixtures below give the saved ones most plugin, report
and CLI runs use."""

import os

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase
from tiny_models import ones_model, saved

settings.load_profile("featviz")
# Under pytest-xdist each worker keeps its own example database: two workers writing the same key at
# once (the parametrised variants of one test share it) made Hypothesis 6.100's directory database
# raise FileNotFoundError (seen in `make test-oldest`). Derandomized CI runs have no database at all.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and isinstance(settings.default.database, DirectoryBasedExampleDatabase):
    settings.register_profile(
        "featviz",
        parent=settings.get_profile("featviz"),
        database=DirectoryBasedExampleDatabase(os.path.join(".hypothesis", f"examples-{_WORKER}")),
    )
    settings.load_profile("featviz")


@pytest.fixture
def ones_keras(tmp_path):
    """``ones.keras`` in ``tmp_path``: 3 inputs, two logits that are each the sum of the inputs (max 3 on [0, 1])."""
    return saved(ones_model(), tmp_path)


@pytest.fixture
def model_file(pytester):
    """``ones.keras`` (see ``ones_keras``) in a pytester project folder, for runs that name it in a marker."""
    return saved(ones_model(), pytester.path)
