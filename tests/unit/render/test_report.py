"""The HTML report, the run file, the merge and the Markdown summary from synthetic records.
(Runs under pytest and xdist, the `featviz report merge` command and a real headless Chromium:
tests/integration/test_report_runs.py.)"""

import base64
import json
import shutil

import pytest
from pages import EVIL_TEST, PNG_PREFIX, Page, decode_png, report_records
from PIL import Image

from pytest_featviz.claims import Record
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.report import (
    Run,
    embed_png,
    merge_runs,
    read_run,
    render_report,
    render_summary,
    write_report,
    write_run,
)


@pytest.fixture
def records(tmp_path):
    return report_records(tmp_path)


def test_real_failures_come_first_one_section_per_test(records, tmp_path):
    out = write_report(tmp_path / "out" / "report.html", records, header={"keras": "3.15.1", "seed": 42})
    page = Page(out.read_text(encoding="utf-8"))
    assert [(s["test"], s["classes"][-1]) for s in page.sections] == [
        ("t.py::test_a_fails", "failed"),
        ("t.py::test_c_gate", "failed"),
        ("t.py::test_f_caught", "caught"),
        (EVIL_TEST, "expected"),
        ("t.py::test_b_passes", "passed"),
        ("t.py::test_d_structure", "passed"),
    ]
    assert [page.outcome_of(r) for r in page.rows] == ["failed", "failed", "caught", "expected", "passed", "passed"]
    assert [r["cells"][0] for r in page.rows] == ["FAILED", "FAILED", "caught", "expected", "passed", "passed"]
    first = page.rows[0]["cells"]
    assert first[1] == "assert_reaches"
    assert first[2] == (
        "ClassLogit([0, 1]) reaches >= 9objective ClassLogit([0, 1])constraints Box(0.0, 1.0) & LpBall(radius=0.1, p=2)"
    )
    assert first[3:5] == ["9", "0.4321"]
    assert "values [0.4321, 0.25]" in first[5] and "seed 12" in first[5]
    assert page.rows[4]["cells"][3:5] == ["0.95", "0.971235"]  # an older record: its best value decided
    assert page.rows[1]["cells"][5] == "name edgesssim [0.51, 0.99]"  # fields without a cell: in the details
    assert "metricimage 0edge_density0.125entropy3.5" in page.rows[5]["cells"][5]  # one row per metric
    whole = out.read_text(encoding="utf-8")
    assert f"picture missing or not a PNG: {records[5]['picture']}" in whole and page.rows[3]["images"] == []
    assert "3.15.1" in whole and ">42<" in whole


def test_require_all_shows_the_worst_item_as_the_deciding_value(records):
    row = Page(render_report(records)).rows[2]
    assert row["cells"][2].startswith("ClassLogit(0) reaches >= 2 for every item")
    assert row["cells"][3:5] == ["2", "1.5"] and "best_value 2.5" in row["cells"][5]


def test_the_summary_counts_caught_and_expected_failures_apart_from_real_ones(records):
    page = Page(render_report(records, header={"seed": 0}))
    assert "2 real featviz failures" in page.summary
    assert "failedcaughtexpectedpassedtotalassertions21126" in page.summary.replace(" ", "")
    assert "6 featviz assertions in 6 tests" in page.summary
    assert "2 failures caught or expected in tests that passed or xfailed (counted apart)" in page.summary
    ok = Page(render_report([r for r in records if r["outcome"] != "failed"]))
    assert "every featviz claim held" in ok.summary and "real" not in ok.summary


def test_every_picture_is_embedded_readable_and_a_baseline_shows_obtained_expected_difference(records):
    page = Page(render_report(records))
    by_test = {row["test"]: row["images"] for row in page.rows}
    assert len(by_test["t.py::test_a_fails"]) == 1 and len(by_test["t.py::test_c_gate"]) == 3
    assert len(page.images) == 4
    gate = records[3]["pictures"]
    files = [records[1]["picture"], gate["obtained"], gate["expected"], gate["difference"]]
    for uri, path in zip(page.images, files):
        assert base64.b64decode(uri[len(PNG_PREFIX) :]) == open(path, "rb").read()
        assert decode_png(uri).size == Image.open(path).size
    assert decode_png(page.images[0]).size == (19, 10)  # 2 tiles of 8x8, padding 1, in one row
    assert [decode_png(u).getpixel((0, 0)) for u in page.images[1:]] == [(128,) * 3, (0,) * 3, (255,) * 3]
    text = render_report(records)
    assert 'width="152" height="80"' in text  # 19x10 enlarged 8 times: sharp pixels, readable
    assert text.count('width="56" height="40"') == 3  # three side by side, 7x5 each enlarged 8 times
    assert text.count('<label class="zoom"') == 4 and text.count('type="checkbox" hidden') == 4  # click to enlarge


def test_the_page_loads_nothing_from_outside_escapes_text_and_reads_without_javascript(records):
    text = render_report(records)
    page = Page(text)
    assert page.urls and all(url.startswith("data:image/png;base64,") for url in page.urls)
    assert "link" not in page.tags and "url(" not in text and page.scripts == [{}]  # one inline script
    policy = [m["content"] for m in page.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert policy and policy[0].startswith("default-src 'none'; img-src data:")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert page.hidden == ["filters"] + ["input"] * 4  # without the script: the filters hidden, every row shown
    kinds = ["assert_matches_baseline", "assert_not_reaches", "assert_reaches", "assert_structure"]
    assert all(f'name="kind" value="{k}"' in text for k in kinds)


def test_an_empty_run_still_gives_a_page():
    page = Page(render_report([], header={"seed": 0}))
    assert page.rows == [] and page.images == [] and page.sections == []
    assert "no featviz assertions ran" in page.summary


@pytest.mark.parametrize("bad", ["records", {"test": "x"}, [1], None])
def test_records_that_are_not_a_list_of_dicts_are_refused(bad, tmp_path):
    with pytest.raises(FeatvizTypeError, match="record"):
        write_report(tmp_path / "r.html", bad)


def test_embed_png_refuses_files_that_are_not_png(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"GIF89a not a png")
    assert embed_png(tmp_path / "fake.png") is None
    assert embed_png(tmp_path / "nothing.png") is None


# -- the run file, the merge, the Markdown summary ---------------------------------------------


def test_the_run_file_keeps_pictures_relative_so_a_copied_folder_still_shows_them(records, tmp_path):
    run = Run.of(records, {"seed": 3})
    written = write_run(tmp_path / "featviz-run.json", run)
    data = json.loads(written.read_text())
    assert (data["format"], data["schema"], data["record_schema"]) == ("featviz-run", 1, 1)
    assert data["records"][1]["picture"] == "a/assert_reaches.png"  # under the file's folder: relative
    assert data["records"][3]["pictures"]["obtained"] == "g/obtained.png"
    elsewhere = write_run(tmp_path / "sub" / "run.json", run)  # pictures outside the file's folder: as they were
    assert json.loads(elsewhere.read_text())["records"][1]["picture"] == records[1]["picture"]
    moved = tmp_path.parent / (tmp_path.name + "-copied")
    shutil.copytree(tmp_path, moved)
    shutil.rmtree(tmp_path / "a")
    again = read_run(moved / "featviz-run.json")
    assert again.records[1].picture == str(moved / "a" / "assert_reaches.png")
    assert Page(render_report(again)).images == Page(render_report(run_of_copy(records, tmp_path, moved))).images


def run_of_copy(records, old, new):
    return Run.of([json.loads(json.dumps(r).replace(str(old), str(new))) for r in records])


def test_records_without_the_new_fields_are_read_and_another_schema_is_refused(tmp_path):
    old = {"format": "featviz-run", "schema": 1, "record_schema": 1, "tests": {}, "shards": []}
    old["records"] = [{"kind": "assert_reaches", "passed": True, "best_value": 2.0, "test": "t::a"}]
    (tmp_path / "old.json").write_text(json.dumps(old))
    (record,) = read_run(tmp_path / "old.json").records
    assert (record.shard, record.host, record.deciding_value, record.decided_by()) == (None, None, None, 2.0)
    (tmp_path / "new.json").write_text(json.dumps({**old, "schema": 2}))
    with pytest.raises(ConfigurationError, match="schema 2; this version of pytest-featviz reads schema 1"):
        read_run(tmp_path / "new.json")
    (tmp_path / "other.json").write_text(json.dumps({"records": []}))
    with pytest.raises(ConfigurationError, match="not a featviz run file"):
        read_run(tmp_path / "other.json")


def test_merging_two_shards_gives_the_report_of_one_run(records):
    tests = {r["test"]: {"outcome": r["outcome"]} for r in records}

    def shard(part, name):
        return Run(
            tuple(Record.from_dict(r) for r in part),
            {r["test"]: tests[r["test"]] for r in part},
            ({"shard": name, "environment": {"seed": 0}},),
        )

    whole = Page(render_report(shard(records, None)))
    merged = Page(render_report(merge_runs([shard(records[3:], "2/2"), shard(records[:3], "1/2")])))
    assert [(r["test"], r["cells"], r["images"]) for r in merged.rows] == [
        (r["test"], r["cells"], r["images"]) for r in whole.rows
    ]
    assert merged.summary.split("shard")[0] == whole.summary.split("shard")[0]


def test_the_markdown_summary_lists_exactly_the_real_failures_with_their_accounts(records):
    tests = {r["test"]: {"outcome": r["outcome"]} for r in records}
    tests["t.py::test_a_fails"]["message"] = "AssertionError: assert_reaches failed: expected ... 9\n  seed 12"
    run = Run(tuple(Record.from_dict(r) for r in records), tests, ())
    text = render_summary(run)
    listed = [line.removeprefix("### FAILED `").removesuffix("`") for line in text.splitlines() if "### " in line]
    assert listed == ["t.py::test_a_fails", "t.py::test_c_gate"]
    assert text.startswith("## featviz: 2 real featviz failures")
    assert "| 2 | 1 | 1 | 2 |" in text
    assert "```text\nAssertionError: assert_reaches failed: expected ... 9\n  seed 12\n```" in text
    assert "deciding value 0.4321, threshold 9" in text
