"""The one Record of an assertion's outcome, and its one JSON layout (no TensorFlow needed)."""

import json

import numpy as np
import pytest

from pytest_featviz.claims import Record, from_json, read_record_file, record_file, to_json
from pytest_featviz.claims.record import SCHEMA
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.report import render_report


def test_a_record_round_trips_through_json_with_numpy_values_made_plain():
    rec = Record(
        "assert_reaches",
        False,
        claim="ClassLogit(0) reaches >= 3.5",
        threshold=np.float32(3.5),
        best_value=np.float64(3.25),
        values=np.array([3.25, 1.0]),
        steps=np.array([30, 30]),
        seed=7,
        metrics={"entropy": np.float32(2.5)},
        picture="a.png",
    )
    text = to_json([rec])
    assert json.loads(text)["schema"] == SCHEMA
    (back,) = from_json(text)
    assert back == rec
    assert back.values == (3.25, 1.0) and back.steps == (30, 30) and back.threshold == 3.5
    assert type(back.threshold) is float and back.metrics == {"entropy": 2.5}


def test_unset_fields_are_left_out_and_unknown_keys_are_kept():
    rec = Record.from_dict({"kind": "assert_structure", "passed": True, "added_later": [1, 2]})
    assert rec.extra == {"added_later": [1, 2]} and rec.to_dict() == {
        "kind": "assert_structure",
        "passed": True,
        "added_later": [1, 2],
    }
    assert "added_later" in render_report([rec])  # shown in the row's details


def test_record_json_names_its_test_and_reads_back_attributed_to_it():
    data = record_file("t.py::test_x", 3, [Record("assert_reaches", True, threshold=1)])
    assert data["test"] == "t.py::test_x" and data["seed"] == 3 and data["schema"] == SCHEMA
    assert data["assertions"] == [{"kind": "assert_reaches", "passed": True, "threshold": 1.0}]
    assert read_record_file(json.loads(json.dumps(data))) == [
        Record("assert_reaches", True, threshold=1.0, test="t.py::test_x")
    ]


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        (json.dumps({"schema": SCHEMA + 1, "records": []}), ConfigurationError, f"schema {SCHEMA + 1}"),
        (json.dumps([{"kind": "assert_reaches"}]), ConfigurationError, "an object with a list 'records'"),
        (json.dumps({"schema": SCHEMA, "records": [{"passed": True}]}), ConfigurationError, "needs a 'kind'"),
        (json.dumps({"schema": SCHEMA, "records": ["x"]}), FeatvizTypeError, "must be a dict"),
    ],
)
def test_records_of_another_layout_are_refused_by_name(text, error, words):
    with pytest.raises(error, match=words):
        from_json(text)


def test_the_shard_and_host_travel_with_a_record_and_older_records_read_without_them():
    rec = Record("assert_reaches", False, best_value=3.0, deciding_value=2.5).with_test(
        "t.py::a", "failed", shard="2/4", host="ci-7"
    )
    assert from_json(to_json([rec])) == [rec]
    assert (rec.shard, rec.host, rec.decided_by()) == ("2/4", "ci-7", 2.5)
    assert rec.with_test("t.py::a", "failed").shard == "2/4"  # re-attributing keeps where it ran
    old = Record.from_dict({"kind": "assert_reaches", "passed": True, "best_value": 1.0})
    assert (old.shard, old.host, old.deciding_value, old.decided_by(), dict(old.extra)) == (None, None, None, 1.0, {})
