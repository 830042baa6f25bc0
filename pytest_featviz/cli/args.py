"""The arguments of the ``featviz`` command: argparse's ``type=`` checks, and what argparse cannot do.

``--channels`` (:func:`parse_channels`), ``--box`` and ``--box-file`` (a per-feature box),
``--out`` and the counts; ``--box -3,3`` (argparse reads ``-3,3`` as an option); loading
SOURCE; and the failure account's remedy written with the command's flags.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, FeatvizError, ModelLoadError

__all__ = [
    "BOX_FILE_HELP",
    "CHANNELS_HELP",
    "add_search_options",
    "box_file",
    "box_pair",
    "cli_remedy",
    "constraint",
    "load_source",
    "negative_values_attached",
    "parse_channels",
    "png",
    "positive",
    "seed",
]

BOX_FILE_HELP = (
    "a per-feature Box from an .npz file holding arrays 'low' and 'high' (each broadcast to the "
    "input shape, e.g. numpy.savez('lo_hi.npz', low=lo, high=hi)); instead of --box"
)
CHANNELS_HELP = "like 0:16 (end excluded), 8: (to the last), 5, or 0,2,5 (parts may mix: 0:4,9)"
# options whose value may start with '-' (a negative number): `--box -3,3` is read as `--box=-3,3`
_VALUE_MAY_BE_NEGATIVE = ("--box", "--at-least")
# the ascent keywords of a remedy that reach has a flag for (other keywords have no flag and stay as written)
_FLAGS = {"steps": "--steps", "restarts": "--restarts", "seed": "--seed", "threshold": "--at-least"}


def parse_channels(text: str) -> tuple[slice | int, ...]:
    """Parse ``--channels``: comma-separated indices and ``start:stop[:step]`` ranges (stop excluded).

    Raises ``argparse.ArgumentTypeError`` naming the bad text; the parts are resolved
    against a layer's size by the ``render`` command (an open ``stop`` runs to the end).

    Examples
    --------
    >>> parse_channels("0:4,9")
    (slice(0, 4, None), 9)
    >>> parse_channels("8:")
    (slice(8, None, None),)
    """
    parts: list[slice | int] = []
    try:
        for piece in text.split(","):
            fields = [int(f) if f.strip() else None for f in piece.split(":")]
            if len(fields) == 1 and fields[0] is not None:
                parts.append(fields[0])
            elif 2 <= len(fields) <= 3:
                parts.append(slice(*fields))
            else:
                raise ValueError(piece)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --channels {text!r}: give indices {CHANNELS_HELP}") from None
    for part in parts:
        numbers = [part] if isinstance(part, int) else [part.start, part.stop, part.step]
        if any(n is not None and n < 0 for n in numbers) or (isinstance(part, slice) and part.step == 0):
            raise argparse.ArgumentTypeError(f"bad --channels {text!r}: indices and steps must be >= 0 (steps > 0)")
    return tuple(parts)


def box_pair(text: str) -> tuple[float, float]:
    """``--box LOW,HIGH``.

    Examples
    --------
    >>> box_pair("-3,3")
    (-3.0, 3.0)
    """
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --box {text!r}: give LOW,HIGH such as 0,1") from None
    if not low < high:
        raise argparse.ArgumentTypeError(f"bad --box {text!r}: LOW must be less than HIGH")
    return low, high


def positive(text: str) -> int:
    """An integer >= 1 (``--steps``, ``--restarts``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return value


def seed(text: str) -> int:
    """An integer >= 0 (``--seed``)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text!r}")
    return value


def png(text: str) -> Path:
    """An ``--out`` path: a ``.png`` file whose folder exists or can be made."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"must name a .png file, such as grid.png; got {text!r}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name such as {text.rstrip('/')}/grid.png")
    for folder in path.parents:  # the nearest existing ancestor must be a folder
        if folder.exists():
            if not folder.is_dir():
                raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(folder)!r} is a file, not a folder")
            break
    return path


def add_search_options(command: argparse.ArgumentParser) -> None:
    """The options of every command that runs an ascent: ``--box`` or ``--box-file``, ``--steps``, ``--seed``."""
    box = command.add_mutually_exclusive_group()
    box.add_argument(
        "--box",
        type=box_pair,
        default=(0.0, 1.0),
        metavar="LOW,HIGH",
        help="the input range, a Box constraint (default 0,1); negative ends work: --box -3,3",
    )
    box.add_argument("--box-file", type=Path, default=None, metavar="FILE.npz", help=BOX_FILE_HELP)
    command.add_argument("--steps", type=positive, default=256, help="ascent steps (default 256)")
    command.add_argument("--seed", type=seed, default=0, help="seed of the starting points (default 0)")


def box_file(path: Path) -> Any:
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


def constraint(args: argparse.Namespace) -> Any:
    """The Box of ``--box-file`` when given, else of ``--box``."""
    from ..constraints import Box

    return box_file(args.box_file) if args.box_file is not None else Box(*args.box)


def load_source(source: str) -> Any:
    """The model SOURCE names; a missing file is refused before TensorFlow is imported."""
    if ":" not in source and not Path(source).exists():  # before importing TensorFlow: fail fast
        raise ModelLoadError(f"model file not found: {source} (resolved to {Path(source).resolve()})")
    from .._deps import tensorflow
    from ..models import load_model

    tensorflow()  # a missing TensorFlow: exit 2 with a message naming the fix

    return load_model(source)


def negative_values_attached(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--box -3,3`` written ``--box=-3,3`` (argparse reads ``-3,3`` as an option).

    Examples
    --------
    >>> negative_values_attached(["reach", "m.keras", "--box", "-3,3", "--at-least", "-1e3"])
    ['reach', 'm.keras', '--box=-3,3', '--at-least=-1e3']
    """
    out: list[str] = []
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            return out + [arg] + rest
        if arg in _VALUE_MAY_BE_NEGATIVE and rest:
            arg = f"{arg}={rest.pop(0)}"
        out.append(arg)
    return out


def cli_remedy(account: str) -> str:
    """The failure account with the remedy's ascent keywords written as flags: ``steps=80`` -> ``--steps 80``.

    Examples
    --------
    >>> print(cli_remedy("  up to 40 steps=here\\n  remedy: more steps (steps=80), lr=0.5, another seed"))
      up to 40 steps=here
      remedy: more steps (--steps 80), lr=0.5, another seed
    """
    keyword = re.compile(r"\b(" + "|".join(_FLAGS) + r")=([^\s,;)]+)")
    lines = account.split("\n")
    return "\n".join(
        keyword.sub(lambda m: f"{_FLAGS[m[1]]} {m[2]}", line) if line.lstrip().startswith("remedy:") else line
        for line in lines
    )
