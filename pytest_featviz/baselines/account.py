"""The failure account of a behavioural comparison, for people (private; used by ``Comparison.describe``).

One row per item with every comparison's number (``!`` marks a failure), then one line per
failing comparison: its rule, the items it failed, the worst number, what the number is and
what a failure means. This module takes numpy arrays and knows nothing about TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import CHECKS, Check

__all__ = ["describe_behaviour"]

_ORDER = ("cross", "cross_back", "similarity", "values", "reached", "ssim")
_SHOWN_ITEMS = 16  # larger batches list only their failing items


def _header(check: Check) -> str:
    if check.name == "values":
        return "value: baseline -> obtained (change)"
    if check.name == "reached":
        return "reached"
    return check.name if check.judged else f"{check.name} (not judged)"


def _cell(c: Any, check: Check, i: int) -> str:
    mark = " !" if check.failing[i] else ""
    if check.name == "values":
        change = check.numbers[i]
        return f"{c.values_expected[i]:.6g} -> {c.values_obtained[i]:.6g} ({100 * change:.3g}%){mark}"
    if check.name == "reached":
        return f"{_yes(c.reached_expected[i])}->{_yes(c.reached_obtained[i])}{mark}"
    return check.cell(i)


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


def _rule(c: Any, check: Check) -> str:
    if check.name == "values":
        return f"values within value_rtol={c.value_rtol:g}, value_atol={c.value_atol:g}"
    if check.name == "reached":
        return "reached flags unchanged"
    return f"{check.name} {check.rule}"


def _meaning(c: Any, check: Check) -> str:
    bad = np.flatnonzero(check.failing)
    items = ", ".join(str(int(i)) for i in bad[:12]) + (", ..." if len(bad) > 12 else "")
    worst = ""
    if check.name not in ("values", "reached"):
        j = int(bad[np.argmin(check.numbers[bad])]) if check.at_least else int(bad[np.argmax(check.numbers[bad])])
        worst = f", worst {check.numbers[j]:.4g} at item {j}"
    what, means = CHECKS[check.name]
    return f"  {_rule(c, check)} failed for item(s) {items}{worst}\n    {what}.\n    Failing means: {means}."


def describe_behaviour(c: Any, labels: Any = None) -> str:
    """The account of a :class:`~pytest_featviz.baselines.Comparison` judged by behaviour.

    ``labels`` names the items in the first column (default: their numbers), e.g. the
    unit or channel indices of a layer.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> cross = Check("cross", np.array([0.98, 0.2]), 0.9)
    >>> c = SimpleNamespace(checks=(cross,), failing=cross.failing, mapping=(0, 1), match="index")
    >>> print(describe_behaviour(c))  # doctest: +NORMALIZE_WHITESPACE
    1 of 2 items differ from the baseline, judged by: cross >= 0.9 (match='index')
      item  baseline item  cross   verdict
      0     0              0.98    pass
      1     1              0.2 !   FAIL
    what the failing comparisons mean:
      cross >= 0.9 failed for item(s) 1, worst 0.2 at item 1
        cross-activation: the new model's objective at the baseline's stored inputs, ...
        Failing means: the new unit no longer responds to what the old unit responded to: ...
    """
    checks = sorted(c.checks, key=lambda k: _ORDER.index(k.name))
    failing = c.failing
    rules = "; ".join(_rule(c, k) for k in checks if k.judged)
    names = [str(i) for i in range(len(failing))] if labels is None else [str(label) for label in labels]
    lines = [
        f"{int(failing.sum())} of {len(failing)} items differ from the baseline, judged by: {rules} (match={c.match!r})"
    ]
    if c.match == "permutation":
        pairs = ", ".join(f"{names[i]}<-{names[j]}" for i, j in enumerate(c.mapping))
        lines.append(f"  mapping (obtained item <- baseline item): {pairs}")
    rows = [["item", "baseline item", *(_header(k) for k in checks), "verdict"]]
    shown = range(len(failing)) if len(failing) <= _SHOWN_ITEMS else np.flatnonzero(failing)
    rows += [
        [names[i], names[c.mapping[i]], *(_cell(c, k, int(i)) for k in checks), "FAIL" if failing[i] else "pass"]
        for i in shown
    ]
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    if len(shown) < len(failing):
        lines.append(f"  ({len(failing) - len(shown)} matching items not shown)")
    failed = [k for k in checks if k.failing.any()]
    if failed:
        lines.append("what the failing comparisons mean:")
        lines += [_meaning(c, k) for k in failed]
    return "\n".join(lines)
