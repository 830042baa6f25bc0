"""The featviz settings of a pytest run, resolved once per session (like pytest-mpl).

Precedence, for each setting: ``@pytest.mark.featviz(...)`` > command line > ini > default.
One path rule per source: a marker's path is relative to the **test file's folder**, a
command-line path to the **invocation folder** (where ``pytest`` was started), an ini
path to the **ini file's folder** (the rootdir when there is none). Absolute paths are
used as given.

The plugin builds one :class:`Settings` in ``pytest_configure`` from the command line
and the ini file; a test's marker is applied on top by :meth:`Settings.resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Settings", "Setting", "NAMES"]

Name = Literal["artifacts", "baselines", "seed", "report", "summary", "records", "shard"]
NAMES: tuple[Name, ...] = ("artifacts", "baselines", "seed", "report", "summary", "records", "shard")
MARKER_NAMES = ("artifacts", "baselines", "seed")  # the report is one per run: no marker


@dataclass(frozen=True)
class Setting:
    """One setting's raw value, the text naming where it came from, and the folder its paths are relative to."""

    value: Any
    source: str
    base: Path | None = None

    def path(self) -> Path | None:
        """The value as a path (relative to :attr:`base`); None when unset.

        Examples
        --------
        >>> Setting("out", "--featviz-artifacts", Path("/run")).path()
        PosixPath('/run/out')
        >>> Setting("/abs", "--featviz-artifacts", Path("/run")).path()
        PosixPath('/abs')
        """
        if self.value is None:
            return None
        path = Path(self.value)
        return path if path.is_absolute() or self.base is None else self.base / path


class Settings:
    """The command line and ini settings of one session, and a test's marker on top of them.

    Parameters
    ----------
    config : pytest.Config
        Read once: ``--featviz-*`` options, ``featviz_*`` ini keys, the invocation folder and the ini file.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> config = SimpleNamespace(getoption=lambda name, default=None: {"featviz_seed": "7"}.get(name, default),
    ...                          getini=lambda name: "art" if name == "featviz_artifacts" else None,
    ...                          invocation_params=SimpleNamespace(dir="/run"), inipath=Path("/proj/pytest.ini"),
    ...                          rootpath=Path("/proj"))
    >>> s = Settings(config)
    >>> s.seed(), s.artifacts_dir(None, Path("/proj/tests/test_a.py"))
    (7, PosixPath('/proj/art'))
    >>> marker = SimpleNamespace(kwargs={"artifacts": "here", "seed": 3})
    >>> s.seed(marker), s.artifacts_dir(marker, Path("/proj/tests/test_a.py"))
    (3, PosixPath('/proj/tests/here'))
    """

    def __init__(self, config: Any) -> None:
        self.invocation = Path(config.invocation_params.dir)
        inipath = getattr(config, "inipath", None)
        self.ini_base = Path(inipath).parent if inipath else Path(config.rootpath)
        ini_name = f" (in {inipath})" if inipath else ""
        self._session: dict[str, Setting] = {}
        for name in NAMES:
            cli, ini = config.getoption(f"featviz_{name}", default=None), config.getini(f"featviz_{name}")
            if cli is not None:
                self._session[name] = Setting(cli, f"--featviz-{name}", self.invocation)
            elif ini not in (None, "", []):
                self._session[name] = Setting(ini, f"the ini key featviz_{name}{ini_name}", self.ini_base)
            else:
                self._session[name] = Setting(None, "the default")

    def resolve(self, name: Name, marker: Any = None, test_file: Path | None = None) -> Setting:
        """The setting ``name`` by precedence: ``marker`` (paths relative to ``test_file``'s folder) first."""
        if name in MARKER_NAMES and marker is not None and marker.kwargs.get(name) is not None:
            base = None if test_file is None else Path(test_file).parent
            return Setting(marker.kwargs[name], f"@pytest.mark.featviz({name}=...)", base)
        return self._session[name]

    def seed(self, marker: Any = None, where: str = "") -> int:
        """The base seed (default 0); a value that is not an integer is a UsageError naming its source."""
        __tracebackhide__ = True
        setting = self.resolve("seed", marker)
        raw = setting.value
        if raw is None:
            return 0
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            try:
                return int(raw.strip())
            except ValueError:
                pass
        import pytest

        raise pytest.UsageError(f"{setting.source}{where} must be an integer; got {raw!r}")

    def report_path(self) -> Path | None:
        """The HTML report's file, or None when no report is asked for."""
        return self.resolve("report").path()

    def summary_path(self) -> Path | None:
        """The Markdown summary's file, or None when none is asked for."""
        return self.resolve("summary").path()

    def records_path(self) -> Path | None:
        """The run's JSON records file: as asked for, else ``featviz-run.json`` in the artifacts folder, else None."""
        path = self.resolve("records").path()
        if path is not None:
            return path
        artifacts = self.artifacts_dir()
        return None if artifacts is None else artifacts / "featviz-run.json"

    def shard(self) -> str | None:
        """The name of this shard of a run split across machines (``--featviz-shard``), or None."""
        value = self.resolve("shard").value
        return None if value in (None, "") else str(value)

    def artifacts_dir(self, marker: Any = None, test_file: Path | None = None) -> Path | None:
        """The artifacts folder; else, when a report is asked for, ``<report stem>_files/`` next to it."""
        path = self.resolve("artifacts", marker, test_file).path()
        if path is not None:
            return path
        report = self.report_path()
        return None if report is None else report.with_name(f"{report.stem}_files")

    def baselines_root(self, marker: Any, test_file: Path) -> tuple[Path, str]:
        """The baselines folder of a test in ``test_file`` with ``marker``, and which setting chose it."""
        setting = self.resolve("baselines", marker, test_file)
        path = setting.path()
        if path is None:
            return Path(test_file).parent / "featviz_baselines", f"featviz_baselines/ next to {Path(test_file).name}"
        return path, setting.source
