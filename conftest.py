"""Root conftest: quiet TensorFlow, and use the `featviz` Hypothesis profile for the project's own tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")
