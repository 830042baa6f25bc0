"""The pytest plugin (entry point ``pytest11: featviz``): hooks and fixtures only.

Loading it imports neither TensorFlow nor Keras; fixtures import them when a test
uses them. Each capability lives in its own module; this file wires them to pytest.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from ._pytest import Collector, Settings
from .claims import TestContext, activate, derive_seed, record_file, to_json  # light: no NumPy, no engine

if TYPE_CHECKING:
    from ._pytest import Featviz

_OPTIONS: dict[str, tuple[str, Literal["string"]]] = {
    # name: (help, ini type)
    "artifacts": ("directory for pictures and JSON records of featviz assertions", "string"),
    "baselines": ("directory of stored baselines (default: featviz_baselines/ next to each test file)", "string"),
    "seed": ("base seed; each test derives its own from its node id (default 0)", "string"),
    "report": ("write an HTML report of every featviz assertion to this file", "string"),
    "summary": ("write a Markdown summary (the real failures with their accounts) to this file", "string"),
    "records": ("write the run's JSON records to this file (default: featviz-run.json in the artifacts)", "string"),
    "shard": ("name of this shard of a suite split across machines, kept in every record", "string"),
}
_SESSION_KEY = pytest.StashKey[dict]()
_SETTINGS_KEY = pytest.StashKey[Settings]()
_MARKERS = [
    "featviz_model(source, safe_mode=True, outputs='auto'): the model the featviz_model fixture loads "
    "(a path relative to the test file, or 'package.module:factory')",
    "featviz(seed=None, artifacts=None, baselines=None): per-test featviz settings "
    "(they take precedence over the command line and ini)",
]


def _register_hypothesis_profile() -> None:
    """Register (not load) the `featviz` Hypothesis settings profile."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        return
    in_ci = bool(os.environ.get("CI"))
    default = settings.default  # the loaded profile (None only while Hypothesis itself is being imported)
    settings.register_profile(
        "featviz",
        deadline=None,
        max_examples=25,
        derandomize=in_ci,
        database=None if in_ci or default is None else default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # before any conftest runs, so `settings.load_profile("featviz")` works in a conftest
    _register_hypothesis_profile()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("featviz", "feature visualization tests (pytest-featviz)")
    for name, (text, kind) in _OPTIONS.items():
        group.addoption(f"--featviz-{name}", dest=f"featviz_{name}", default=None, help=text)
        parser.addini(f"featviz_{name}", text, type=kind, default=None)
    group.addoption(
        "--featviz-update-baselines",
        action="store_true",
        default=False,
        help="write the baselines of the tests that run instead of comparing",
    )
    group.addoption(
        "--featviz-allow-unsafe",
        action="store_true",
        default=False,
        help="allow featviz_model(..., safe_mode=False): models that run arbitrary code on load",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)
    settings = config.stash[_SETTINGS_KEY] = Settings(config)  # once per session: command line and ini
    settings.seed()  # a bad seed is a usage error before any test runs
    config.stash[_SESSION_KEY] = {
        "models": {},
        "ran": 0,
        "failed": 0,
        "expected": 0,
        "records": [],
        "written": [],
        "unsafe": [],
        "outcomes": {},
        "files": {},  # what pytest_sessionfinish wrote: records, report, summary -> path (or why not)
        "tests": {},
        "messages": {},
        "where": {"shard": settings.shard(), "host": socket.gethostname()},
        "started": _now(),
    }
    config.pluginmanager.register(Collector(config.stash[_SESSION_KEY]), f"featviz-collector-{id(config)}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _providers(module: str) -> list[str]:
    """The installed distributions that provide the top-level ``module``, sorted.

    TensorFlow ships under many names (tensorflow, tensorflow-cpu, tensorflow-macos,
    tensorflow-intel, tf-nightly, ...), so the header asks the installed metadata which one
    provides the ``tensorflow`` module instead of guessing names (issue 14).
    """
    # Names as the wheels spell them ("tensorflow_cpu" in 2.21), normalised the PEP 503 way.
    return sorted({re.sub(r"[-_.]+", "-", name).lower() for name in metadata.packages_distributions().get(module, [])})


def _module_version(module: str) -> str:
    """``version (distribution)`` of what provides ``module``; the bare version if the names match."""
    found = _providers(module)
    if not found:
        return "not installed"
    dist = found[0]
    version = _version(dist)
    return version if dist == module else f"{version} ({dist})"


def _environment(config: pytest.Config) -> dict[str, str]:
    """What results depend on: library versions, backend, device and the base seed."""
    return {
        "pytest-featviz": _version("pytest-featviz"),
        "tensorflow": _module_version("tensorflow"),
        "keras": _version("keras"),
        "scikit-image": _version("scikit-image"),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "device": "cpu" if "tensorflow-cpu" in _providers("tensorflow") else "cpu/gpu (tensorflow)",
        "seed": str(config.stash[_SETTINGS_KEY].seed()),
    }


def pytest_report_header(config: pytest.Config) -> list[str]:
    env = _environment(config)
    line = "featviz: " + ", ".join(
        f"{k} {env[k]}" for k in ("tensorflow", "keras", "scikit-image", "backend", "device", "seed")
    )
    lines = [line]
    if config.getoption("featviz_allow_unsafe"):
        lines.append("featviz: UNSAFE model loading allowed (--featviz-allow-unsafe)")
    return lines


_CTX_KEY = pytest.StashKey[TestContext]()
_PUBLISHED_KEY = pytest.StashKey[int]()
_PROPERTIES = (
    "featviz_assertions",
    "featviz_failed",
    "featviz_best_value",
    "featviz_threshold",
    "featviz_steps",
    "featviz_records",
)


@pytest.hookimpl(wrapper=True, trylast=True)  # innermost: a bad seed raised here still passes the outer wrappers
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    __tracebackhide__ = True
    marker, settings = item.get_closest_marker("featviz"), item.config.stash[_SETTINGS_KEY]
    base = settings.seed(marker, f" on {item.nodeid}")
    item.stash[_CTX_KEY] = TestContext(
        item.nodeid,
        derive_seed(base, item.nodeid),
        settings.artifacts_dir(marker, Path(str(item.path))),
        # pictures of passing assertions too, where a person will look at them: a report, or records to merge
        keep_passing=settings.report_path() is not None or settings.resolve("records").value is not None,
    )
    return (yield from _in_context(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _in_context(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    return (yield from _in_context(item))


def _in_context(item: pytest.Item) -> Iterator[None]:
    """Run one phase (setup with the fixtures, call, teardown) with the test's context current."""
    ctx = item.stash.get(_CTX_KEY, None)
    if ctx is None:
        return (yield)
    with activate(ctx):
        try:
            return (yield)
        finally:
            _publish(item, ctx)


def _publish(item: pytest.Item, ctx: TestContext) -> None:
    """Put the records so far in the test's user properties (once each) and its JSON record.

    Runs after every phase that added records, so assertions in fixtures count too;
    JUnit XML and the collector read the teardown report, which carries the last set.
    """
    if not ctx.records or item.stash.get(_PUBLISHED_KEY, 0) == len(ctx.records):
        return
    item.stash[_PUBLISHED_KEY] = len(ctx.records)
    item.user_properties[:] = [(k, v) for k, v in item.user_properties if k not in _PROPERTIES]
    failed = [r for r in ctx.records if not r.passed]
    item.user_properties.append(("featviz_assertions", len(ctx.records)))
    item.user_properties.append(("featviz_failed", len(failed)))
    last = ctx.records[-1]
    for key in ("best_value", "threshold", "steps"):
        value = getattr(last, key)
        if value is not None:  # one number as a number; several (steps per item) as a list
            item.user_properties.append(
                (
                    f"featviz_{key}",
                    value[0]
                    if isinstance(value, tuple) and len(value) == 1
                    else list(value)
                    if isinstance(value, tuple)
                    else value,
                )
            )
    item.user_properties.append(("featviz_records", to_json(ctx.records)))
    path = ctx.artifact_path("record", ".json")
    if path is not None:
        ctx.write_record(path, record_file(item.nodeid, ctx.seed, ctx.records))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On the controller, write the run's records, HTML report and Markdown summary (those asked for)."""
    config = session.config
    settings = config.stash[_SETTINGS_KEY]
    state = config.stash[_SESSION_KEY]
    outputs = {"records": settings.records_path(), "report": settings.report_path(), "summary": settings.summary_path()}
    if _is_worker(config) or not any(outputs.values()):
        return
    if outputs["records"] is not None and settings.resolve("records").value is None and not state["tests"]:
        outputs["records"] = None  # nothing ran: no run file in the artifacts folder
    from .report import Run, write_report, write_run, write_summary

    shard = {**state["where"], "started": state["started"], "finished": _now(), "environment": _environment(config)}
    run = Run(tuple(state["records"]), dict(state["tests"]), (shard,))
    writers: dict[str, Callable[[Path, Run], Path]] = {
        "records": write_run,
        "report": write_report,
        "summary": write_summary,
    }
    for name, path in outputs.items():
        if path is not None:
            try:
                state["files"][name] = str(writers[name](path, run))
            except OSError as exc:
                state["files"][name] = f"NOT written ({exc})"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _is_worker(config):
        return
    state = config.stash[_SESSION_KEY]
    if not state["ran"] and not state["written"] and not state["unsafe"] and not state["files"]:
        return
    tr = terminalreporter
    tr.section("featviz")
    line = f"{state['ran']} featviz assertions ran, {state['failed']} failed"
    if state["expected"]:
        line += f" ({state['expected']} of them in tests that passed or xfailed: caught or expected)"
    tr.write_line(line)
    settings = config.stash[_SETTINGS_KEY]
    artifacts = settings.artifacts_dir()
    if artifacts is not None and (settings.resolve("artifacts").value is not None or artifacts.exists()):
        tr.write_line(f"artifacts: {artifacts}")
    for name, path in state["files"].items():
        tr.write_line(f"{name}: {path}")
    for path in state["written"]:
        tr.write_line(f"baseline written: {path}")
    for source in state["unsafe"]:
        tr.write_line(f"UNSAFE model loaded (safe_mode=False): {source}")


# -- fixtures ---------------------------------------------------------------------------------


def _load_cached(config: pytest.Config, source: Any, base: Path, safe_mode: bool, outputs: Any = "auto") -> Any:
    """Load a model once per session and worker, keyed by resolved path, modification time and options."""
    from ._deps import tensorflow
    from .models import load_model

    tensorflow()  # a missing TensorFlow: a MissingDependencyError naming the fix

    key: tuple[str, int | None, bool, str]  # resolved path (or the source's repr), modification time, options
    if not isinstance(source, (str, os.PathLike)) or (
        isinstance(source, str) and ":" in source and not Path(source).exists()
    ):
        key = (repr(source), None, safe_mode, str(outputs))
        path = source
    else:
        path = Path(source)
        path = path if path.is_absolute() else base / path
        mtime = path.stat().st_mtime_ns if path.exists() else None
        key = (str(path.resolve()), mtime, safe_mode, str(outputs))
    state = config.stash[_SESSION_KEY]
    if not safe_mode:
        if not config.getoption("featviz_allow_unsafe"):
            raise pytest.UsageError(
                f"featviz_model({source!r}, safe_mode=False) refused: loading it may run arbitrary code. "
                "Pass --featviz-allow-unsafe if you trust the file."
            )
        state["unsafe"].append(str(source))
    models = state["models"]
    if key not in models:
        models[key] = load_model(path, safe_mode=safe_mode, outputs=outputs)
    return models[key]


@pytest.fixture
def featviz_model(request: pytest.FixtureRequest) -> Any:
    """The model named by ``@pytest.mark.featviz_model("path")`` or by indirect parametrization.

    Loaded once per session (and per xdist worker), cached by resolved path and
    modification time; paths are relative to the test file.
    """
    base = Path(str(request.node.path)).parent
    if hasattr(request, "param"):
        source, safe_mode, outputs = request.param, True, "auto"
    else:
        marker = request.node.get_closest_marker("featviz_model")
        if marker is None or not marker.args:
            raise pytest.UsageError(
                f"{request.node.nodeid} uses the featviz_model fixture but names no model: add "
                "@pytest.mark.featviz_model('path/to/model.keras') or parametrize it indirectly"
            )
        source, safe_mode = marker.args[0], marker.kwargs.get("safe_mode", True)
        outputs = marker.kwargs.get("outputs", "auto")
    return _load_cached(request.config, source, base, bool(safe_mode), outputs)


@pytest.fixture
def featviz(request: pytest.FixtureRequest) -> Featviz:
    """The featviz helper bound to the running test: ``ascend``, ``load_model``, ``save``, baselines."""
    from ._pytest import Featviz

    return Featviz(
        request,
        lambda source, safe_mode=True, outputs="auto": _load_cached(
            request.config, source, Path(str(request.node.path)).parent, safe_mode, outputs
        ),
        _CTX_KEY,
        request.config.stash[_SETTINGS_KEY],
    )
