"""The report page's style sheet and script: inline text (the page loads nothing from outside).

The script only adds the filters (by outcome, by assertion kind, a search box): without it the
page shows every test and assertion, and the filter bar stays hidden. Pictures enlarge on click
with CSS alone (a checkbox per picture), so that works without the script too.
"""

from __future__ import annotations

__all__ = ["POLICY", "STYLE", "SCRIPT"]

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 1.2em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
#summary { border: 1px solid #ccc; border-radius: 4px; padding: .4em .8em; margin-bottom: .5em; }
.verdict { font-size: 1.15em; font-weight: 700; margin: .1em 0 .3em; }
.verdict.failed { color: #b00020; } .verdict.ok { color: #1b5e20; }
table.counts { border-collapse: collapse; margin: 0 0 .3em; }
table.counts th, table.counts td { border: 1px solid #ddd; padding: .1em .6em; text-align: right; }
table.counts th:first-child { text-align: left; }
p.tests { margin: .2em 0; }
dl.environment { display: flex; flex-wrap: wrap; gap: .1em 1.2em; margin: .2em 0; font-size: 12px; color: #444; }
dl.environment dt { font-weight: 600; } dl.environment dd { margin: 0 0 0 .3em; }
dl.environment div { display: flex; }
#filters { display: flex; flex-wrap: wrap; gap: .3em 1em; align-items: center; padding: .3em 0;
  position: sticky; top: 0; background: #fff; z-index: 5; border-bottom: 1px solid #ccc; }
#filters fieldset { border: none; margin: 0; padding: 0; } #filters legend { float: left; font-weight: 600;
  margin-right: .4em; } #filters label { margin-right: .5em; } #search { width: 18em; }
section.test { margin: .6em 0 1em; }
section.test h2 { font-size: 1.05em; margin: .2em 0; font-weight: 600; word-break: break-all; }
.badge { display: inline-block; font-size: 12px; font-weight: 700; padding: 0 .4em; border-radius: 3px;
  margin-right: .4em; color: #fff; background: #1b5e20; }
.badge.failed { background: #b00020; } .badge.caught, .badge.expected { background: #8a6d00; }
.test-meta { font-weight: 400; color: #555; font-size: 12px; margin-left: .5em; }
details.message pre { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; background: #f6f6f6;
  padding: .4em; margin: .2em 0; max-height: 24em; overflow: auto; }
table.assertions { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.assertions th, table.assertions td { border: 1px solid #ccc; padding: .3em .45em; vertical-align: top;
  text-align: left; overflow-wrap: anywhere; }
table.assertions th { background: #eee; }
col.outcome { width: 6.5em; } col.kind { width: 11em; } col.threshold, col.deciding { width: 8em; }
td.threshold, td.deciding { overflow-wrap: normal; font-variant-numeric: tabular-nums; }
col.details { width: 30%; }
tbody.failed tr.facts { background: #fdecea; } tbody.failed td.outcome { color: #b00020; font-weight: 700; }
tbody.caught tr.facts, tbody.expected tr.facts { background: #fff8e1; }
tbody.caught td.outcome, tbody.expected td.outcome { color: #8a6d00; font-weight: 700; }
tbody.passed td.outcome { color: #1b5e20; }
td code, td pre { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; }
td.figures { background: #fafafa; }
td.figures .group { display: flex; flex-wrap: wrap; gap: .6em; align-items: flex-start; }
td.figures figure { margin: 0; max-width: 100%; }
td.figures img { image-rendering: pixelated; max-width: 100%; height: auto; border: 1px solid #999;
  cursor: zoom-in; display: block; }
td.figures figcaption { font-size: 12px; color: #555; }
.zoom input:checked + img { position: fixed; inset: 0; width: 100vw; height: 100vh; max-width: none;
  object-fit: contain; background: rgba(0, 0, 0, .88); z-index: 20; cursor: zoom-out; border: none; }
details.metrics summary { cursor: pointer; color: #444; }
table.metrics td, table.metrics th { border: none; padding: 0 .6em 0 0; font-size: 12px; }
.missing { color: #b00020; font-style: italic; }
"""

SCRIPT = """
(() => {
  const nav = document.getElementById("filters");
  const rows = [...document.querySelectorAll("tbody.assertion")];
  const search = document.getElementById("search");
  const checked = (name) => new Set([...nav.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value));
  const apply = () => {
    const outcomes = checked("outcome"), kinds = checked("kind");
    const words = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const text = row.dataset.text;
      row.hidden = !(outcomes.has(row.dataset.outcome) && kinds.has(row.dataset.kind)
        && words.every((w) => text.includes(w)));
      shown += row.hidden ? 0 : 1;
    }
    for (const section of document.querySelectorAll("section.test")) {
      section.hidden = !section.querySelector("tbody.assertion:not([hidden])");
    }
    document.getElementById("shown").textContent = `${shown} of ${rows.length} assertions shown`;
  };
  nav.addEventListener("input", apply);
  nav.addEventListener("change", apply);
  nav.hidden = false;
  apply();
})();
"""
