"""The JSON file of a run: every record, every test's outcome, and where and when it ran.

One file per run (or per shard of a run split across CI jobs), written by the plugin
(``--featviz-records FILE.json``, else ``featviz-run.json`` in the artifacts folder) and read
by the HTML report, ``featviz report merge`` and the Markdown summary. Layout (:data:`RUN_SCHEMA` 1)::

    {"format": "featviz-run", "schema": 1, "record_schema": 1,
     "shards": [{"shard": "1/2" or null, "host": "ci-a", "started": ISO time, "finished": ISO time,
                 "environment": {"tensorflow": ..., "keras": ..., "seed": ..., ...}}],
     "tests": {"t.py::test_a": {"outcome": "failed", "message": "AssertionError: ...",
                                "shard": "1/2", "host": "ci-a"}, ...},
     "records": [Record.to_dict(), ...]}

Picture paths are stored relative to the file's folder when they lie under it, so a
folder of artifacts copied to another machine still shows its pictures.

:func:`read_run` also reads a test's ``record.json`` (the only file that versions before the run
file wrote, with or without its ``schema`` key): its records, and the test with the outcome
``unknown``, since that file never held it (a failed assertion in it counts as a real failure).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._io import write_atomic
from ..claims import Record, read_record_file
from ..claims.record import SCHEMA as RECORD_SCHEMA
from ..errors import ConfigurationError, FeatvizTypeError

__all__ = ["Run", "RUN_SCHEMA", "RUN_FORMAT", "write_run", "read_run", "find_runs", "merge_runs", "assertion_outcome"]

RUN_FORMAT = "featviz-run"
RUN_SCHEMA = 1  # the layout of the run file; raise it when a key changes meaning
RUN_FILE = "featviz-run.json"
RECORD_FILE = "record.json"  # one test's records, in its artifacts folder
OUTCOMES = ("failed", "caught", "expected", "passed")  # of an assertion, in the report's order


def assertion_outcome(record: Record) -> str:
    """``passed``; else ``failed`` (a real failure: its test failed), ``expected`` (xfailed) or ``caught``.

    Examples
    --------
    >>> [assertion_outcome(Record("assert_reaches", False, outcome=o)) for o in ("failed", "xfailed", "passed")]
    ['failed', 'expected', 'caught']
    >>> assertion_outcome(Record("assert_reaches", True, outcome="failed"))
    'passed'
    """
    if record.passed:
        return "passed"
    if record.outcome in (None, "failed", "error"):
        return "failed"
    return "expected" if record.outcome == "xfailed" else "caught"  # pytest.raises, a warning, a skip


@dataclasses.dataclass(frozen=True)
class Run:
    """The records of one run (or of merged shards), the outcome of each test, and each shard's metadata.

    Attributes
    ----------
    records : tuple of Record
        One per featviz assertion, attributed to its test (and shard and host).
    tests : mapping
        Node id -> ``{"outcome": ..., "message": ..., "shard": ..., "host": ...}`` for every test that ran.
    shards : tuple of mapping
        One per shard: ``shard``, ``host``, ``started``, ``finished``, ``environment``.
    """

    records: tuple[Record, ...] = ()
    tests: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    shards: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, records: Iterable[Record | Mapping[str, Any]], header: Mapping[str, Any] | None = None) -> Run:
        """A run of bare ``records`` (Records or their dicts); ``header`` is its environment."""
        if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
            raise FeatvizTypeError(f"records must be a list of dicts (one per assertion); got {type(records).__name__}")
        checked = []
        for i, record in enumerate(records):
            if not isinstance(record, (Mapping, Record)):
                raise FeatvizTypeError(
                    f"record {i} must be a Record or a dict; got {type(record).__name__}: {record!r}"
                )
            checked.append(record if isinstance(record, Record) else Record.from_dict(record))
        tests = {r.test: {"outcome": r.outcome} for r in checked if r.test and r.outcome}
        return cls(tuple(checked), tests, ({"environment": dict(header or {})},))

    def to_dict(self, folder: Path | None = None) -> dict[str, Any]:
        """The run file's content; picture paths under ``folder`` become relative to it."""
        return {
            "format": RUN_FORMAT,
            "schema": RUN_SCHEMA,
            "record_schema": RECORD_SCHEMA,
            "shards": [dict(s) for s in self.shards],
            "tests": {k: dict(v) for k, v in self.tests.items()},
            "records": [_moved(r, folder, relative=True).to_dict() for r in self.records],
        }

    @classmethod
    def from_dict(cls, data: Any, folder: Path | None = None, what: str = "a featviz run") -> Run:
        """The run of :meth:`to_dict`'s content; relative picture paths are read against ``folder``."""
        if not isinstance(data, Mapping) or data.get("format") != RUN_FORMAT:
            raise ConfigurationError(f"{what} is not a featviz run file (no 'format': {RUN_FORMAT!r})")
        for key, version in (("schema", RUN_SCHEMA), ("record_schema", RECORD_SCHEMA)):
            if data.get(key) != version:
                raise ConfigurationError(
                    f"{what} has {key} {data.get(key)!r}; this version of pytest-featviz reads {key} {version}"
                )
        records = tuple(_moved(Record.from_dict(r), folder, relative=False) for r in data.get("records", []))
        return cls(records, dict(data.get("tests", {})), tuple(data.get("shards", [])))


def _moved(record: Record, folder: Path | None, *, relative: bool) -> Record:
    """``record`` with its picture paths made relative to ``folder`` (or resolved against it)."""
    if folder is None:
        return record

    def move(path: str) -> str:
        if relative:
            absolute = Path(path).absolute()
            return (
                absolute.relative_to(folder.absolute()).as_posix()
                if absolute.is_relative_to(folder.absolute())
                else path
            )
        return path if Path(path).is_absolute() else str(folder / path)

    pictures = {k: move(v) for k, v in record.pictures.items() if v} if record.pictures else record.pictures
    return dataclasses.replace(record, picture=move(record.picture) if record.picture else None, pictures=pictures)


def write_run(path: str | os.PathLike[str], run: Run) -> Path:
    """Write ``run`` as JSON to ``path`` (atomically; missing folders are created); return the path.

    Examples
    --------
    >>> import tempfile
    >>> out = write_run(Path(tempfile.mkdtemp()) / "featviz-run.json", Run.of([Record("assert_reaches", True)]))
    >>> [r.kind for r in read_run(out).records]
    ['assert_reaches']
    """
    target = Path(path)
    text = json.dumps(run.to_dict(target.parent), indent=1)
    return write_atomic(target, text.encode("utf-8"))


def read_run(path: str | os.PathLike[str]) -> Run:
    """The run in the file ``path`` (see :func:`write_run`), or the one test of a ``record.json``.

    A file of another schema is a ConfigurationError naming it. A ``record.json`` (``{"test": ...,
    "assertions": [...]}``, with or without ``schema``) gives a run of its test, whose outcome is
    ``unknown``; a picture path that no longer exists (an absolute path on the machine that ran the
    test) is looked up by its name in the file's folder, where the plugin saved it.

    Examples
    --------
    >>> import tempfile
    >>> older = Path(tempfile.mkdtemp()) / "record.json"
    >>> _ = older.write_text(json.dumps({"test": "t::a", "seed": 1, "assertions": [{"kind": "assert_reaches"}]}))
    >>> run = read_run(older)
    >>> [(r.test, r.passed) for r in run.records], dict(run.tests)
    ([('t::a', True)], {'t::a': {'outcome': 'unknown'}})
    """
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{source} is not JSON: {exc}") from None
    if isinstance(data, Mapping) and "format" not in data and "assertions" in data:
        try:
            records = [_found(r, source.parent) for r in read_record_file(data)]
        except ConfigurationError as exc:
            raise ConfigurationError(f"{source}: {exc}") from None
        return Run(tuple(records), {str(r.test): {"outcome": "unknown"} for r in records})
    return Run.from_dict(data, source.parent, what=str(source))


def _found(record: Record, folder: Path) -> Record:
    """``record`` with each picture path that does not exist replaced by the file of its name in ``folder``."""

    def find(path: str) -> str:
        given = folder / path  # an absolute path stays as it is
        return str(given) if given.exists() or not (folder / given.name).exists() else str(folder / given.name)

    pictures = {k: find(v) for k, v in record.pictures.items() if v} if record.pictures else record.pictures
    return dataclasses.replace(record, picture=find(record.picture) if record.picture else None, pictures=pictures)


def find_runs(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The run files among ``paths``: each file as given; in each folder, every ``featviz-run*.json`` at any
    depth, and every ``record.json`` that lies outside their folders (the artifacts of older versions).

    A folder with neither is a ConfigurationError naming it (a shard's artifacts that were not downloaded).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> out = write_run(folder / "new" / RUN_FILE, Run())
    >>> _ = (folder / "new" / "t").mkdir(), (folder / "new" / "t" / RECORD_FILE).write_text("{}")  # its run file has it
    >>> _ = (folder / "old" / "t").mkdir(parents=True), (folder / "old" / "t" / RECORD_FILE).write_text("{}")
    >>> [p.relative_to(folder).as_posix() for p in find_runs([folder])]
    ['new/featviz-run.json', 'old/t/record.json']
    """
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_file():
            found.append(path)
            continue
        if not path.is_dir():
            raise ConfigurationError(f"{path} is neither a run file nor a folder")
        runs = sorted(path.rglob("featviz-run*.json"))
        covered = [run.parent for run in runs]
        older = sorted(p for p in path.rglob(RECORD_FILE) if not any(p.is_relative_to(c) for c in covered))
        if not runs and not older:
            raise ConfigurationError(
                f"{path} holds no featviz-run*.json nor record.json: was it written with --featviz-artifacts?"
            )
        found += runs + older
    return found


def merge_runs(runs: Iterable[Run]) -> Run:
    """One run of the records, tests and shards of ``runs`` (shards of one suite): as if it had run at once.

    Examples
    --------
    >>> a = Run.of([Record("assert_reaches", True, test="t::a", outcome="passed")])
    >>> b = Run.of([Record("assert_reaches", False, test="t::b", outcome="failed")])
    >>> merged = merge_runs([a, b])
    >>> sorted(merged.tests), len(merged.records), len(merged.shards)
    (['t::a', 't::b'], 2, 2)
    """
    records: list[Record] = []
    tests: dict[str, Mapping[str, Any]] = {}
    shards: list[Mapping[str, Any]] = []
    for run in runs:
        records += run.records
        tests.update(run.tests)
        shards += run.shards
    return Run(tuple(records), tests, tuple(shards))
