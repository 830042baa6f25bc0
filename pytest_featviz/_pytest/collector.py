"""Gathers the featviz records, the tests' outcomes and failure messages of a run, from this process or xdist workers."""

from __future__ import annotations

from typing import Any

import pytest

from ..claims import from_json

__all__ = ["Collector"]


class Collector:
    """Gathers featviz records (from this process or an xdist worker) for the summary and report.

    ``pytest_runtest_logreport`` receives no config, so this per-config object is registered
    as a plugin by ``pytest_configure``: a pytest run inside another (pytester in-process)
    keeps its own counts instead of sharing module-level state.
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        if report.failed:  # the first failing phase's message: the account of a failed claim
            state["messages"].setdefault(report.nodeid, _message(report))
        if report.when != "teardown":
            outcome = _outcome(report)
            if outcome is not None:
                state["outcomes"][report.nodeid] = outcome
            return
        outcome = state["outcomes"].pop(report.nodeid, "passed")
        if report.failed and outcome == "passed":
            outcome = "error"
        message = state["messages"].pop(report.nodeid, None)
        state["tests"][report.nodeid] = {"outcome": outcome, **state["where"]}
        if message and outcome in ("failed", "error"):
            state["tests"][report.nodeid]["message"] = message
        state["written"].extend(v for k, v in report.user_properties if k == "featviz_baseline_written")
        props: dict[str, Any] = dict(report.user_properties)  # as _publish wrote them: counts, one JSON text
        if "featviz_assertions" not in props:
            return
        failed = int(props.get("featviz_failed", 0))
        state["ran"] += int(props["featviz_assertions"])
        state["failed"] += failed
        if outcome in ("passed", "xfailed"):  # the test caught the failure (pytest.raises) or expected it
            state["expected"] += failed
        if "featviz_records" in props:
            state["records"].extend(
                r.with_test(report.nodeid, outcome, **state["where"]) for r in from_json(props["featviz_records"])
            )


def _message(report: pytest.TestReport) -> str:
    """The exception a failed phase ended with (a featviz claim's account), else its whole report."""
    crash = getattr(report.longrepr, "reprcrash", None)
    return str(getattr(crash, "message", "") or report.longreprtext)


def _outcome(report: pytest.TestReport) -> str | None:
    """The test's outcome as the setup or call report tells it (None: a setup that passed says nothing)."""
    if hasattr(report, "wasxfail") and report.skipped:
        return "xfailed"
    if report.when == "setup":
        return "error" if report.failed else ("skipped" if report.skipped else None)
    return report.outcome
