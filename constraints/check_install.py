"""Check that installing pytest-featviz leaves the user's environment alone.

Two checks, each a command:

``python constraints/check_install.py unchanged -- PIP-INSTALL-ARGS...``
    Runs ``pip install PIP-INSTALL-ARGS`` with this interpreter and fails (exit 1) if any
    package installed before changed version or disappeared; new packages are listed.

``python constraints/check_install.py no-second-tensorflow``
    In a throw-away venv holding a stand-in ``tensorflow`` 2.17.1 (the GPU build's name, an
    empty wheel made here), resolves ``pip install --dry-run --report`` of this project and
    fails if it would install any other TensorFlow distribution (tensorflow-cpu, ...).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TENSORFLOWS = {
    "tensorflow",
    "tensorflow-cpu",
    "tensorflow-gpu",
    "tensorflow-intel",
    "tensorflow-macos",
    "tf-nightly",
    "tf-nightly-cpu",
}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def installed(python: str) -> dict[str, str]:
    """``{distribution: version}`` of everything installed for ``python`` (``pip list``)."""
    out = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True
    ).stdout
    return {_norm(d["name"]): d["version"] for d in json.loads(out)}


def unchanged(pip_args: list[str]) -> int:
    before = installed(sys.executable)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *pip_args], check=True, cwd=ROOT)
    after = installed(sys.executable)
    changed = {n: (v, after.get(n, "removed")) for n, v in before.items() if after.get(n) != v}
    added = sorted(f"{n}=={v}" for n, v in after.items() if n not in before)
    print(f"pip install {' '.join(pip_args)}: added {', '.join(added) or 'nothing'}")
    if changed:
        for name, (old, new) in sorted(changed.items()):
            print(f"CHANGED {name}: {old} -> {new}", file=sys.stderr)
        return 1
    print(f"none of the {len(before)} packages installed before changed")
    return 0


def _fake_wheel(folder: Path, name: str, version: str) -> Path:
    """An installable wheel with metadata only: a stand-in for a big distribution."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    files = {
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: check_install\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{f},,\n" for f in files) + f"{dist}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as whl:
        for f, text in {**files, f"{dist}.dist-info/RECORD": record}.items():
            whl.writestr(f, text)
    return path


def no_second_tensorflow() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = Path(tmp) / "env"
        venv.create(env, with_pip=True)
        python = str(env / "bin" / "python")
        wheel = _fake_wheel(Path(tmp), "tensorflow", "2.17.1")
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
        report = Path(tmp) / "report.json"
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--dry-run", "--report", str(report), str(ROOT)], check=True
        )
        would = {
            _norm(item["metadata"]["name"]): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]
        }
    extra = sorted(n for n in would if n in TENSORFLOWS)
    print(f"with tensorflow 2.17.1 installed, pip would install: {', '.join(sorted(would))}")
    if extra:
        print(f"FAIL: installing pytest-featviz would add a second TensorFlow: {extra}", file=sys.stderr)
        return 1
    print("no second TensorFlow distribution")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["unchanged"] and argv[1:2] == ["--"] and len(argv) > 2:
        return unchanged(argv[2:])
    if argv == ["no-second-tensorflow"]:
        return no_second_tensorflow()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
