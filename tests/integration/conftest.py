"""Everything under tests/integration/ is marked ``integration``: subprocesses, pytester runs, memory, killed
runs, pytest-xdist, a headless browser, keras.applications, installs.  ``make test-fast`` leaves them out."""

import importlib
import pkgutil
from pathlib import Path

import pytest

import pytest_featviz

HERE = Path(__file__).parent

# An in-process pytester run forgets the modules it imported when it ends: had it been the first to
# import a pytest_featviz module, the next run would hold a second copy of its classes
# (``isinstance`` fails across them). So every module is imported here, before any run.
for _module in pkgutil.walk_packages(pytest_featviz.__path__, "pytest_featviz."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
