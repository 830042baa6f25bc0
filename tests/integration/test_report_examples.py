"""The report of real runs as a reviewer sees it: the examples run, a shard with a real failure, older records.

Running the examples costs about a minute, so these tests read the run files of a real run
(``data/examples_run/``, written by ``data/make_examples_run.py``: ``make examples-run``): the
examples suite as ``make demo`` runs it, and a one-test shard ``gate`` with a real failure.
``data/legacy_artifacts/`` holds the ``record.json`` files of the plugin at ff55174, the last
version that wrote no run file (and no ``schema`` key): see ``data/README.md``.
"""

import json
from collections import Counter
from pathlib import Path

import pytest
from browser import look
from pages import Page, decode_png

from pytest_featviz.claims.record import SCHEMA as RECORD_SCHEMA
from pytest_featviz.cli import main
from pytest_featviz.errors import ConfigurationError
from pytest_featviz.report import (
    RUN_FORMAT,
    RUN_SCHEMA,
    assertion_outcome,
    embed_png,
    merge_runs,
    read_run,
    render_report,
    render_summary,
)

DATA = Path(__file__).parent / "data"
EXAMPLES, GATE = DATA / "examples_run" / "examples", DATA / "examples_run" / "gate"
LEGACY = DATA / "legacy_artifacts"
GATE_TEST = "test_release_gate.py::test_a_seven_cannot_become_a_one_within_0_02"
REGENERATE = "regenerate them: make examples-run (python tests/integration/data/make_examples_run.py)"


@pytest.fixture(scope="module")
def examples():
    return read_run(EXAMPLES / "featviz-run.json")


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    """The report of the examples run and the gate shard, merged by ``featviz report merge``."""
    out = tmp_path_factory.mktemp("merged") / "report.html"
    assert main(["report", "merge", str(EXAMPLES), str(GATE), "-o", str(out)]) == 1  # the gate's real failure
    return out


def test_the_committed_runs_read_with_this_version_and_name_pictures_that_exist():
    for folder in (EXAMPLES, GATE):
        data = json.loads((folder / "featviz-run.json").read_text(encoding="utf-8"))
        versions = (data["format"], data["schema"], data["record_schema"])
        assert versions == (RUN_FORMAT, RUN_SCHEMA, RECORD_SCHEMA), f"the committed run files are older: {REGENERATE}"
        try:
            run = read_run(folder / "featviz-run.json")
        except ConfigurationError as exc:
            pytest.fail(f"{exc}: {REGENERATE}")
        pictures = [p for r in run.records for p in [r.picture, *(r.pictures or {}).values()] if p]
        assert pictures and all(embed_png(p) for p in pictures), f"a picture is missing: {REGENERATE}"
        assert all(r.test in run.tests for r in run.records)


def test_the_examples_run_reads_green_its_failures_shown_as_caught_or_expected(examples):
    failed = [r for r in examples.records if not r.passed]
    xfailed = {test for test, info in examples.tests.items() if info["outcome"] == "xfailed"}
    assert len(failed) >= 3 and {r.test for r in failed} == xfailed  # the three xfail demonstrations
    assert {assertion_outcome(r) for r in failed} == {"expected"}
    page = Page(render_report(examples))
    assert "every featviz claim held" in page.summary and "real featviz failure" not in page.summary
    assert f"{len(failed)} failures caught or expected in tests that passed or xfailed" in page.summary
    assert Counter(page.outcome_of(row) for row in page.rows) == {
        "expected": len(failed),
        "passed": len(examples.records) - len(failed),
    }
    assert Counter(row["cells"][0] for row in page.rows)["FAILED"] == 0
    assert [s["test"] for s in page.sections if "passed" not in s["classes"]] == sorted(xfailed)  # before the rest
    text = render_summary(examples)
    assert text.startswith("## featviz: every claim held") and "### " not in text
    assert f"| 0 | 0 | {len(failed)} | {len(examples.records) - len(failed)} |" in text


def test_with_a_shard_that_really_failed_the_markdown_summary_lists_exactly_that_failure(examples):
    run = merge_runs([examples, read_run(GATE / "featviz-run.json")])
    text = render_summary(run)
    assert [line for line in text.splitlines() if line.startswith("### ")] == [f"### FAILED `{GATE_TEST}`"]
    assert "AssertionError: assert_reaches failed: expected ClassProbability(1) reaches >= 0.9" in text
    assert "(shard gate on " in text and text.startswith("## featviz: 1 real featviz failure\n")


# -- headless Chromium at 1280 px: the merged report, with and without JavaScript ------------------

SEEN = """(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, right: r.right}; };
  const shown = (e) => e.getClientRects().length > 0 && e.getBoundingClientRect().height > 0;
  const first = document.querySelector("tbody.assertion.failed tr.facts");
  const label = document.querySelector("label.zoom"), picture = label.querySelector("img");
  const small = picture.getBoundingClientRect().width;
  label.click();
  const enlarged = picture.getBoundingClientRect().width;
  label.click();
  const nav = document.getElementById("filters");
  return {
    width: document.documentElement.clientWidth, height: window.innerHeight,
    scrollWidth: document.documentElement.scrollWidth, summary: box(document.getElementById("summary")),
    first: box(first), firstTest: first.closest("section").querySelector(".test-id").textContent,
    rights: [...document.querySelectorAll("table.assertions th, tr.facts td")].map((c) => box(c).right),
    images: [...document.images].map((i) => ({complete: i.complete, w: i.naturalWidth, h: i.naturalHeight})),
    zoom: [small, enlarged, picture.getBoundingClientRect().width],
    rows: [...document.querySelectorAll("tbody.assertion")].map(shown),
    sections: [...document.querySelectorAll("section.test")].map(shown),
    controls: [nav, ...nav.querySelectorAll("input")].map(shown),
    scripted: !nav.hidden || document.getElementById("shown").textContent !== "",
  };
})()"""


def check_layout(seen, report):
    """At 1280 px: the summary, then the gate's real failure above the fold; every column and picture."""
    assert seen["width"] == 1280 and seen["height"] >= 600  # the window less the browser's own bars: the fold
    assert seen["summary"]["bottom"] < seen["first"]["top"] < seen["first"]["bottom"] <= seen["height"]
    assert seen["firstTest"] == GATE_TEST  # the real failure first, before the examples' expected ones
    assert seen["scrollWidth"] <= seen["width"] and max(seen["rights"]) <= seen["width"]  # every column shows
    page = Page(report.read_text(encoding="utf-8"))
    expected = [decode_png(uri).size for uri in page.images]
    assert [(i["w"], i["h"]) for i in seen["images"]] == expected and len(expected) >= 80
    assert all(i["complete"] for i in seen["images"])
    small, enlarged, closed = seen["zoom"]
    assert small >= 200 and enlarged >= 1200 and closed == small  # a click enlarges (CSS), a second one restores
    assert len(seen["rows"]) == len(page.rows) and len(seen["sections"]) == len(page.sections)


def test_at_1280_px_the_summary_and_the_first_real_failure_are_above_the_fold(merged, tmp_path):
    seen = look(merged, SEEN, tmp_path)
    check_layout(seen, merged)
    assert seen["scripted"] and all(seen["controls"])  # the filters are there (their use: test_report_runs.py)


def test_without_javascript_every_row_shows_and_the_filters_are_absent(merged, tmp_path):
    seen = look(merged, SEEN, tmp_path, scripts=False)
    assert not seen["scripted"]  # the page's script did not run: scripts really are off
    check_layout(seen, merged)
    assert all(seen["rows"]) and all(seen["sections"])  # every assertion readable
    assert not any(seen["controls"])  # the filter bar and its inputs take no room


# -- record.json of versions that wrote no run file -------------------------------------------------


def test_merge_reads_the_record_json_of_older_versions_with_their_pictures(tmp_path, capsys):
    older = sorted(LEGACY.rglob("record.json"))
    data = [json.loads(p.read_text()) for p in older]
    assert len(older) == 2 and not any("schema" in d for d in data)  # the layout before the schema key
    failing = next(d["assertions"][0]["picture"] for d in data if d["assertions"][0]["picture"])
    assert Path(failing).is_absolute() and not Path(failing).is_relative_to(LEGACY)  # on the machine that ran it
    out, summary = tmp_path / "report.html", tmp_path / "summary.md"
    assert main(["report", "merge", str(LEGACY), str(GATE), "-o", str(out), "--summary", str(summary)]) == 1
    said = capsys.readouterr().out
    assert "merged 1 run files and 2 record.json files (test outcomes unknown): 3 featviz assertions in 3 tests" in said
    page = Page(out.read_text(encoding="utf-8"))
    rows = {row["test"]: row for row in page.rows}
    assert sorted(rows) == sorted([GATE_TEST, *(d["test"] for d in data)])
    legacy_fail = rows["test_legacy.py::test_a_seven_cannot_become_a_one_within_0_02"]
    assert page.outcome_of(legacy_fail) == "failed"  # its test's outcome is unknown: counted as real
    saved = embed_png(older[0].parent / Path(failing).name)  # found by its name next to its record.json
    assert decode_png(legacy_fail["images"][0]).tobytes() == decode_png(saved).tobytes()
    assert page.outcome_of(rows["test_legacy.py::test_class_3_is_reachable"]) == "passed"
    assert out.read_text().count("test outcome unknown (record.json)") == 2
    assert "3 tests ran (1 failed, 2 of unknown outcome)" in page.summary
    text = summary.read_text()
    assert [line for line in text.splitlines() if line.startswith("### ")] == [
        "### FAILED `test_legacy.py::test_a_seven_cannot_become_a_one_within_0_02`",
        f"### FAILED `{GATE_TEST}`",
    ]
    assert text.count("test outcome unknown (read from a record.json)") == 1


def test_a_record_json_of_another_schema_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "t" / "record.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"schema": RECORD_SCHEMA + 1, "test": "t::a", "assertions": []}))
    with pytest.raises(ConfigurationError, match=f"{path}: record.json has schema {RECORD_SCHEMA + 1}"):
        read_run(path)
