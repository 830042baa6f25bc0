"""The running test's featviz context: where artifacts go, the seed, and the records of assertions.

The plugin sets it around every phase of every test (setup with its fixtures, the call,
teardown; whether or not the test uses the ``featviz`` fixture), so the assertion
helpers use the test's seed and save the pictures of failing inputs, each call under
its own file name. Outside pytest there is no context and nothing is saved.

Every file pytest-featviz writes (artifacts, records, baselines) goes through
:func:`write_atomic`: a temporary file in the same folder, renamed into place, so a
run killed at any moment leaves each file old or new, never half-written. The
temporary file's name carries the writer's process id and host; the next write into
that folder (and :func:`pytest_featviz.baselines.load`) removes the ones whose writer
is dead (:func:`remove_stale_temporaries`), and never those of a live process, such as
another pytest-xdist worker.

An artifacts folder that cannot be written does not hide a failure: the pictures and
the record are skipped, the test's own error gets a note that names the folder and
why, and a test that passed fails with a ConfigurationError saying the same.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import socket
import tempfile
import time
import zlib
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TestContext", "current", "activate", "sanitize", "derive_seed", "write_atomic", "write_json_atomic",
           "remove_stale_temporaries", "STALE_AFTER_S"]

STALE_AFTER_S = 3600.0  # a temporary file this old is abandoned whoever wrote it (another host, a reused pid)
_TEMPORARY = re.compile(r"^\..+\.featviz-(?P<pid>[0-9]+)-(?P<host>[A-Za-z0-9-]*)-[a-z0-9_]+\.tmp$")

_CURRENT: contextvars.ContextVar["TestContext | None"] = contextvars.ContextVar("featviz_test", default=None)


def sanitize(node_id: str) -> str:
    """A file-name-safe, readable form of a pytest node id or a name, distinct for distinct texts.

    Path separators become ``_`` and ``::`` becomes ``__``; a text that needed nothing
    more keeps exactly that form. Any other change (brackets, spaces, ``+``, ``*``, a
    ``__`` in the text itself, ...) appends the CRC-32 of the original text, so ids that
    read alike on disk, such as ``test_f[a b]`` and ``test_f[a_b]``, never share a folder.
    Texts longer than 150 characters are cut to 130 and get the same hash.

    Examples
    --------
    >>> sanitize("tests/test_a.py::test_b")
    'tests_test_a.py__test_b'
    >>> sanitize("t.py::test_x[a b]"), sanitize("t.py::test_x[a_b]")
    ('t.py__test_x_a_b_745bc2ef', 't.py__test_x_a_b_2bf6ed82')
    """
    plain = node_id.replace("::", "__").replace("/", "_")
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", plain).strip("_")
    if text != plain or "__" in node_id or len(text) > 150:
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


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:40]


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.featviz-{os.getpid()}-{_host()}-"


def _pid_is_dead(pid: int) -> bool:
    """True only when no process ``pid`` exists on this machine (never guessed on Windows)."""
    if os.name == "nt" or pid == os.getpid():  # os.kill(pid, 0) would terminate it on Windows
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return False
    return False


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that killed pytest-featviz writers left in ``folder``.

    Only files named as :func:`write_atomic` names them are considered; one is stale
    when its writer ran on this host and is no longer alive, or when it is older than
    :data:`STALE_AFTER_S` seconds. The temporary files of live processes (another
    pytest-xdist worker writing right now) are kept. Never raises ``OSError``: a folder
    that is missing or cannot be listed is left as it is.

    Returns
    -------
    list of pathlib.Path
        The files removed.

    Examples
    --------
    >>> import subprocess, sys, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    >>> pid = int(gone.stdout)  # a process that has exited
    >>> dead = folder / f".b.npz.featviz-{pid}-{_host()}-x1y2z3w4.tmp"
    >>> live = folder / f".b.npz.featviz-{os.getpid()}-{_host()}-a1b2c3d4.tmp"
    >>> _ = dead.write_bytes(b"half"), live.write_bytes(b"half")
    >>> [p.name == dead.name for p in remove_stale_temporaries(folder)]
    [True]
    >>> [p.name == live.name for p in folder.iterdir()]
    [True]
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    host, now = _host(), time.time()
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None:
            continue
        path = Path(folder) / name
        with suppress(OSError):
            old = now - path.stat().st_mtime > STALE_AFTER_S
            if old or (match["host"] == host and _pid_is_dead(int(match["pid"]))):
                path.unlink()
                removed.append(path)
    return removed


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a reader (or a crash) sees the old file or the new one.

    The bytes go to a temporary file in the same folder (created with its parents),
    are flushed to disk, and the file is moved into place with ``os.replace``. A failed
    write removes its temporary file; a killed one leaves it for the next write into
    the folder to remove (see :func:`remove_stale_temporaries`, which runs first).

    Raises
    ------
    OSError
        The folder cannot be created or written; the target is untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "out" / "a.txt", b"new")
    >>> path.read_bytes(), [p.name for p in path.parent.iterdir()]
    (b'new', ['a.txt'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=_temporary_prefix(target), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through :func:`write_atomic` (numpy values become lists and numbers).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.json"
    >>> write_json_atomic(path, {"values": np.arange(2)})
    >>> json.loads(path.read_text())
    {'values': [0, 1]}
    """
    write_atomic(path, json.dumps(data, indent=2, default=_jsonable).encode("utf-8"))


def _blocked_because(path: Path, exc: OSError) -> str:
    """Why ``path`` cannot be written: the regular file standing where a folder must be, or the OS's reason."""
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    return exc.strerror or str(exc)


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
    unwritten: list[tuple[Path, str]] = field(default_factory=list)  # artifacts that could not be written, and why
    pictures: set[str] = field(default_factory=set)  # picture file names given out so far

    __test__ = False  # not a pytest test class

    def artifact_path(self, name: str, suffix: str) -> Path | None:
        """``<artifacts>/<sanitized node id>/<name><suffix>``, or None when artifacts are off."""
        if self.artifacts_dir is None:
            return None
        return self.artifacts_dir / sanitize(self.node_id) / f"{sanitize(name)}{suffix}"

    def _picture_path(self, name: str) -> Path | None:
        """A PNG path no earlier picture of this test has: ``<name>.png``, then ``<name>-2.png``, ..."""
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
        from .render import save_png

        try:
            save_png(path, images, **grid_options)
        except OSError as exc:
            self.unwritten.append((path, _blocked_because(path, exc)))
            return None
        self.saved.append(path)
        return path

    def write_record(self, path: Path, data: Any) -> Path | None:
        """Write the test's JSON record to ``path``; None (and listed in :attr:`unwritten`) if it cannot be."""
        try:
            write_json_atomic(path, data)
        except OSError as exc:
            self.unwritten.append((path, _blocked_because(path, exc)))
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
        return (f"featviz could not write the artifacts of {self.node_id}: the folder {self.artifacts_dir} cannot be "
                f"written ({reasons}); not saved: {files}. Point --featviz-artifacts (or the featviz_artifacts ini "
                "key, or @pytest.mark.featviz(artifacts=...)) at a folder that can be written.")

    def record(self, entry: dict) -> None:
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
            from .errors import ConfigurationError

            raise ConfigurationError(account)
        _add_note(exc, account)
