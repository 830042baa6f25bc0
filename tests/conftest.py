"""Project tests run under the `featviz` Hypothesis profile (registered by the plugin).

Shared tiny models: the factories live in ``tests/tiny_models.py`` (importable as ``tiny_models``: the
``pythonpath`` setting in pyproject.toml); the fixtures below give the saved ones most plugin, report
and CLI runs use."""

import pytest
from hypothesis import settings
from tiny_models import ones_model, saved

settings.load_profile("featviz")


@pytest.fixture
def ones_keras(tmp_path):
    """``ones.keras`` in ``tmp_path``: 3 inputs, two logits that are each the sum of the inputs (max 3 on [0, 1])."""
    return saved(ones_model(), tmp_path)


@pytest.fixture
def model_file(pytester):
    """``ones.keras`` (see ``ones_keras``) in a pytester project folder, for runs that name it in a marker."""
    return saved(ones_model(), pytester.path)
