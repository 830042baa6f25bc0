"""The object behind the ``featviz`` fixture: the library, bound to the running test."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import baselines
from .._io import remove_stale_temporaries
from ..claims import Record, TestContext, unwrap
from ..errors import ConfigurationError
from .settings import Settings

if TYPE_CHECKING:
    from ..engine import AscentResult
    from ..models import Outputs

__all__ = ["Featviz"]

_BEHAVIOUR = ("cross", "cross_back", "similarity")  # per-item numbers the report shows in its details


@dataclasses.dataclass(frozen=True)
class _Pending:
    """A baseline comparison about to be judged: its record so far, the claim it states (without the
    checks that judged it) and the command that updates the baseline."""

    record: Record
    claim: str
    command: str


class Featviz:
    """Bound to one test: its seed, its artifacts folder, its model cache (the ``featviz`` fixture).

    Exported as ``pytest_featviz.Featviz`` for type hints: ``def test_x(featviz: fv.Featviz)``.

    Examples
    --------
    In a test file::

        def test_class_3_is_reachable(featviz: fv.Featviz):
            model = featviz.load_model("models/clf.keras")
            r = featviz.ascend(model, fv.ClassProbability(3), constraints=fv.Box(0, 1))
            featviz.save("class3", r)  # drawn over r.value_range, the box
            featviz.assert_matches_baseline("class3", r)  # create with --featviz-update-baselines
    """

    def __init__(self, request: Any, loader: Callable[..., Any], ctx_key: Any, settings: Settings):
        self._request = request
        self._loader = loader
        self._ctx_key = ctx_key
        self._settings = settings
        self._baseline_paths: set[Path] = set()

    @property
    def context(self) -> TestContext:
        """The running test's context (seed, artifacts folder, records)."""
        return self._request.node.stash[self._ctx_key]

    @property
    def seed(self) -> int:
        """This test's seed: derived from ``--featviz-seed`` and the test's node id."""
        return self.context.seed

    @property
    def artifacts_dir(self) -> Path | None:
        """Where this test's pictures go (None when artifacts are off)."""
        path = self.context.artifact_path("x", ".png")
        return None if path is None else path.parent

    def load_model(self, source: Any, *, safe_mode: bool = True, outputs: Outputs = "auto") -> Any:
        """Load a model (path relative to the test file), once per session and worker.

        ``safe_mode`` and ``outputs`` are :func:`pytest_featviz.load_model`'s (``outputs``
        tells featviz what a SavedModel directory's outputs are).
        """
        return self._loader(source, safe_mode=safe_mode, outputs=outputs)

    def ascend(self, model: Any, objective: Any, **options: Any) -> AscentResult:
        """:func:`pytest_featviz.ascend` with this test's seed as the default seed."""
        from ..engine import ascend

        if isinstance(model, (str, Path)):
            model = self.load_model(model)
        options.setdefault("seed", self.seed)
        return ascend(model, objective, **options)

    def save(self, name: str, images: Any, **grid_options: Any) -> Path | None:
        """Save a batch of inputs (or an AscentResult's inputs) as a PNG grid under the artifacts folder.

        An ``AscentResult`` is drawn over its ``value_range`` (its constraint box: a
        result found in ``Box(0, 255)`` is drawn over 0..255); a plain array over
        ``(0, 1)``. Either way ``value_range=`` (a :func:`pytest_featviz.render.grid`
        option, like ``labels=``) overrides it.

        Returns the path, or None when ``--featviz-artifacts`` is not set.
        """
        from ..engine import AscentResult

        images = unwrap(images)  # a claim's outcome: its AscentResult
        if not isinstance(images, AscentResult):
            images = np.asarray(images)
        return self.context.save_images(name, images, **grid_options)

    def baselines_root(self) -> Path:
        """The folder of stored baselines (this test's live in ``<root>/<sanitized node id>/``).

        By precedence: ``@pytest.mark.featviz(baselines=DIR)`` (relative to the test
        file's folder) > ``--featviz-baselines DIR`` (relative to the invocation folder) > ini
        ``featviz_baselines`` (relative to the ini file's folder) > ``featviz_baselines/`` next to
        the test file (see :mod:`pytest_featviz._pytest.settings`).
        """
        node = self._request.node
        return self._settings.baselines_root(node.get_closest_marker("featviz"), Path(str(node.path)))[0]

    def _node_id(self, of_test: str | None) -> str:
        if of_test is None:
            return self._request.node.nodeid
        return of_test if "::" in of_test else f"{self._request.node.nodeid.split('::')[0]}::{of_test}"

    def _root_of(self, node_id: str) -> tuple[Path, str]:
        """The baselines folder of test ``node_id`` as that test resolves it, and why that one.

        A collected test answers with its own file and marker; otherwise its file is
        found from the node id (relative to the rootdir), and a test of this file is
        taken to share this test's marker.
        """
        node, config, root = self._request.node, self._request.config, self._settings.baselines_root
        other = next((item for item in self._request.session.items if item.nodeid == node_id), None)
        if other is not None:
            return root(other.get_closest_marker("featviz"), Path(str(other.path)))
        file = node_id.split("::")[0]
        if file == node.nodeid.split("::")[0]:
            return root(node.get_closest_marker("featviz"), Path(str(node.path)))
        return root(None, Path(config.rootpath) / file)

    def assert_matches_baseline(
        self,
        name: str,
        result_or_images: Any,
        *,
        min_ssim: float = baselines.DEFAULT_MIN_SSIM,
        value_rtol: float = baselines.DEFAULT_VALUE_RTOL,
        match: str = "index",
        baseline_of: str | None = None,
        value_atol: float = baselines.DEFAULT_VALUE_ATOL,
        model: Any = None,
        checks: Any = None,
        min_cross: float = baselines.DEFAULT_MIN_CROSS,
        min_similarity: float = baselines.DEFAULT_MIN_SIMILARITY,
        similarity: str = "cosine",
        reference: str | None = None,
    ) -> baselines.Comparison | None:
        """Compare a result with its stored baseline; with ``--featviz-update-baselines``, write it.

        With ``model=`` (the model the result was found with) the comparison is
        behavioural: the baseline stores the reference layer's activations at its
        inputs, and a new result is judged by cross-activation, representation
        similarity, values and reached flags (:func:`pytest_featviz.baselines.compare`),
        which float noise across machines does not move, instead of by picture SSIM.

        Parameters
        ----------
        name : str
            The baseline's name, unique within the test: ``<name>.npz`` and ``<name>.png``
            under ``<baselines_root>/<sanitized node id>/``.
        result_or_images : AscentResult or array_like
            From ``ascend`` or ``assert_reaches`` (values and reached flags are compared
            too), or a batch of pictures (compared by SSIM only).
        min_ssim, value_rtol, match, value_atol, checks, min_cross, min_similarity, similarity
            As for :func:`pytest_featviz.baselines.compare` (the defaults and why: see there).
        model : keras.Model, optional
            The model the result was found with: written baselines store its reference
            activations, and comparisons run it (the behavioural gate).
        reference : str, optional
            The reference layer stored on update (default: the objective's layer, or
            ``'logits'`` for a class objective).
        baseline_of : str, optional
            Compare with another test's baseline (a node id as pytest prints it, or a
            test name in this file), e.g. a candidate model against the reference
            model's; such a comparison only reads, even with ``--featviz-update-baselines``.
            The baseline is looked for where that test writes it: with its marker and
            next to its file by default, so a test in another folder is found.

        Returns
        -------
        pytest_featviz.baselines.Comparison, or None when the baseline was written.

        Raises
        ------
        AssertionError
            The baseline is missing, or an item differs beyond the tolerances; the
            message lists every item, the pictures (with ``--featviz-artifacts``) and
            the command that updates the baseline.
        """
        __tracebackhide__ = True
        baselines.check_options(min_ssim, value_rtol, match, value_atol)
        node_id = self._node_id(baseline_of)
        path, where = self._baseline_file(name, node_id, baseline_of)
        raw = unwrap(result_or_images)
        obtained = baselines.capture(raw)
        command = f"pytest {shlex.quote(node_id)} --featviz-update-baselines"
        claim = (
            f"matches baseline {name!r} (min_ssim={min_ssim}, value_rtol={value_rtol}, value_atol={value_atol}, "
            f"match={match!r}"
        )
        entry = Record("assert_matches_baseline", False, name=name, baseline=str(path), claim=f"{claim})")
        if baseline_of is None and self._request.config.getoption("featviz_update_baselines"):
            baselines.save(
                path, obtained if model is None else baselines.capture(raw, model=model, reference=reference)
            )
            self._request.node.user_properties.append(("featviz_baseline_written", str(path)))
            self.context.record(dataclasses.replace(entry, passed=True, written=True))
            return None
        remove_stale_temporaries(path.parent)  # a first write killed midway leaves one
        if not path.exists():
            self.context.record(entry)
            raise AssertionError(
                f"assert_matches_baseline failed: there is no baseline {name!r} at {path}\n"
                f"{where}  to create it, run: {command}"
            )
        options = dict(
            model=model,
            min_ssim=min_ssim,
            value_rtol=value_rtol,
            match=match,
            value_atol=value_atol,
            checks=checks,
            min_cross=min_cross,
            min_similarity=min_similarity,
            similarity=similarity,
        )
        pending = _Pending(entry, claim, command)
        return self._compare(name, raw if model is not None else obtained, obtained, path, pending, options)

    def _baseline_file(self, name: str, node_id: str, baseline_of: str | None) -> tuple[Path, str]:
        """The file of baseline ``name`` of test ``node_id``, and where it was looked for (another test's).

        A name this test used before is a ConfigurationError: every call gets its own file.
        """
        root, why = (self.baselines_root(), "") if baseline_of is None else self._root_of(node_id)
        path = baselines.baseline_path(root, node_id, name)
        if path in self._baseline_paths:
            raise ConfigurationError(
                f"the baseline name {name!r} is used twice in {self._request.node.nodeid}; "
                "give every assert_matches_baseline call of a test its own name"
            )
        self._baseline_paths.add(path)
        return path, f"  looked in the baselines folder of {node_id}: {root} ({why})\n" if why else ""

    def _compare(
        self,
        name: str,
        new: Any,
        obtained: baselines.Baseline,
        path: Path,
        pending: _Pending,
        options: dict[str, Any],
    ) -> baselines.Comparison:
        """Compare ``new`` (the result, or its capture ``obtained``) with the baseline at ``path``; record the
        outcome (completing ``pending``'s record) and raise on a mismatch."""
        __tracebackhide__ = True
        entry, claim, command = pending.record, pending.claim, pending.command
        expected = baselines.load(path)
        comparison = baselines.compare(new, expected, **options)
        pictures, paths = ("", {}) if comparison.passed else self._save_mismatch(name, obtained, expected, comparison)
        self.context.record(
            dataclasses.replace(
                entry,
                passed=comparison.passed,
                mapping=comparison.mapping,
                ssim=tuple(float(v) for v in comparison.ssim),
                max_input_change=tuple(float(v) for v in comparison.max_input_change),
                pictures=paths,
                extra={k.name: tuple(float(v) for v in k.numbers) for k in comparison.checks if k.name in _BEHAVIOUR},
                claim=f"{claim}, judged by {'+'.join(comparison.judged) or '-'})",
            )
        )
        if not comparison.passed:
            old_file = ""
            if options["model"] is not None and expected.reference is None and options["checks"] is None:
                old_file = (
                    "\n  judged by pictures: this baseline stores no reference activations (format version "
                    f"{expected.metadata.get('version')}); rewrite it with {command} for the behavioural gate"
                )
            raise AssertionError(
                f"assert_matches_baseline failed: {comparison.describe()}\n  baseline: {path}\n"
                f"  pictures: {pictures}\n  if the change is intended, update the baseline: {command}{old_file}"
            )
        return comparison

    def _save_mismatch(
        self, name: str, obtained: baselines.Baseline, expected: baselines.Baseline, comparison: baselines.Comparison
    ) -> tuple[str, dict[str, str]]:
        """Save obtained / expected / difference pictures: (text for the message, caption -> path)."""
        if self.artifacts_dir is None:
            return "run with --featviz-artifacts DIR to save the obtained, expected and difference pictures", {}
        saved, paths = [], {}
        labels = {"expected": [f"baseline {j}" for j in comparison.mapping]}
        for kind, batch in baselines.mismatch_pictures(obtained, expected, comparison).items():
            value_range = (0, 255) if kind == "difference" else expected.value_range
            text = labels.get(kind, [f"{i}: SSIM {s:.3f}" for i, s in enumerate(comparison.ssim)])
            path = self.context.save_images(f"{name}-{kind}", batch, value_range=value_range, labels=text)
            if path is not None:
                saved.append(f"{kind} {path}")
                paths[kind] = str(path)
        return ", ".join(saved) or "(not saved: see the note below, or these inputs cannot be drawn)", paths
