"""Plugin edges, with `pytester` in subprocesses: assertions in fixtures, one picture per call, bad seeds."""

import json
import xml.etree.ElementTree as ET

import pytest
from test_plugin import run  # the in-process pytester runner (model_file: tests/conftest.py)

from pytest_featviz._io import sanitize
from pytest_featviz.claims import derive_seed

pytest_plugins = ["pytester"]


def junit_properties(path):
    """{test name: [(property, value), ...]} in file order."""
    return {
        case.get("name"): [(p.get("name"), p.get("value")) for p in case.iter("property")]
        for case in ET.parse(path).iter("testcase")
    }


FIXTURE_TESTS = """
import pytest
import pytest_featviz as fv


@pytest.fixture
def checked_before(featviz_model, featviz):
    fv.assert_reaches(featviz_model, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), steps=10)  # fails: max is 3
    yield featviz_model


@pytest.fixture
def checked_after(featviz_model, featviz):
    yield featviz_model
    fv.assert_reaches(featviz_model, fv.ClassLogit(1), 2.5, constraints=fv.Box(0, 1), steps=30)


@pytest.mark.featviz_model("ones.keras")
def test_setup_fails(checked_before):
    pass


@pytest.mark.featviz_model("ones.keras")
def test_teardown_checks(checked_after):
    fv.assert_reaches(checked_after, fv.ClassLogit(0), 2.5, constraints=fv.Box(0, 1), steps=30)
"""


def check_assertions_in_fixtures(result, arts, junit, report, seed):
    """What a run of FIXTURE_TESTS shows, in one process or under xdist (test_report_runs' run): the failing
    fixture's account names the test's seed and its picture, and each test's assertions, from its fixtures
    and its body, are recorded once under that test (records in ``arts``, JUnit properties, the report)."""
    failing = "test_fixtures.py::test_setup_fails"
    picture = arts / sanitize(failing) / "assert_reaches.png"
    text = result.stdout.str()
    assert f"seed {derive_seed(seed, failing)};" in text  # the test's seed, not the run's
    assert f"pictures: {picture}" in text and "run with --featviz-artifacts" not in text
    assert picture.stat().st_size > 0
    records = {
        name: json.loads((arts / sanitize(f"test_fixtures.py::{name}") / "record.json").read_text())["assertions"]
        for name in ("test_setup_fails", "test_teardown_checks")
    }
    assert [(r["threshold"], r["passed"]) for r in records["test_setup_fails"]] == [(3.5, False)]
    assert [(r["objective"], r["passed"]) for r in records["test_teardown_checks"]] == [
        ("ClassLogit(0)", True),
        ("ClassLogit(1)", True),
    ]  # the call's, then the fixture teardown's

    props = junit_properties(junit)
    assert [v for k, v in props["test_setup_fails"] if k in ("featviz_assertions", "featviz_threshold")] == ["1", "3.5"]
    assert [v for k, v in props["test_teardown_checks"] if k == "featviz_assertions"] == ["2"]  # once, not per phase
    assert "test error" in report.read_text()  # the failing row's test errored in setup


def test_assertions_in_fixtures_run_in_the_tests_context_and_are_counted_once(pytester, model_file):
    # in one process here; under xdist, where the records travel through the controller: test_report_runs
    pytester.makepyfile(test_fixtures=FIXTURE_TESTS)
    result = run(pytester, "--featviz-artifacts", "arts", "--junitxml=junit.xml", "--featviz-report", "report.html")
    result.assert_outcomes(passed=1, errors=1)
    assert result.stdout.str().count("featviz assertions ran") == 1
    result.stdout.fnmatch_lines(["*3 featviz assertions ran, 1 failed*"])
    report = pytester.path / "report.html"
    check_assertions_in_fixtures(result, pytester.path / "arts", pytester.path / "junit.xml", report, seed=0)
    text = report.read_text()
    assert text.count('class="assertion ') == 3 and text.count('class="assertion failed"') == 1


TWO_CALLS = """
import pytest
import pytest_featviz as fv


@pytest.mark.featviz_model("ones.keras")
def test_two_claims(featviz_model, featviz):
    featviz.save("assert_reaches", [[0.0, 0.5, 1.0]])  # a name the assertions use too
    fv.assert_reaches(featviz_model, fv.ClassLogit(0), 2.5, constraints=fv.Box(0, 1), steps=30)
    fv.assert_reaches(featviz_model, fv.ClassLogit(1), 3.5, constraints=fv.Box(0, 1), steps=5)
"""


def test_every_assertion_of_a_test_gets_its_own_picture_and_its_record_points_at_it(pytester, model_file):
    pytester.makepyfile(test_two=TWO_CALLS)
    result = run(pytester, "--featviz-artifacts", "arts", "--featviz-report", "report.html")
    result.assert_outcomes(failed=1)
    folder = pytester.path / "arts" / "test_two.py__test_two_claims"
    record = json.loads((folder / "record.json").read_text())["assertions"]
    assert [(r["passed"], r["picture"]) for r in record] == [
        (True, str(folder / "assert_reaches-2.png")),
        (False, str(folder / "assert_reaches-3.png")),
    ]
    assert f"pictures: {folder / 'assert_reaches-3.png'}" in result.stdout.str()
    assert (
        len(
            {
                (folder / name).read_bytes()
                for name in ("assert_reaches.png", "assert_reaches-2.png", "assert_reaches-3.png")
            }
        )
        == 3
    )


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("seed='abc'", "@pytest.mark.featviz(seed=...) on test_bad.py::test_x must be an integer; got 'abc'"),
        ("seed=True", "@pytest.mark.featviz(seed=...) on test_bad.py::test_x must be an integer; got True"),
        ("seed=1.5", "@pytest.mark.featviz(seed=...) on test_bad.py::test_x must be an integer; got 1.5"),
    ],
)
def test_a_marker_seed_that_is_not_an_integer_names_the_marker_and_the_test(pytester, marker, message):
    pytester.makepyfile(test_bad=f"import pytest\n\n@pytest.mark.featviz({marker})\ndef test_x():\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*UsageError: {message}"])
    assert "--featviz-seed" not in result.stdout.str()


def test_a_marker_seed_given_as_digits_is_used(pytester):
    pytester.makepyfile(
        test_ok="import pytest\n\n@pytest.mark.featviz(seed='9')\n"
        f"def test_x(featviz):\n    assert featviz.seed == {derive_seed(9, 'test_ok.py::test_x')}\n"
    )
    run(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "cli", "message"),
    [
        ("abc", None, "the ini key featviz_seed (in {ini}) must be an integer; got 'abc'"),
        ("abc", "x1", "--featviz-seed must be an integer; got 'x1'"),
    ],
)
def test_a_seed_from_the_ini_or_command_line_that_is_not_an_integer_names_its_source(pytester, ini, cli, message):
    inifile = pytester.makeini(f"[pytest]\nfeatviz_seed = {ini}\n")
    pytester.makepyfile(test_any="def test_x():\n    pass\n")
    result = run(pytester, *(["--featviz-seed", cli] if cli else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message.format(ini=inifile)}"])


# -- baseline_of a test in another folder ------------------------------------------------------
REFERENCE = """
import numpy as np
import pytest

PICTURES = (np.random.default_rng(0).random((2, 8, 8)) > 0.5).astype(np.float32)

{marker}
def test_ref(featviz):
    featviz.assert_matches_baseline("pictures", PICTURES)
"""
CANDIDATE = """
from ref.test_ref import PICTURES

def test_candidate(featviz):
    featviz.assert_matches_baseline("pictures", PICTURES, baseline_of="ref/test_ref.py::test_ref")
"""


@pytest.mark.parametrize("marker", ["", "@pytest.mark.featviz(baselines='stored')"])
def test_the_remedy_for_a_missing_baseline_of_another_folder_writes_where_the_comparison_reads(pytester, marker):
    pytester.mkpydir("ref").joinpath("test_ref.py").write_text(REFERENCE.format(marker=marker))
    pytester.mkpydir("cand").joinpath("test_cand.py").write_text(CANDIDATE)
    pytester.makeini("[pytest]\n")  # the rootdir: node ids and the remedy's command are relative to it
    missing = run(pytester, "cand/test_cand.py", "ref/test_ref.py")
    missing.assert_outcomes(failed=2)
    root = pytester.path / "ref" / ("stored" if marker else "featviz_baselines")
    missing.stdout.fnmatch_lines(
        [
            f"*there is no baseline 'pictures' at {root}/ref_test_ref.py__test_ref/pictures.npz",
            f"*looked in the baselines folder of ref/test_ref.py::test_ref: {root} (*)",
            "*to create it, run: pytest ref/test_ref.py::test_ref --featviz-update-baselines",
        ]
    )
    run(pytester, "ref/test_ref.py::test_ref", "--featviz-update-baselines").assert_outcomes(passed=1)
    assert (root / "ref_test_ref.py__test_ref" / "pictures.npz").is_file()
    run(pytester, "cand/test_cand.py", "ref/test_ref.py").assert_outcomes(passed=2)
