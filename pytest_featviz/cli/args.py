"""Argument handling of the ``featviz`` command beyond argparse (private; used by ``cli``).

``--box -3,3`` (argparse reads ``-3,3`` as an option), ``--box-file`` (a per-feature box),
and the failure account's remedy written with the command's flags.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, FeatvizError

_BOX_FILE_HELP = (
    "a per-feature Box from an .npz file holding arrays 'low' and 'high' (each broadcast to the "
    "input shape, e.g. numpy.savez('lo_hi.npz', low=lo, high=hi)); instead of --box"
)
# options whose value may start with '-' (a negative number): `--box -3,3` is read as `--box=-3,3`
_VALUE_MAY_BE_NEGATIVE = ("--box", "--at-least")
# the ascent keywords of a remedy that reach has a flag for (other keywords have no flag and stay as written)
_FLAGS = {"steps": "--steps", "restarts": "--restarts", "seed": "--seed", "threshold": "--at-least"}


def _box_file(path: Path) -> Any:
    """``--box-file``: a per-feature ``Box`` from an ``.npz`` with arrays ``low`` and ``high``."""
    import numpy as np

    from ..constraints import Box

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name]) for name in data.files}
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read --box-file {str(path)!r} as an .npz file: {exc}") from None
    missing = sorted({"low", "high"} - set(arrays))
    if missing:
        raise ConfigurationError(
            f"--box-file {str(path)!r} has arrays {sorted(arrays)} but lacks {missing}; "
            "save it with numpy.savez(FILE, low=..., high=...)"
        )
    try:
        return Box(arrays["low"], arrays["high"])
    except FeatvizError as exc:
        raise ConfigurationError(f"bad --box-file {str(path)!r}: {exc}") from None


def _negative_values_attached(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--box -3,3`` written ``--box=-3,3`` (argparse reads ``-3,3`` as an option).

    Examples
    --------
    >>> _negative_values_attached(["reach", "m.keras", "--box", "-3,3", "--at-least", "-1e3"])
    ['reach', 'm.keras', '--box=-3,3', '--at-least=-1e3']
    """
    out, rest = [], list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            return out + [arg] + rest
        if arg in _VALUE_MAY_BE_NEGATIVE and rest:
            arg = f"{arg}={rest.pop(0)}"
        out.append(arg)
    return out


def _cli_remedy(account: str) -> str:
    """The failure account with the remedy's ascent keywords written as flags: ``steps=80`` -> ``--steps 80``.

    Examples
    --------
    >>> print(_cli_remedy("  up to 40 steps=here\\n  remedy: more steps (steps=80), lr=0.5, another seed"))
      up to 40 steps=here
      remedy: more steps (--steps 80), lr=0.5, another seed
    """
    keyword = re.compile(r"\b(" + "|".join(_FLAGS) + r")=([^\s,;)]+)")
    lines = account.split("\n")
    return "\n".join(
        keyword.sub(lambda m: f"{_FLAGS[m[1]]} {m[2]}", line) if line.lstrip().startswith("remedy:") else line
        for line in lines
    )
