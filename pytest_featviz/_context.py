"""The running test's featviz context: where artifacts go, the seed, and the records of assertions.

The plugin sets it around every test (whether or not the test uses the ``featviz``
fixture), so the assertion helpers can save the pictures of failing inputs. Outside
pytest there is no context and nothing is saved.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TestContext", "current", "activate", "sanitize", "derive_seed", "write_json_atomic"]

_CURRENT: contextvars.ContextVar["TestContext | None"] = contextvars.ContextVar("featviz_test", default=None)


def sanitize(node_id: str) -> str:
    """A file-name-safe, readable form of a pytest node id (parametrized ids kept).

    Examples
    --------
    >>> sanitize("tests/test_a.py::test_b[x-0.5]")
    'tests_test_a.py__test_b_x-0.5'
    """
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", node_id.replace("::", "__")).strip("_")
    if len(text) > 150:  # keep paths short, and still unique
        text = f"{text[:130]}_{zlib.crc32(node_id.encode()):08x}"
    return text


def derive_seed(base: int, node_id: str) -> int:
    """A per-test seed from the base seed and the node id (independent of test order).

    Examples
    --------
    >>> derive_seed(0, "t.py::a") == derive_seed(0, "t.py::a") != derive_seed(1, "t.py::a")
    True
    """
    return (zlib.crc32(node_id.encode()) ^ (int(base) * 2654435761)) % (2**31 - 1)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temp file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=_jsonable)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


@dataclass
class TestContext:
    """What the plugin knows about the running test."""

    node_id: str
    seed: int
    artifacts_dir: Path | None = None
    records: list[dict] = field(default_factory=list)
    saved: list[Path] = field(default_factory=list)
    keep_passing: bool = False  # also save pictures of passing assertions (for the HTML report)

    __test__ = False  # not a pytest test class

    def artifact_path(self, name: str, suffix: str) -> Path | None:
        """``<artifacts>/<sanitized node id>/<name><suffix>``, or None when artifacts are off."""
        if self.artifacts_dir is None:
            return None
        return self.artifacts_dir / sanitize(self.node_id) / f"{sanitize(name)}{suffix}"

    def save_images(self, name: str, images: Any, **grid_options: Any) -> Path | None:
        """Save a batch of inputs as a PNG grid; returns the path (None when artifacts are off)."""
        path = self.artifact_path(name, ".png")
        if path is None:
            return None
        import numpy as np

        from .render import save_png

        try:
            save_png(path, np.asarray(images), **grid_options)
        except OSError as exc:
            from .errors import ConfigurationError

            raise ConfigurationError(f"cannot write the featviz artifact {path}: {exc}") from exc
        self.saved.append(path)
        return path

    def record(self, entry: dict) -> None:
        """Remember one assertion's outcome (for the JSON record, the report and the summary)."""
        self.records.append(entry)


def current() -> TestContext | None:
    """The running test's context, or None outside a featviz-enabled pytest run."""
    return _CURRENT.get()


class activate:
    """Context manager that makes ``ctx`` current for the duration of a test."""

    def __init__(self, ctx: TestContext):
        self.ctx = ctx
        self.token: contextvars.Token | None = None

    def __enter__(self) -> TestContext:
        self.token = _CURRENT.set(self.ctx)
        return self.ctx

    def __exit__(self, *exc: Any) -> None:
        if self.token is not None:
            _CURRENT.reset(self.token)
