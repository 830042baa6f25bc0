"""The object behind the ``featviz`` fixture: the library, bound to the running test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import _context


class Featviz:
    """Bound to one test: its seed, its artifacts folder, its model cache.

    Examples
    --------
    In a test file::

        def test_class_3_is_reachable(featviz):
            model = featviz.load_model("models/clf.keras")
            r = featviz.ascend(model, fv.ClassProbability(3), constraints=fv.Box(0, 1))
            featviz.save("class3", r.inputs)
    """

    def __init__(self, request: Any, loader: Callable[..., Any], ctx_key: Any, session_key: Any):
        self._request = request
        self._loader = loader
        self._ctx_key = ctx_key
        self._session_key = session_key

    @property
    def context(self) -> _context.TestContext:
        """The running test's context (seed, artifacts folder, records)."""
        return self._request.node.stash[self._ctx_key]

    @property
    def seed(self) -> int:
        """This test's seed: derived from ``--featviz-seed`` and the test's node id."""
        return self.context.seed

    @property
    def artifacts_dir(self) -> Path | None:
        """Where this test's pictures go (None when artifacts are off)."""
        path = self.context.artifact_path("x", ".png")
        return None if path is None else path.parent

    def load_model(self, source: Any, *, safe_mode: bool = True) -> Any:
        """Load a model (path relative to the test file), once per session and worker."""
        return self._loader(source, safe_mode=safe_mode)

    def ascend(self, model: Any, objective: Any, **options: Any) -> Any:
        """:func:`pytest_featviz.ascend` with this test's seed as the default seed."""
        from .ascent import ascend

        if isinstance(model, (str, Path)):
            model = self.load_model(model)
        options.setdefault("seed", self.seed)
        return ascend(model, objective, **options)

    def save(self, name: str, images: Any, **grid_options: Any) -> Path | None:
        """Save a batch of inputs (or an AscentResult's inputs) as a PNG grid under the artifacts folder.

        Returns the path, or None when ``--featviz-artifacts`` is not set.
        """
        from .ascent import AscentResult

        if isinstance(images, AscentResult):
            images = images.inputs
        return self.context.save_images(name, np.asarray(images), **grid_options)
