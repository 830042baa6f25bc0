"""The settings table of the README: precedence (marker > command line > ini > default) and one path
rule per source (marker: the test file's folder; command line: the invocation folder; ini: the ini
file's folder), for every path setting. In-process pytester runs: nothing here imports TensorFlow.

The project is laid out so that the three folders differ::

    proj/pytest.ini        the ini file
    proj/tests/test_s.py   the test file
    proj/run/              where pytest is started
"""

import json

import numpy  # noqa: F401 - imported here, not first by an in-process run (a C extension loads once a process)
import pytest

import pytest_featviz._pytest.fixture  # noqa: F401 - the fixture's imports, for the same reason
from pytest_featviz._pytest.settings import Setting

pytest_plugins = ["pytester"]

PATHS_TEST = """
import json
import pytest

{marker}
def test_paths(featviz):
    artifacts = featviz.artifacts_dir
    with open({out!r}, "w") as fh:
        json.dump({{"artifacts": None if artifacts is None else str(artifacts.parent),
                   "baselines": str(featviz.baselines_root())}}, fh)
"""


def run_project(pytester, monkeypatch, *, marker="", cli=(), ini=""):
    proj = pytester.path / "proj"
    (proj / "tests").mkdir(parents=True)
    (proj / "run").mkdir()
    (proj / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    out = pytester.path / "out.json"
    (proj / "tests" / "test_s.py").write_text(PATHS_TEST.format(marker=marker, out=str(out)))
    monkeypatch.chdir(proj / "run")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", "../tests", *cli)
    result.assert_outcomes(passed=1)
    return proj, json.loads(out.read_text())


@pytest.mark.parametrize("name", ["artifacts", "baselines"])
@pytest.mark.parametrize("source", ["marker", "command line", "ini", "default"])
def test_each_path_setting_by_precedence_and_its_sources_path_rule(pytester, monkeypatch, name, source):
    order = ["marker", "command line", "ini", "default"]
    given = order[order.index(source) :]  # the source under test and every source it takes precedence over
    marker = f'@pytest.mark.featviz({name}="from_marker")' if "marker" in given else ""
    cli = (f"--featviz-{name}", "from_cli") if "command line" in given else ()
    ini = f"featviz_{name} = from_ini" if "ini" in given else ""
    proj, got = run_project(pytester, monkeypatch, marker=marker, cli=cli, ini=ini)
    expected = {
        "marker": proj / "tests" / "from_marker",  # the test file's folder
        "command line": proj / "run" / "from_cli",  # the invocation folder
        "ini": proj / "from_ini",  # the ini file's folder
        "default": None if name == "artifacts" else proj / "tests" / "featviz_baselines",
    }[source]
    assert got[name] == (None if expected is None else str(expected))


@pytest.mark.parametrize("source", ["command line", "ini", "default"])
def test_the_report_by_precedence_and_its_sources_path_rule(pytester, monkeypatch, source):
    cli = ("--featviz-report", "cli.html") if source == "command line" else ()
    ini = "featviz_report = ini.html" if source in ("command line", "ini") else ""
    proj, got = run_project(pytester, monkeypatch, cli=cli, ini=ini)
    written = sorted(str(p.relative_to(proj)) for p in proj.rglob("*.html"))
    assert written == {"command line": ["run/cli.html"], "ini": ["ini.html"], "default": []}[source]
    # without an artifacts setting the pictures go next to the report
    report_files = {"command line": proj / "run" / "cli_files", "ini": proj / "ini_files", "default": None}[source]
    assert got["artifacts"] == (None if report_files is None else str(report_files))


def test_an_absolute_path_is_used_as_given_from_every_source(tmp_path):
    for base in (tmp_path / "a", None):
        assert Setting(str(tmp_path / "abs"), "any", base).path() == tmp_path / "abs"
    assert Setting(None, "the default", tmp_path).path() is None
