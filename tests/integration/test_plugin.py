"""The pytest plugin, exercised with `pytester`: in this process (the plugin keeps no global state between
sessions; TensorFlow is imported once; xdist's workers are fresh interpreters), and in a fresh interpreter
where the test is about what a new process imports."""

import json
import xml.etree.ElementTree as ET

import keras  # at the top: in-process runs restore sys.modules, and TensorFlow cannot be imported twice
import pytest

from pytest_featviz._io import sanitize
from pytest_featviz.claims import derive_seed

pytest_plugins = ["pytester"]


def run(pytester, *args):
    """``pytest *args`` in ``pytester.path``, in this process."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def run_fresh(pytester, *args):
    """``pytest *args`` in a fresh interpreter: for what only a new process shows (its imports)."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_loading_the_plugin_imports_no_tensorflow_or_keras(pytester):
    pytester.makepyfile(
        """
        import sys
        import pytest_featviz as fv

        def test_nothing_heavy_loaded():
            fv.Box(0, 1) & fv.LpBall([0.5], 0.1)  # the package's value types work without TF
            assert "tensorflow" not in sys.modules
            assert "keras" not in sys.modules
        """
    )
    result = run_fresh(pytester)
    result.assert_outcomes(passed=1)
    assert "featviz: tensorflow" in result.stdout.str()  # header, read from package metadata


def test_marker_model_is_loaded_once_per_session_relative_to_the_test_file(pytester, model_file):
    pytester.makepyfile(
        """
        import pytest
        import pytest_featviz as fv
        SEEN = []

        @pytest.mark.featviz_model("ones.keras")
        @pytest.mark.parametrize("k", [0, 1])
        def test_uses_model(featviz_model, featviz, k):
            SEEN.append(id(featviz_model))
            r = featviz.ascend(featviz_model, fv.ClassLogit(k), constraints=fv.Box(0, 1), steps=100)
            assert r.values[0] > 2.9

        def test_same_object():
            assert len(SEEN) == 2 and SEEN[0] == SEEN[1]

        @pytest.mark.parametrize("featviz_model", ["ones.keras"], indirect=True)
        def test_indirect(featviz_model):
            assert featviz_model.name == "ones"

        def test_missing_marker(featviz_model):
            pass
        """
    )
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*names no model*featviz_model*"])


def test_unsafe_models_are_refused_unless_allowed_and_then_flagged(pytester, model_file):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.featviz_model("ones.keras", safe_mode=False)
        def test_unsafe(featviz_model):
            assert featviz_model is not None
        """
    )
    refused = run(pytester)
    refused.assert_outcomes(errors=1)
    refused.stdout.fnmatch_lines(["*safe_mode=False*refused*--featviz-allow-unsafe*"])
    allowed = run(pytester, "--featviz-allow-unsafe")
    allowed.assert_outcomes(passed=1)
    allowed.stdout.fnmatch_lines(
        ["*UNSAFE model loading allowed*", "*UNSAFE model loaded (safe_mode=False): ones.keras*"]
    )


SEED_TEST = """
import json, pytest

{marker}
def test_seed(featviz):
    with open("seed.json", "w") as fh:
        json.dump(featviz.seed, fh)
"""


@pytest.mark.parametrize(
    "marker, cli, ini, base",
    [
        ("", None, None, 0),
        ("", None, "5", 5),
        ("", "7", "5", 7),
        ("@pytest.mark.featviz(seed=9)", "7", "5", 9),
    ],
)
def test_seed_precedence_marker_over_command_line_over_ini_over_default(pytester, marker, cli, ini, base):
    pytester.makepyfile(test_seed=SEED_TEST.format(marker=marker))
    if ini is not None:
        pytester.makeini(f"[pytest]\nfeatviz_seed = {ini}\n")
    args = [] if cli is None else ["--featviz-seed", cli]
    run(pytester, *args).assert_outcomes(passed=1)
    got = json.loads((pytester.path / "seed.json").read_text())
    assert got == derive_seed(base, "test_seed.py::test_seed")


def test_failing_assertion_leaves_pictures_and_records_without_the_fixture(pytester, model_file):
    pytester.makepyfile(
        """
        import pytest
        import pytest_featviz as fv

        @pytest.mark.featviz_model("ones.keras")
        @pytest.mark.parametrize("k", [0, 1])
        def test_unreachable(featviz_model, k):
            fv.assert_reaches(featviz_model, fv.ClassLogit(k), 3.5, constraints=fv.Box(0, 1), steps=30)
        """
    )
    pytester.makeini("[pytest]\nfeatviz_artifacts = from_ini\n")
    result = run(pytester, "--junitxml=junit.xml")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "expected ClassLogit(0) reaches >= 3.5" in text and "remedy:" in text
    result.stdout.fnmatch_lines(["*2 featviz assertions ran, 2 failed*"])
    for k in (0, 1):
        node_id = f"test_failing_assertion_leaves_pictures_and_records_without_the_fixture.py::test_unreachable[{k}]"
        folder = pytester.path / "from_ini" / sanitize(node_id)
        assert (folder / "assert_reaches.png").stat().st_size > 0
        record = json.loads((folder / "record.json").read_text())
        assert record["assertions"][0]["threshold"] == 3.5 and record["assertions"][0]["passed"] is False
    props = {p.get("name"): p.get("value") for p in ET.parse(pytester.path / "junit.xml").iter("property")}
    assert float(props["featviz_threshold"]) == 3.5 and "featviz_best_value" in props


def test_the_summary_tells_caught_and_expected_failures_from_real_ones(pytester, model_file):
    pytester.makepyfile(
        """
        import pytest
        import pytest_featviz as fv

        def unreachable(model):
            fv.assert_reaches(model, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), steps=10)

        @pytest.mark.featviz_model("ones.keras")
        def test_caught(featviz_model):
            with pytest.raises(AssertionError):
                unreachable(featviz_model)

        @pytest.mark.featviz_model("ones.keras")
        @pytest.mark.xfail(reason="known regression", strict=True)
        def test_expected(featviz_model):
            unreachable(featviz_model)

        @pytest.mark.featviz_model("ones.keras")
        def test_real(featviz_model):
            unreachable(featviz_model)
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*3 featviz assertions ran, 3 failed (2 of them in tests that passed or xfailed: caught or expected)*"]
    )


def test_a_pytest_run_inside_a_test_keeps_its_own_featviz_counts(pytester, model_file):
    """The outer session's summary counts only its own assertions, not the in-process inner run's."""
    inner = (
        "import pytest_featviz as fv\\n"
        "def test_inner():\\n"
        "    fv.assert_reaches('ones.keras', fv.ClassLogit(0), 2.5, constraints=fv.Box(0, 1), steps=30)\\n"
        "    fv.assert_reaches('ones.keras', fv.ClassLogit(1), 2.5, constraints=fv.Box(0, 1), steps=30)\\n"
    )
    pytester.makepyfile(
        test_outer=f"""
        import pytest_featviz as fv

        pytest_plugins = ["pytester"]

        def test_outer(pytester):
            fv.assert_reaches({str(model_file)!r}, fv.ClassLogit(0), 2.5, constraints=fv.Box(0, 1), steps=30)
            pytester.makepyfile(test_inner="{inner}")
            (pytester.path / "ones.keras").write_bytes(open({str(model_file)!r}, "rb").read())
            result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_inner.py")
            result.assert_outcomes(passed=1)
            result.stdout.fnmatch_lines(["*2 featviz assertions ran, 0 failed*"])
        """
    )
    result = run(pytester, "test_outer.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 featviz assertions ran, 0 failed*"])


def test_the_marker_declares_what_a_saved_models_outputs_are(pytester):
    """A SavedModel ending in a ReLU: featviz will not guess its head; ``outputs='logits'`` in the marker
    (or featviz.load_model) says it, and the model is cached per declaration."""
    inp = keras.Input((3,))
    keras.Model(inp, keras.layers.Dense(2, activation="relu", kernel_initializer="ones")(inp)).export(
        str(pytester.path / "exported")
    )
    pytester.makepyfile(
        """
        import pytest
        import pytest_featviz as fv

        def reach(model):
            fv.assert_reaches(model, fv.ClassLogit(0), 2.5, constraints=fv.Box(0, 1), steps=30)

        @pytest.mark.featviz_model("exported", outputs="logits")
        def test_declared(featviz_model):
            reach(featviz_model)

        @pytest.mark.featviz_model("exported")
        def test_undeclared(featviz_model):
            reach(featviz_model)

        def test_through_the_fixture(featviz):
            reach(featviz.load_model("exported", outputs="logits"))
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_undeclared*", "*ConfigurationError*will not guess*"])
