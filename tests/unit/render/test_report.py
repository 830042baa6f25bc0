"""The HTML report from synthetic records: rows, embedded pictures, escaping, refusals.
(Runs under pytest and xdist, and a real headless Chromium: tests/integration/test_report_runs.py.)"""

import base64

import pytest
from pages import EVIL_TEST, PNG_PREFIX, Page, decode_png, report_records
from PIL import Image

from pytest_featviz.errors import FeatvizTypeError
from pytest_featviz.report import embed_png, render_report, write_report


@pytest.fixture
def records(tmp_path):
    return report_records(tmp_path)


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
