"""Files that pytest-featviz writes: atomic writes, clean-up of abandoned temporaries, safe names.

Every file pytest-featviz writes (artifacts, records, baselines, reports) goes through
:func:`write_atomic`: a temporary file in the same folder, renamed into place, so a run
killed at any moment leaves each file old or new, never half-written. The temporary
file's name carries the writer's process id and host; the next write into that folder
(and :func:`pytest_featviz.baselines.load`) removes the ones whose writer is dead
(:func:`remove_stale_temporaries`), and never those of a live process, such as another
pytest-xdist worker.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import time
import zlib
from contextlib import suppress
from pathlib import Path
from typing import Any

__all__ = [
    "sanitize",
    "write_atomic",
    "write_json_atomic",
    "remove_stale_temporaries",
    "blocked_because",
    "jsonable",
    "STALE_AFTER_S",
]

STALE_AFTER_S = 3600.0  # a temporary file this old is abandoned whoever wrote it (another host, a reused pid)
_TEMPORARY = re.compile(r"^\..+\.featviz-(?P<pid>[0-9]+)-(?P<host>[A-Za-z0-9-]*)-[a-z0-9_]+\.tmp$")


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
    removed: list[Path] = []
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
    write_atomic(path, json.dumps(data, indent=2, default=jsonable).encode("utf-8"))


def blocked_because(path: Path, exc: OSError) -> str:
    """Why ``path`` cannot be written: the regular file standing where a folder must be, or the OS's reason."""
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    return exc.strerror or str(exc)


def jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)
