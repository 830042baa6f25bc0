"""The HTML report written by real runs: `--featviz-report` under pytest-xdist, the ini key, and the page
as a headless Chromium sees it."""

import html
import json
import os
import re
import shutil
import subprocess

import pytest
from pages import Page, decode_png, report_records

from pytest_featviz.report import write_report

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


def test_report_merges_the_records_of_both_xdist_workers(pytester, model_file):
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester, "-n", "2", "--dist", "load", "--featviz-report", "out/run.html", "--featviz-seed", "7")
    result.assert_outcomes(passed=3, failed=1)
    workers = {p.name.split("_")[2] for p in pytester.path.glob("ran_on_*") if "no_featviz" not in p.name}
    assert workers == {"gw0", "gw1"}  # both workers ran featviz tests
    report = pytester.path / "out" / "run.html"
    result.stdout.fnmatch_lines(["*3 featviz assertions ran, 1 failed*", f"*report: {report}*"])
    page = Page(report.read_text(encoding="utf-8"))
    tests = sorted(row["cells"][1] for row in page.rows)
    assert tests == ["test_suite.py::test_reaches[0]", "test_suite.py::test_reaches[1]", "test_suite.py::test_too_high"]
    failed = [row for row in page.rows if "failed" in row["classes"]]
    assert len(failed) == 1 and failed[0]["cells"][1] == "test_suite.py::test_too_high"
    assert failed[0]["cells"][0] == "FAILEDtest failed"
    assert len(failed[0]["images"]) == 1 and decode_png(failed[0]["images"][0]).size[0] > 0
    # without --featviz-artifacts the pictures go next to the report
    assert (pytester.path / "out" / "run_files" / "test_suite.py__test_too_high" / "assert_reaches.png").is_file()
    assert "seed" in report.read_text() and ">7<" in report.read_text()


def test_explicit_artifacts_win_over_the_report_folder_and_the_ini_key_works(pytester, model_file):
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\nfeatviz_report = from_ini.html\n")
    result = run(pytester, "--featviz-artifacts", "arts", "-k", "too_high")
    result.assert_outcomes(failed=1)
    assert (pytester.path / "arts" / "test_suite.py__test_too_high" / "assert_reaches.png").is_file()
    assert not (pytester.path / "from_ini_files").exists()
    page = Page((pytester.path / "from_ini.html").read_text(encoding="utf-8"))
    assert len(page.rows) == 1 and len(page.images) == 1
    decode_png(page.images[0])


# -- a real browser ---------------------------------------------------------------------------

CHECKER = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({complete: i.complete, w: i.naturalWidth, h: i.naturalHeight}));
  const rows = [...document.querySelectorAll("tr.assertion")].map(r => ({
    failed: r.classList.contains("failed"), marker: r.querySelector(".marker").textContent,
    background: getComputedStyle(r).backgroundColor}));
  const out = document.createElement("pre");
  out.id = "featviz-check";
  out.textContent = JSON.stringify({title: document.title, images, rows});
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str:
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (/usr/bin/chromium missing): apt-get install chromium")
    return path


def test_headless_chromium_loads_the_page_decodes_every_image_and_sees_failed_rows(records, tmp_path):
    browser = chromium()
    out = write_report(tmp_path / "report.html", records, header={"seed": 0})
    checked = tmp_path / "checked.html"
    checked.write_text(out.read_text(encoding="utf-8").replace("</body>", CHECKER + "\n</body>"), encoding="utf-8")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-quic",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            checked.as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="featviz-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the checker did not run; chromium printed:\n{done.stdout[:2000]}"
    seen = json.loads(html.unescape(found.group(1)))
    assert seen["title"] == "featviz report"
    expected = [decode_png(uri).size for uri in Page(out.read_text(encoding="utf-8")).images]
    assert [(i["w"], i["h"]) for i in seen["images"]] == expected and len(expected) == 4
    assert all(i["complete"] and i["w"] > 0 for i in seen["images"])
    assert [r["failed"] for r in seen["rows"]] == [True, False, True, False, True]
    assert [r["marker"] for r in seen["rows"]] == ["FAILED", "passed", "FAILED", "passed", "FAILED"]
    failed_bg = {r["background"] for r in seen["rows"] if r["failed"]}
    passed_bg = {r["background"] for r in seen["rows"] if not r["failed"]}
    assert len(failed_bg) == 1 and failed_bg.isdisjoint(passed_bg)  # failed rows are visibly tinted
