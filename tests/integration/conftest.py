"""Everything under tests/integration/ is marked ``integration``: subprocesses, pytester runs, memory, killed
runs, pytest-xdist, a headless browser, keras.applications, installs.  ``make test-fast`` leaves them out."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
