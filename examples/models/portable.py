"""Make the example ``.keras`` files loadable by the oldest supported Keras (3.3.3).

A ``.keras`` archive saved by a newer Keras carries config keys an older Keras refuses
(``Unrecognized keyword arguments passed to Dense: {'quantization_config': None}``). Each key
dropped here is one a newer Keras added *with the value it defaults to*, so the model an older
or newer Keras builds from the file is the same; a key with any other value is left alone (and
the oldest-set run, ``make test-oldest``, would then fail loudly). The weights and every other
archive member are copied byte for byte, with the archive's compression.

Run after ``examples/train_models.py`` or ``examples/make_perturbed_model.py`` (any Keras):

    python examples/models/portable.py examples/models/*.keras
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

# Key -> the default value newer Keras versions write for it (and older ones do not accept).
NEWER_DEFAULTS: dict[str, Any] = {"quantization_config": None, "input_axes": None, "output_axes": None}


def strip(config: Any) -> Any:
    """``config`` without the keys of ``NEWER_DEFAULTS`` that hold their default value, at any depth.

    Examples
    --------
    >>> strip({"units": 3, "quantization_config": None, "init": {"seed": 1, "input_axes": None}})
    {'units': 3, 'init': {'seed': 1}}
    >>> strip({"quantization_config": {"mode": "int8"}})
    {'quantization_config': {'mode': 'int8'}}
    """
    if isinstance(config, dict):
        return {k: strip(v) for k, v in config.items() if not (k in NEWER_DEFAULTS and v == NEWER_DEFAULTS[k])}
    if isinstance(config, list):
        return [strip(v) for v in config]
    return config


def make_portable(path: Path) -> bool:
    """Rewrite ``path``'s ``config.json`` with :func:`strip`; return whether anything changed."""
    with zipfile.ZipFile(path) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    config = json.loads(dict((i.filename, d) for i, d in members)["config.json"])
    portable = strip(config)
    if portable == config:
        return False
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as new:
        for info, data in members:
            if info.filename == "config.json":
                data = json.dumps(portable).encode()
            new.writestr(info, data, compress_type=info.compress_type)
    tmp.replace(path)
    return True


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {'rewritten' if make_portable(Path(name)) else 'already portable'}")
