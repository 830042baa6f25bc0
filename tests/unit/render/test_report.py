"""The HTML report: synthetic records, `--featviz-report` under pytest-xdist, and a real headless Chromium."""

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import keras  # imported here, not in a fixture: pytester restores sys.modules after each test, and
import numpy as np  # TensorFlow cannot be imported a second time in one process
import pytest
from PIL import Image

from pytest_featviz.errors import FeatvizTypeError
from pytest_featviz.render import save_png
from pytest_featviz.report import embed_png, render_report, write_report

pytest_plugins = ["pytester"]

PNG_PREFIX = "data:image/png;base64,"
EVIL_TEST = "t.py::test_evil[<script>alert(1)</script>]"


class Page(HTMLParser):
    """Rows of the assertions table (classes, text, image sources) and every URL-valued attribute."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[dict] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.meta: list[dict] = []
        self._row: dict | None = None
        self._nested = 0  # tables inside a row's cells (metrics)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.urls += [value for name, value in attrs.items() if name in ("src", "href", "action", "poster")]
        if tag == "meta":
            self.meta.append(attrs)
        if tag == "tr" and "assertion" in (attrs.get("class") or "").split():
            self._row = {"classes": attrs["class"].split(), "cells": [], "images": []}
            self.rows.append(self._row)
        if self._row is not None and tag == "table":
            self._nested += 1
        if tag == "td" and self._row is not None and not self._nested:
            self._row["cells"].append("")
        if tag == "img":
            self.images.append(attrs["src"])
            if self._row is not None:
                self._row["images"].append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "table" and self._nested:
            self._nested -= 1
        elif tag == "tr" and not self._nested:
            self._row = None

    def handle_data(self, data):
        if self._row is not None and self._row["cells"]:
            self._row["cells"][-1] += data


def decode_png(uri: str) -> Image.Image:
    assert uri.startswith(PNG_PREFIX), uri[:40]
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :], validate=True)))
    assert image.format == "PNG"
    image.load()  # decodes every pixel, raises on a truncated or corrupt file
    return image


@pytest.fixture
def records(tmp_path):
    """Records as the plugin collects them (JSON-shaped), with real PNG files."""
    grid_png = save_png(
        tmp_path / "a" / "assert_reaches.png", np.linspace(0, 1, 2 * 8 * 8).reshape(2, 8, 8), scale=1, padding=1
    )
    gate = {
        name: save_png(tmp_path / "g" / f"{name}.png", np.full((5, 7, 3), level, np.uint8))
        for name, level in (("baseline", 0), ("obtained", 128), ("difference", 255))
    }
    return [
        {
            "kind": "assert_reaches",
            "passed": True,
            "claim": "ClassProbability(3) reaches >= 0.95",
            "objective": "ClassProbability(3)",
            "constraints": "Box(0.0, 1.0)",
            "threshold": 0.95,
            "best_value": 0.9712345,
            "values": [0.9712345],
            "steps": [40],
            "seed": 11,
            "status": None,
            "picture": None,
            "model": "clf",
            "test": "t.py::test_b_passes",
            "outcome": "passed",
        },
        {
            "kind": "assert_reaches",
            "passed": False,
            "claim": "ClassLogit([0, 1]) reaches >= 9",
            "objective": "ClassLogit([0, 1])",
            "constraints": "Box(0.0, 1.0) & LpBall(radius=0.1, p=2)",
            "threshold": 9.0,
            "best_value": 0.4321,
            "values": [0.4321, 0.25],
            "steps": [30, 30],
            "seed": 12,
            "status": None,
            "picture": str(grid_png),
            "model": "clf",
            "test": "t.py::test_a_fails",
            "outcome": "failed",
        },
        {
            "kind": "assert_matches_baseline",
            "passed": False,
            "name": "edges",
            "ssim": [0.51, 0.99],
            "objective": "Channel('conv', 0)",
            "test": "t.py::test_c_gate",
            "pictures": {k: str(v) for k, v in gate.items()},
            "outcome": "failed",
        },
        {
            "kind": "assert_structure",
            "passed": True,
            "metrics": [{"edge_density": 0.125, "entropy": 3.5}],
            "bounds": {"edge_density": [0.1, None]},
            "picture": None,
            "test": "t.py::test_d_structure",
            "outcome": "passed",
        },
        {
            "kind": "assert_not_reaches",
            "passed": False,
            "objective": "ClassProbability(7)",
            "threshold": 0.5,
            "best_value": 0.75,
            "picture": str(tmp_path / "gone.png"),
            "test": EVIL_TEST,
            "outcome": "xfailed",
        },
    ]


def test_every_assertion_is_a_row_sorted_by_test_with_failures_marked(records, tmp_path):
    out = write_report(tmp_path / "out" / "report.html", records, header={"keras": "3.15.1", "seed": 42})
    page = Page(out.read_text(encoding="utf-8"))
    assert [row["cells"][1] for row in page.rows] == [
        "t.py::test_a_fails",
        "t.py::test_b_passes",
        "t.py::test_c_gate",
        "t.py::test_d_structure",
        EVIL_TEST,
    ]
    failed = [row for row in page.rows if "failed" in row["classes"]]
    passed = [row for row in page.rows if "passed" in row["classes"]]
    assert [r["cells"][1] for r in failed] == ["t.py::test_a_fails", "t.py::test_c_gate", EVIL_TEST]
    assert len(passed) == 2
    assert [r["cells"][0] for r in failed] == ["FAILEDtest failed", "FAILEDtest failed", "FAILEDtest xfailed"]
    assert not any("FAILED" in "".join(r["cells"]) for r in passed)
    first = page.rows[0]["cells"]
    assert first[2:7] == [
        "assert_reaches",
        "ClassLogit([0, 1])",
        "Box(0.0, 1.0) & LpBall(radius=0.1, p=2)",
        "9",
        "0.4321",
    ]
    assert "values [0.4321, 0.25]" in first[7] and "seed 12" in first[7]
    assert page.rows[1]["cells"][5:7] == ["0.95", "0.971235"]
    assert page.rows[2]["cells"][7] == "name edgesssim [0.51, 0.99]"  # keys without a column: in the details
    assert len(page.rows[3]["cells"]) == 9 and "edge_density" in page.rows[3]["cells"][7]
    assert "metricimage 0edge_density0.125entropy3.5" in page.rows[3]["cells"][7]  # one row per metric
    assert "picture missing or not a PNG" in page.rows[4]["cells"][8] and "gone.png" in page.rows[4]["cells"][8]
    whole = out.read_text(encoding="utf-8")
    assert "3.15.1" in whole and "42" in whole
    assert "5 featviz assertions in 5 tests" in whole and "3 failed" in whole


def test_every_picture_is_embedded_as_a_png_that_decodes_to_the_file(records, tmp_path):
    page = Page(render_report(records))
    by_test = {row["cells"][1]: row["images"] for row in page.rows}
    assert len(by_test["t.py::test_a_fails"]) == 1 and len(by_test["t.py::test_c_gate"]) == 3
    assert len(page.images) == 4
    files = [records[1]["picture"], *records[2]["pictures"].values()]
    for uri, path in zip(page.images, files):
        image = decode_png(uri)
        assert base64.b64decode(uri[len(PNG_PREFIX) :]) == open(path, "rb").read()
        assert image.size == Image.open(path).size
    assert decode_png(page.images[0]).size == (19, 10)  # 2 tiles of 8x8, padding 1, in one row
    assert decode_png(page.images[2]).size == (7, 5) and decode_png(page.images[2]).getpixel((0, 0)) == (128,) * 3


def test_the_page_loads_nothing_from_outside_and_escapes_text(records):
    text = render_report(records)
    page = Page(text)
    assert page.urls and all(url.startswith("data:image/png;base64,") for url in page.urls)
    assert "script" not in page.tags and "link" not in page.tags and "url(" not in text
    policy = [m["content"] for m in page.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert policy and policy[0].startswith("default-src 'none'; img-src data:")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_an_empty_run_still_gives_a_page():
    page = Page(render_report([], header={"seed": 0}))
    assert page.rows == [] and page.images == []
    assert "no featviz assertions ran" in render_report([])


@pytest.mark.parametrize("bad", ["records", {"test": "x"}, [1], None])
def test_records_that_are_not_a_list_of_dicts_are_refused(bad, tmp_path):
    with pytest.raises(FeatvizTypeError, match="record"):
        write_report(tmp_path / "r.html", bad)


def test_embed_png_refuses_files_that_are_not_png(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"GIF89a not a png")
    assert embed_png(tmp_path / "fake.png") is None
    assert embed_png(tmp_path / "nothing.png") is None


# -- the plugin: --featviz-report -------------------------------------------------------------


@pytest.fixture
def model_file(pytester):
    inp = keras.Input((3,))
    out = keras.layers.Dense(2, kernel_initializer="ones", name="head")(inp)
    keras.Model(inp, out, name="ones").save(pytester.path / "ones.keras")
    return pytester.path / "ones.keras"


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
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


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
