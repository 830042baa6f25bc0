"""The running test's featviz context: where artifacts go, the seed, and the records of assertions.

The claims read it; whoever runs them sets it. The pytest plugin sets one around every
phase of every test (setup with its fixtures, the call, teardown; whether or not the
test uses the ``featviz`` fixture), so the assertion helpers use the test's seed and
save the pictures of failing inputs, each call under its own file name. The ``featviz
reach`` command sets one whose ``pictures_to`` names its ``--out`` file. With no context
(a plain script) nothing is saved.

Kept light: importing it loads neither NumPy nor TensorFlow (the plugin imports it at
start-up).

Every file goes through :mod:`pytest_featviz._io` (atomic writes).

An artifacts folder that cannot be written does not hide a failure: the pictures and
the record are skipped, the test's own error gets a note that names the folder and
why, and a test that passed fails with a ConfigurationError saying the same.
"""

from __future__ import annotations

import contextvars
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import blocked_because, sanitize, write_json_atomic

if TYPE_CHECKING:
    from .record import Record

__all__ = ["TestContext", "current", "activate", "derive_seed"]

_CURRENT: contextvars.ContextVar[TestContext | None] = contextvars.ContextVar("featviz_test", default=None)


def derive_seed(base: int, node_id: str) -> int:
    """A per-test seed from the base seed and the node id (independent of test order).

    Examples
    --------
    >>> derive_seed(0, "t.py::a") == derive_seed(0, "t.py::a") != derive_seed(1, "t.py::a")
    True
    """
    return (zlib.crc32(node_id.encode()) ^ (int(base) * 2654435761)) % (2**31 - 1)


@dataclass
class TestContext:
    """What the plugin knows about the running test: its seed, where its pictures go, its records.

    Pictures go to ``<artifacts_dir>/<sanitized node id>/<name>.png`` (see
    :meth:`save_images`); outside pytest (the ``featviz reach`` command), ``pictures_to``
    names the one file every picture is written to instead (the last one wins).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "found.png"
    >>> ctx = TestContext("featviz reach", 0, pictures_to=out)
    >>> ctx.save_images("assert_reaches", [[0.0, 1.0]]) == out and out.is_file()
    True
    """

    node_id: str
    seed: int
    artifacts_dir: Path | None = None
    records: list[Record] = field(default_factory=list)
    saved: list[Path] = field(default_factory=list)
    keep_passing: bool = False  # also save pictures of passing assertions (for the HTML report)
    unwritten: list[tuple[Path, str]] = field(default_factory=list)  # artifacts that could not be written, and why
    pictures: set[str] = field(default_factory=set)  # picture file names given out so far
    pictures_to: Path | None = None  # one file for every picture, instead of the artifacts folder

    __test__ = False  # not a pytest test class

    def artifact_path(self, name: str, suffix: str) -> Path | None:
        """``<artifacts>/<sanitized node id>/<name><suffix>``, or None when artifacts are off."""
        if self.artifacts_dir is None:
            return None
        return self.artifacts_dir / sanitize(self.node_id) / f"{sanitize(name)}{suffix}"

    def _picture_path(self, name: str) -> Path | None:
        """A PNG path no earlier picture of this test has: ``<name>.png``, then ``<name>-2.png``, ...

        With :attr:`pictures_to` set, that file.
        """
        if self.pictures_to is not None:
            return self.pictures_to
        path = self.artifact_path(name, ".png")
        if path is None:
            return None
        stem, k = path.stem, 1
        while path.name in self.pictures:
            k += 1
            path = path.with_name(f"{stem}-{k}.png")
        self.pictures.add(path.name)
        return path

    def save_images(self, name: str, images: Any, **grid_options: Any) -> Path | None:
        """Save a batch of inputs as a PNG grid; returns the path.

        ``images`` is a batch or an ``AscentResult``, drawn as :func:`render.save_png`
        draws it: a result over its ``value_range`` unless ``value_range=`` is given.

        Every call gets its own file: a name used before in this test is numbered
        (``assert_reaches.png``, ``assert_reaches-2.png``, ...), so each record points at
        its own picture. None when artifacts are off, or when the artifacts folder cannot
        be written: the file is then listed in :attr:`unwritten` and :class:`activate`
        reports it when the test phase ends (a failing assertion keeps its own account).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> ctx = TestContext("t.py::test_x", 0, pathlib.Path(tempfile.mkdtemp()))
        >>> [ctx.save_images("inputs", [[0.0, 0.5, 1.0]]).name for _ in range(3)]
        ['inputs.png', 'inputs-2.png', 'inputs-3.png']
        """
        path = self._picture_path(name)
        if path is None:
            return None
        from ..render import save_png

        try:
            save_png(path, images, **grid_options)
        except OSError as exc:
            self.unwritten.append((path, blocked_because(path, exc)))
            return None
        self.saved.append(path)
        return path

    def write_record(self, path: Path, data: Any) -> Path | None:
        """Write the test's JSON record to ``path``; None (and listed in :attr:`unwritten`) if it cannot be."""
        try:
            write_json_atomic(path, data)
        except OSError as exc:
            self.unwritten.append((path, blocked_because(path, exc)))
            return None
        return path

    def unwritten_account(self, since: int = 0) -> str | None:
        """What could not be saved under the artifacts folder, and why; None when everything was.

        Only the files from :attr:`unwritten` ``[since:]`` are named (what one test phase left).

        Examples
        --------
        >>> import pathlib, tempfile
        >>> blocker = pathlib.Path(tempfile.mkdtemp()) / "a-file"
        >>> _ = blocker.write_text("")
        >>> ctx = TestContext("t.py::test_x", 0, blocker / "art")
        >>> ctx.save_images("inputs", [[0.0, 1.0, 0.5]]) is None
        True
        >>> print(ctx.unwritten_account())  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        featviz could not write the artifacts of t.py::test_x: the folder .../a-file/art cannot be written
        (.../a-file is a file, not a folder); not saved: .../a-file/art/t.py__test_x/inputs.png.
        Point --featviz-artifacts ... at a folder that can be written.
        """
        unwritten = self.unwritten[since:]
        if not unwritten:
            return None
        reasons = "; ".join(dict.fromkeys(reason for _, reason in unwritten))
        files = ", ".join(str(path) for path, _ in unwritten)
        if self.pictures_to is not None:
            return f"featviz could not write the picture of {self.node_id} to {self.pictures_to} ({reasons})"
        return (
            f"featviz could not write the artifacts of {self.node_id}: the folder {self.artifacts_dir} cannot be "
            f"written ({reasons}); not saved: {files}. Point --featviz-artifacts (or the featviz_artifacts ini "
            "key, or @pytest.mark.featviz(artifacts=...)) at a folder that can be written."
        )

    def record(self, entry: Record) -> None:
        """Remember one assertion's outcome (for the JSON record, the report and the summary)."""
        self.records.append(entry)


def current() -> TestContext | None:
    """The running test's context, or None outside a featviz-enabled pytest run."""
    return _CURRENT.get()


def _add_note(exc: BaseException, text: str) -> None:
    """PEP 678 note (shown under the error by pytest); on Python 3.10, appended to a one-text message."""
    if hasattr(exc, "add_note"):
        exc.add_note(text)
    elif len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n{text}",)


class activate:
    """Context manager that makes ``ctx`` current for one phase of a test (setup, call or teardown).

    On leaving, the artifacts that could not be written during this phase
    (:meth:`TestContext.unwritten_account`) are reported: as a note on the phase's own
    error, so a failing assertion keeps its account, or as a ConfigurationError when
    the phase passed. What an earlier phase already reported is not reported again.
    """

    def __init__(self, ctx: TestContext):
        self.ctx = ctx
        self.token: contextvars.Token | None = None
        self.start = 0

    def __enter__(self) -> TestContext:
        self.start = len(self.ctx.unwritten)
        self.token = _CURRENT.set(self.ctx)
        return self.ctx

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> None:
        __tracebackhide__ = True
        if self.token is not None:
            _CURRENT.reset(self.token)
        account = self.ctx.unwritten_account(since=self.start)
        if account is None:
            return
        if exc is None:
            from ..errors import ConfigurationError

            raise ConfigurationError(account)
        _add_note(exc, account)
