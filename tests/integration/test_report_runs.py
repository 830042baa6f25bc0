"""The HTML report written by real runs: `--featviz-report` under pytest-xdist, the ini key, shards merged,
and the filters as a headless Chromium uses them."""

import keras  # noqa: F401  at the top: in-process runs restore sys.modules, and TensorFlow cannot be imported twice
import pytest
from browser import look
from pages import Page, decode_png, report_records
from test_plugin_edges import FIXTURE_TESTS, check_assertions_in_fixtures

from pytest_featviz.cli import main
from pytest_featviz.report import read_run, write_report

pytest_plugins = ["pytester"]


@pytest.fixture
def records(tmp_path):
    return report_records(tmp_path)


SUITE = """
import os
import pytest
import pytest_featviz as fv

@pytest.fixture(autouse=True)
def note_worker(request):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    open(f"ran_on_{worker}_{request.node.name}", "w").close()

@pytest.mark.featviz_model("ones.keras")
@pytest.mark.parametrize("k", [0, 1])
def test_reaches(featviz_model, k):
    fv.assert_reaches(featviz_model, fv.ClassLogit(k), 2.5, constraints=fv.Box(0, 1), steps=60)

@pytest.mark.featviz_model("ones.keras")
def test_too_high(featviz_model):
    fv.assert_reaches(featviz_model, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), steps=20)

def test_no_featviz():
    pass
"""


def run(pytester, *args):
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


PICTURES = """
import pytest
import pytest_featviz as fv

@pytest.mark.featviz_model("ones.keras")
@pytest.mark.parametrize("k", [0, 1, 0, 1])
def test_case(featviz_model, featviz, k):
    featviz.save("picture", [[0.0, 0.5, 1.0]])
    fv.assert_reaches(featviz_model, fv.ClassLogit(k), 2.5, constraints=fv.Box(0, 1), steps=30)
"""


def test_report_merges_the_records_of_both_xdist_workers(pytester, model_file):
    """One run under two workers (each a fresh interpreter, so one run serves every xdist check): the
    report merges both workers' records, the summary is printed once, the workers share no files, and
    assertions made in fixtures reach the controller as their tests' (test_plugin_edges)."""
    pytester.makepyfile(test_suite=SUITE, test_pictures=PICTURES, test_fixtures=FIXTURE_TESTS)
    note = SUITE[SUITE.index("@pytest.fixture") : SUITE.index("@pytest.mark.featviz_model")]
    pytester.makeconftest("import os\nimport pytest\n\n" + note)  # which worker ran each test, in every file
    args = ("-n", "2", "--dist", "load", "--featviz-report", "out/run.html", "--featviz-seed", "7", "--junitxml=j.xml")
    result = run(pytester, *args)
    result.assert_outcomes(passed=8, failed=1, errors=1)
    workers = {p.name.split("_")[2] for p in pytester.path.glob("ran_on_*") if "no_featviz" not in p.name}
    assert workers == {"gw0", "gw1"}  # both workers ran featviz tests
    report = pytester.path / "out" / "run.html"
    assert result.stdout.str().count("featviz assertions ran") == 1
    result.stdout.fnmatch_lines(["*10 featviz assertions ran, 2 failed*", f"*report: {report}*"])
    page = Page(report.read_text(encoding="utf-8"))
    tests = sorted(row["test"] for row in page.rows if row["test"].startswith("test_suite.py"))
    assert tests == ["test_suite.py::test_reaches[0]", "test_suite.py::test_reaches[1]", "test_suite.py::test_too_high"]
    failed = [row for row in page.rows if "failed" in row["classes"]]
    assert page.rows[: len(failed)] == failed  # failures first
    assert sorted(row["test"] for row in failed) == [
        "test_fixtures.py::test_setup_fails",
        "test_suite.py::test_too_high",
    ]
    (too_high,) = (row for row in failed if row["test"] == "test_suite.py::test_too_high")
    assert too_high["cells"][0] == "FAILED" and "test failed" in report.read_text()
    assert len(too_high["images"]) == 1 and decode_png(too_high["images"][0]).size[0] > 0
    assert "2 real featviz failures" in page.summary and "10 tests ran (1 failed, 1 error, 8 passed)" in page.summary
    # without --featviz-artifacts the pictures go next to the report, one folder per test whichever worker ran it
    files = pytester.path / "out" / "run_files"
    assert (files / "test_suite.py__test_too_high" / "assert_reaches.png").is_file()
    assert len(sorted(files.glob("test_pictures.py*/picture.png"))) == 4
    assert "seed" in report.read_text() and ">7<" in report.read_text()
    check_assertions_in_fixtures(result, files, pytester.path / "j.xml", report, seed=7)


def test_explicit_artifacts_win_over_the_report_folder_and_the_ini_key_works(pytester, model_file):
    pytester.makepyfile(test_suite=SUITE)
    ini = "featviz_report = from_ini.html\nfeatviz_summary = out/summary.md\nfeatviz_records = out/run.json\n"
    pytester.makeini("[pytest]\n" + ini + "featviz_shard = ci-3\n")
    result = run(pytester, "--featviz-artifacts", "arts", "-k", "too_high")
    result.assert_outcomes(failed=1)
    (record,) = read_run(pytester.path / "out" / "run.json").records  # not in the artifacts: asked for elsewhere
    assert (record.test, record.shard, record.passed) == ("test_suite.py::test_too_high", "ci-3", False)
    assert not (pytester.path / "arts" / "featviz-run.json").exists()
    assert "`test_suite.py::test_too_high`" in (pytester.path / "out" / "summary.md").read_text()
    assert (pytester.path / "arts" / "test_suite.py__test_too_high" / "assert_reaches.png").is_file()
    assert not (pytester.path / "from_ini_files").exists()
    page = Page((pytester.path / "from_ini.html").read_text(encoding="utf-8"))
    assert len(page.rows) == 1 and len(page.images) == 1
    decode_png(page.images[0])


# -- shards of a run on several machines: the run file, the merge, the Markdown summary -----------

MORE = """

@pytest.mark.featviz_model("ones.keras")
def test_caught(featviz_model):
    with pytest.raises(AssertionError):
        fv.assert_reaches(featviz_model, fv.ClassLogit(1), 3.5, constraints=fv.Box(0, 1), steps=5)

@pytest.mark.xfail(reason="a known gap")
@pytest.mark.featviz_model("ones.keras")
def test_expected(featviz_model):
    fv.assert_reaches(featviz_model, fv.ClassLogit(1), 3.5, constraints=fv.Box(0, 1), steps=5)
"""


def test_two_shards_merged_give_the_report_and_summary_of_one_run_over_both(pytester, model_file, capsys):
    pytester.makepyfile(test_suite=SUITE + MORE)
    for name, selection in (("1", "reaches or caught"), ("2", "not reaches and not caught")):
        result = run(pytester, "-k", selection, "--featviz-report", f"shard{name}/report.html", "--featviz-shard", name)
        assert result.ret in (0, 1)
    one = run(pytester, "--featviz-report", "one/report.html", "--featviz-summary", "one/summary.md")
    one.assert_outcomes(passed=4, failed=1, xfailed=1)
    one.stdout.fnmatch_lines([f"*summary: {pytester.path / 'one' / 'summary.md'}*"])
    shard = read_run(pytester.path / "shard1" / "report_files" / "featviz-run.json")
    assert {r.shard for r in shard.records} == {"1"} and all(r.host for r in shard.records)
    assert sorted(shard.tests) == [
        "test_suite.py::test_caught",
        "test_suite.py::test_reaches[0]",
        "test_suite.py::test_reaches[1]",
    ]

    code = main(["report", "merge", "shard2", "shard1", "-o", "merged/report.html", "--summary", "merged/summary.md"])
    assert code == 1 and "merged 2 run files: 5 featviz assertions in 6 tests" in capsys.readouterr().out
    merged, whole = (Page((pytester.path / d / "report.html").read_text()) for d in ("merged", "one"))
    assert [(r["test"], r["classes"], r["cells"]) for r in merged.rows] == [
        (r["test"], r["classes"], r["cells"]) for r in whole.rows
    ]
    assert [[decode_png(u).tobytes() for u in r["images"]] for r in merged.rows] == [
        [decode_png(u).tobytes() for u in r["images"]] for r in whole.rows
    ]
    assert [whole.outcome_of(r) for r in whole.rows] == ["failed", "caught", "expected", "passed", "passed"]
    assert merged.summary.split("seed")[0] == whole.summary.split("seed")[0]
    assert merged.summary.count("keras") == 1  # the same environment: once
    assert "shard1 on " in merged.summary and "shard2 on " in merged.summary and "shard" not in whole.summary

    for folder in ("one", "merged"):  # exactly the real failure, with its account
        text = (pytester.path / folder / "summary.md").read_text()
        assert [line for line in text.splitlines() if line.startswith("### ")] == [
            "### FAILED `test_suite.py::test_too_high`"
        ]
        assert "AssertionError: assert_reaches failed: expected ClassLogit(0) reaches >= 3.5" in text
        assert "| 1 | 1 | 1 | 2 |" in text


def test_merge_names_a_folder_without_records(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", "merge", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html")]) == 2
    assert f"{tmp_path / 'empty'} holds no featviz-run*.json" in capsys.readouterr().err


# -- a real browser (the layout, with and without JavaScript: test_report_examples.py) --------------

FILTERS = """(() => {
  const shown = () => [...document.querySelectorAll("tbody.assertion")].filter((r) => r.getClientRects().length)
    .map((r) => r.id);
  const sections = () => [...document.querySelectorAll("section.test")].filter((s) => s.getClientRects().length)
    .length;
  const tick = (name, value, on) => {
    const box = document.querySelector(`input[name="${name}"][value="${value}"]`);
    box.checked = on;
    box.dispatchEvent(new Event("change", {bubbles: true}));
  };
  const search = (text) => {
    const box = document.getElementById("search");
    box.value = text;
    box.dispatchEvent(new Event("input", {bubbles: true}));
  };
  const seen = {filters: document.getElementById("filters").getClientRects().length > 0, all: shown()};
  tick("outcome", "passed", false); seen.unpassed = shown(); seen.unpassedSections = sections();
  tick("outcome", "passed", true); tick("kind", "assert_reaches", false); seen.unreaches = shown();
  tick("kind", "assert_reaches", true); search("Test_C_GATE  edges"); seen.searched = shown();
  seen.searchedSections = sections(); seen.counter = document.getElementById("shown").textContent;
  search(""); seen.again = shown();
  return seen;
})()"""


def test_filters_hide_and_show_rows_in_headless_chromium(records, tmp_path):
    out = write_report(tmp_path / "report.html", records)
    page = Page(out.read_text(encoding="utf-8"))
    ids = {row["attrs"]["id"]: row for row in page.rows}
    seen = look(out, FILTERS, tmp_path)
    assert seen["filters"] and seen["all"] == list(ids) and len(ids) == 6
    assert seen["unpassed"] == [i for i, row in ids.items() if page.outcome_of(row) != "passed"]
    assert seen["unpassedSections"] == 4
    assert seen["unreaches"] == [i for i, row in ids.items() if row["cells"][1] != "assert_reaches"]
    assert seen["searched"] == [i for i, row in ids.items() if row["test"] == "t.py::test_c_gate"]
    assert (seen["searchedSections"], seen["counter"]) == (1, "1 of 6 assertions shown")
    assert seen["again"] == list(ids)
