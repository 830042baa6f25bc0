"""Reading the HTML report back in tests: its rows and pictures, and records to write one from."""

import base64
import io
from html.parser import HTMLParser

import numpy as np
from PIL import Image

from pytest_featviz.render import save_png

PNG_PREFIX = "data:image/png;base64,"
EVIL_TEST = "t.py::test_evil[<script>alert(1)</script>]"


class Page(HTMLParser):
    """The report as a reader sees it: test sections, assertion rows (their classes, cell texts, images), the
    summary's text, every URL-valued attribute, tags, meta tags and the ids of elements marked ``hidden``."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: list[dict] = []
        self.rows: list[dict] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.meta: list[dict] = []
        self.hidden: list[str] = []
        self.scripts: list[dict] = []
        self.summary = ""
        self._row: dict | None = None
        self._in_facts = False
        self._in_summary = False
        self._in_test_id = False
        self._nested = 0  # tables inside a row's cells (metrics)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        self.tags.append(tag)
        self.urls += [value for name, value in attrs.items() if name in ("src", "href", "action", "poster")]
        if "hidden" in attrs:
            self.hidden.append(attrs.get("id") or tag)
        if tag == "meta":
            self.meta.append(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "section" and attrs.get("id") == "summary":
            self._in_summary = True
        if tag == "section" and "test" in classes:
            self.sections.append({"classes": classes, "test": "", "rows": []})
        if tag == "code" and "test-id" in classes:
            self._in_test_id = True
        if tag == "tbody" and "assertion" in classes:
            self._row = {"classes": classes, "cells": [], "images": [], "attrs": attrs, "test": None}
            self._row["test"] = self.sections[-1]["test"] if self.sections else None
            self.rows.append(self._row)
            if self.sections:
                self.sections[-1]["rows"].append(self._row)
        if self._row is not None and tag == "table":
            self._nested += 1
        if tag == "tr" and self._row is not None and not self._nested:
            self._in_facts = "facts" in classes
        if tag == "td" and self._row is not None and self._in_facts and not self._nested:
            self._row["cells"].append("")
        if tag == "img":
            self.images.append(attrs["src"])
            if self._row is not None:
                self._row["images"].append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "table" and self._nested:
            self._nested -= 1
        elif tag == "tbody" and not self._nested:
            self._row = None
        elif tag == "section":
            self._in_summary = False
        elif tag == "code":
            self._in_test_id = False

    def handle_data(self, data):
        if self._in_summary:
            self.summary += data
        if self._in_test_id and self.sections:
            self.sections[-1]["test"] += data
        if self._row is not None and self._in_facts and self._row["cells"]:
            self._row["cells"][-1] += data

    def outcome_of(self, row: dict) -> str:
        return row["attrs"]["data-outcome"]


def decode_png(uri: str) -> Image.Image:
    assert uri.startswith(PNG_PREFIX), uri[:40]
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :], validate=True)))
    assert image.format == "PNG"
    image.load()  # decodes every pixel, raises on a truncated or corrupt file
    return image


def report_records(tmp_path):
    """Records as the plugin collects them (JSON-shaped), with real PNG files."""
    grid_png = save_png(
        tmp_path / "a" / "assert_reaches.png", np.linspace(0, 1, 2 * 8 * 8).reshape(2, 8, 8), scale=1, padding=1
    )
    gate = {
        name: save_png(tmp_path / "g" / f"{name}.png", np.full((5, 7, 3), level, np.uint8))
        for name, level in (("difference", 255), ("expected", 0), ("obtained", 128))
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
        {  # require="all": the worst item decided, not the best
            "kind": "assert_reaches",
            "passed": False,
            "claim": "ClassLogit(0) reaches >= 2 for every item",
            "threshold": 2.0,
            "best_value": 2.5,
            "deciding_value": 1.5,
            "values": [2.5, 1.5],
            "test": "t.py::test_f_caught",
            "outcome": "passed",
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
