"""What one featviz assertion reports: the :class:`Record`, and the one place it is written and read.

The assertions and the fixture build records; the plugin puts them in the test's
``user_properties`` and ``record.json`` (written by :func:`record_file`, read by
:func:`read_record_file`), where the HTML report and the summary read them again;
the ``featviz reach`` command prints from one. Every JSON text of records goes
through :func:`to_json` / :func:`from_json`, which carry :data:`SCHEMA`.

Examples
--------
>>> rec = Record("assert_reaches", False, threshold=3.5, best_value=3.0, values=(3.0, 2.5), steps=(30, 30))
>>> from_json(to_json([rec])) == [rec]
True
>>> rec.to_dict()["threshold"], "picture" in rec.to_dict()
(3.5, False)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError, FeatvizTypeError

__all__ = ["Record", "SCHEMA", "to_json", "from_json", "record_file", "read_record_file", "plain"]

SCHEMA = 1  # the version of the JSON layout of records; raise it when a field changes meaning


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: arrays and numpy scalars become lists and numbers.

    Examples
    --------
    >>> import numpy as np
    >>> plain(np.array([1.5, 2.0])), plain(np.int64(3)), plain({"a": (np.float32(0.5),)})
    ([1.5, 2.0], 3, {'a': [0.5]})
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # a NumPy array or scalar (not imported
        return value.tolist()  # here: the plugin reads records without loading NumPy)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class Record:
    """One featviz assertion's outcome, as the report, the summary and ``record.json`` show it.

    Attributes
    ----------
    kind : str
        ``assert_reaches``, ``assert_not_reaches``, ``assert_structure`` or ``assert_matches_baseline``.
    passed : bool
        Whether the claim held.
    claim : str
        The claim in words, with the threshold as the user wrote it.
    threshold : float or None
        The threshold of a reach claim, as given.
    best_value, values, steps, seed, status, objective, constraints, model
        The search: the deciding value (the best over the batch), the value and steps
        per item, the seed, the certification status, and reprs of what was searched.
    picture, pictures
        The PNG of the inputs found; named pictures (``obtained``, ``expected``, ...).
    metrics
        Structure metrics: a dict for one image, a list of dicts for a batch.
    bounds
        ``assert_structure``'s bounds per metric (``[min, max]``).
    name, baseline, written, mapping, ssim, max_input_change
        A baseline comparison: the name, the file, whether it was written, the pairing
        of items and the per-item SSIM and input change.
    deciding_value : float or None
        The value that decided the claim: the best item's for ``require="any"`` and for
        ``assert_not_reaches`` (the counterexample's), the worst item's for ``require="all"``.
        None in records written before it existed (the report then shows ``best_value``).
    test, outcome
        The node id and the test's outcome: added by the plugin when it collects the record.
    shard, host
        The shard (``--featviz-shard``) and the machine the test ran on: added by the plugin, so
        records of runs split across CI jobs say where each came from once merged.
    extra : mapping
        Keys a newer writer added that this version does not know (shown in the report's details).
    """

    kind: str
    passed: bool
    claim: str | None = None
    threshold: float | None = None
    best_value: float | None = None
    values: tuple[float, ...] | None = None
    steps: tuple[int, ...] | None = None
    seed: int | None = None
    status: str | None = None
    objective: str | None = None
    constraints: str | None = None
    model: str | None = None
    picture: str | None = None
    pictures: Mapping[str, str] | None = None
    metrics: Any = None
    bounds: Mapping[str, Sequence[float | None]] | None = None
    name: str | None = None
    baseline: str | None = None
    written: bool | None = None
    mapping: tuple[int, ...] | None = None
    ssim: tuple[float, ...] | None = None
    max_input_change: tuple[float, ...] | None = None
    deciding_value: float | None = None
    test: str | None = None
    outcome: str | None = None
    shard: str | None = None
    host: str | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str):
            raise FeatvizTypeError(f"Record kind must be a str; got {self.kind!r}")
        for key in ("values", "steps", "mapping", "ssim", "max_input_change"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, key, tuple(plain(value)))
        for key in ("threshold", "best_value", "deciding_value"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, float(value))
        object.__setattr__(self, "metrics", plain(self.metrics))

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready data; fields that are None (and no extras) are left out."""
        data = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**{k: v for k, v in data.items() if v is not None}, **plain(dict(self.extra))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """A record from :meth:`to_dict`'s data; unknown keys are kept in :attr:`extra`."""
        if not isinstance(data, Mapping):
            raise FeatvizTypeError(f"a record must be a dict; got {type(data).__name__}: {data!r}")
        if "kind" not in data:
            raise ConfigurationError(f"a record needs a 'kind' (the assertion); got keys {sorted(data)}")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        known.setdefault("passed", True)
        return cls(**known, extra={k: v for k, v in data.items() if k not in names})

    def with_test(self, test: str, outcome: str | None, *, shard: str | None = None, host: str | None = None) -> Record:
        """This record, attributed to the test ``test`` that ended with ``outcome`` (on ``shard`` and ``host``)."""
        return dataclasses.replace(self, test=test, outcome=outcome, shard=shard or self.shard, host=host or self.host)

    def decided_by(self) -> float | None:
        """The value that decided the claim: :attr:`deciding_value`, else (older records) :attr:`best_value`.

        Examples
        --------
        >>> Record("assert_reaches", False, best_value=3.0, deciding_value=2.5).decided_by()
        2.5
        >>> Record("assert_reaches", True, best_value=3.0).decided_by()
        3.0
        """
        return self.best_value if self.deciding_value is None else self.deciding_value


def to_json(records: Iterable[Record]) -> str:
    """The JSON text of ``records`` (with :data:`SCHEMA`): what travels in ``user_properties``."""
    return json.dumps({"schema": SCHEMA, "records": [r.to_dict() for r in records]})


def from_json(text: str) -> list[Record]:
    """The records of :func:`to_json`'s text; a text of another schema is a ConfigurationError naming it."""
    data = json.loads(text)
    return _records_of(data, "records", "featviz records")


def record_file(test: str, seed: int, records: Iterable[Record]) -> dict[str, Any]:
    """The content of a test's ``record.json``: the test, its seed and one entry per assertion."""
    return {"schema": SCHEMA, "test": test, "seed": seed, "assertions": [r.to_dict() for r in records]}


def read_record_file(data: Mapping[str, Any]) -> list[Record]:
    """The records of a parsed ``record.json`` (as :func:`record_file` wrote it), attributed to its test.

    Also reads the file of versions before :data:`SCHEMA` existed (to 2026-12-01): the same layout
    and fields without the ``schema`` key. Neither layout holds the test's outcome.

    Examples
    --------
    >>> [r.test for r in read_record_file(record_file("t.py::a", 0, [Record("assert_reaches", True)]))]
    ['t.py::a']
    >>> older = {"test": "t.py::b", "seed": 0, "assertions": [{"kind": "assert_reaches", "passed": False}]}
    >>> [(r.test, r.passed) for r in read_record_file(older)]
    [('t.py::b', False)]
    """
    return [
        r if r.test else r.with_test(str(data.get("test")), r.outcome)
        for r in _records_of(data, "assertions", "record.json", unversioned=True)
    ]


def _records_of(data: Any, key: str, what: str, *, unversioned: bool = False) -> list[Record]:
    """The records under ``key``; ``unversioned``: a layout without ``schema`` reads as this schema."""
    if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
        raise ConfigurationError(f"{what} must be an object with a list {key!r}; got {str(data)[:80]!r}")
    if data.get("schema", SCHEMA if unversioned else None) != SCHEMA:
        raise ConfigurationError(
            f"{what} has schema {data.get('schema')!r}; this version of pytest-featviz reads schema {SCHEMA}"
        )
    return [Record.from_dict(entry) for entry in data[key]]
