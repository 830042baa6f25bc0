"""The README's code examples work against the current API, and keep working.

Every ```python block of README.md runs, in order, in one namespace. A small prelude binds the
free names the fragments rely on (``x0``, ``x``, ``batch``, ``mask``, ``image``, ...) to real
objects; the files the first blocks load (``models/clf.keras``, ``export_dir/``,
``mypkg.models:build``, ``examples/models/textures_cnn.keras``) are made in a temporary working
folder. After each block, the outputs its comments quote (``repr(c)   # "Box(0.0, 1.0) & ..."``,
``# True: ...``, ``# ['flatten', ...]``) are compared with the real ones, and the test functions it
defines are called. The two blocks that need the ``featviz`` fixture run as test files under
pytester. The quoted failure account, missing-baseline message, layer error and ``featviz``
command lines are checked against the code too.
"""

import ast
import inspect
import re
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.claims import derive_seed
from pytest_featviz.cli.args import negative_values_attached
from pytest_featviz.cli.command import build_parser

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MODELS = ROOT / "examples" / "models"

# Blocks kept out of the shared namespace, keyed by a distinctive line of each.
UNDER_PYTEST = (
    # uses the `featviz` fixture: runs as a test file in test_fixture_blocks_pass_under_pytest
    "def test_claims(featviz_model, featviz: fv.Featviz):  # fv.Featviz, the fixture's class, for type hints",
    # uses the `featviz` fixture and a stored baseline: same test, which also creates the baseline
    "def test_class_maximisers_unchanged(featviz_model, featviz):",
)
# `# <literal>` after a top-level expression is the output the README claims for it
CLAIM = re.compile(r"""^(?P<expr>\S.*?)\s+#\s+(?P<value>"[^"]*"|\[[^\]]*\]|True|False)(?::.*)?$""")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def blocks(language="python"):
    """``(first line number, code)`` of every fenced block of README.md in ``language`` ("" for none)."""
    found, fence, start, lines = [], None, 0, []
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if not line.startswith("```"):
            lines.append(line)
        elif fence is None:
            fence, start, lines = line[3:].strip(), number + 1, []
        else:
            if fence == language:
                found.append((start, "\n".join(lines) + "\n"))
            fence = None
    return found


def block(key):
    """The one python block that contains the line ``key``."""
    found = [code for _, code in blocks() if key in code.splitlines()]
    assert len(found) == 1, f"{len(found)} README python blocks contain {key!r}; expected exactly one"
    return found[0]


def claims(code):
    """The ``(expression, claimed value)`` pairs of a block's top-level lines."""
    for line in code.splitlines():
        m = CLAIM.match(line)
        if m is None:
            continue
        try:
            ast.parse(m["expr"], mode="eval")
        except SyntaxError:
            continue
        yield m["expr"], ast.literal_eval(m["value"])


def digits():
    data = np.load(MODELS / "digits_test.npz")
    return data["x_test"].astype(np.float32) / 255.0, data["y_test"]


@pytest.fixture
def readme_namespace(tmp_path, monkeypatch):
    """The prelude: a working folder with the files the blocks load, and the free names they use."""
    import keras

    (tmp_path / "models").mkdir()
    shutil.copy(MODELS / "digits_mlp.keras", tmp_path / "models" / "clf.keras")
    mlp = MODELS / "digits_mlp.keras"
    keras.saving.load_model(mlp, compile=False).export(tmp_path / "export_dir")  # no verbose=: not in Keras 3.3/3.5
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "models.py").write_text(
        f"import keras\n\n\ndef build():\n    return keras.saving.load_model({str(mlp)!r}, compile=False)\n"
    )
    (tmp_path / "examples" / "models").mkdir(parents=True)
    shutil.copy(MODELS / "textures_cnn.keras", tmp_path / "examples" / "models")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("mypkg", "mypkg.models"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    x, y = digits()
    stripes = np.tile(0.5 + 0.5 * np.sin(2 * np.pi * np.arange(32) / 8), (32, 1))  # coherent, low frequency
    mask = np.zeros((28, 28), dtype=bool)
    mask[8:20, 8:20] = True
    zero = x[np.flatnonzero(y == 0)[0]]
    yield {
        "x0": zero,
        "x_real": zero,  # a real '0': centre of the balls, start of the robustness claims
        "x": x[1],
        "batch": x[:2],  # one digit, and a batch of two (render.grid gets two labels)
        "mask": mask,
        "vector": np.linspace(-1.0, 1.0, 128),  # a direction in dense_1's 128 units
        "image": stripes,
        "img": stripes,
        "a": stripes,
        "b": stripes.T,
    }
    for name in ("mypkg", "mypkg.models"):
        sys.modules.pop(name, None)


def call_test_function(fn):
    """Call a test function a block defined, with the model its ``featviz_model`` marker names."""
    kwargs = {}
    for name in inspect.signature(fn).parameters:
        assert name == "featviz_model", f"{fn.__name__} needs fixture {name!r}: list its block in UNDER_PYTEST"
        marker = next(m for m in fn.pytestmark if m.name == "featviz_model")
        kwargs[name] = fv.load_model(ROOT / "examples" / marker.args[0])  # paths are relative to the test file
    fn(**kwargs)


def test_readme_python_blocks_run_in_order(readme_namespace):
    ns = readme_namespace
    for key in UNDER_PYTEST:
        block(key)
    checked, called = [], []
    for line, code in blocks():
        if any(key in code.splitlines() for key in UNDER_PYTEST):
            continue
        before = dict(ns)
        # padded so that tracebacks name the README's own line numbers
        exec(compile("\n" * (line - 1) + code, str(README), "exec"), ns)
        for expr, value in claims(code):
            assert eval(expr, ns) == value, f"README line {line}+: {expr} is {eval(expr, ns)!r}, README says {value!r}"
            checked.append(expr)
        for name, obj in ns.items():
            if name.startswith("test_") and callable(obj) and before.get(name) is not obj:
                call_test_function(obj)
                called.append(name)
    assert "repr(c)" in checked and "repr(obj)" in checked and "fv.layer_names(model)" in checked
    assert called == ["test_class_3_is_reachable", "test_inside"]


def _wildcards(quote):
    """A README quote as an fnmatch pattern: ``...`` and ``<placeholders>`` match anything."""
    return "*" + re.sub(r"\.\.\.|<[^>]+>", "*", quote)


def test_fixture_blocks_pass_under_pytest(pytester):
    header = "import numpy as np\nimport pytest\nimport pytest_featviz as fv\n\n\n"
    pytester.makepyfile(
        test_plugin_block=header + block(UNDER_PYTEST[0]), test_baseline_block=header + block(UNDER_PYTEST[1])
    )
    (pytester.path / "models").mkdir()
    for name in ("models/digits_mlp.keras", "models/other.keras", "a.keras", "b.keras"):
        shutil.copy(MODELS / "digits_mlp.keras", pytester.path / name)
    text = README.read_text()
    missing = [_wildcards(q) for q in re.findall(r"`(there is no baseline [^`]*|to create it, run: [^`]*)`", text)]
    assert len(missing) == 2, "the README no longer quotes both lines of the missing-baseline failure"

    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--featviz-artifacts", "art")
    first.assert_outcomes(passed=3, failed=1)  # test_claims, two models; the baseline is missing
    first.stdout.fnmatch_lines(missing)
    assert (pytester.path / "art" / "test_plugin_block.py__test_claims" / "class3.png").is_file()
    update = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "test_baseline_block.py", "--featviz-update-baselines"
    )
    update.assert_outcomes(passed=1)
    again = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_baseline_block.py")
    again.assert_outcomes(passed=1)


def _words(text):
    """Whitespace-separated words with numbers taken out, and the numbers."""
    words = text.split()
    return [NUMBER.sub("#", w) for w in words], [float(n) for w in words for n in NUMBER.findall(w)]


def test_quoted_failure_account_is_what_the_engine_prints():
    quoted = next(code for _, code in blocks("") if code.startswith("AssertionError: assert_reaches failed"))
    seed = int(re.search(r"; seed (\d+);", quoted)[1])
    node = "examples/test_digits_claims.py::test_demo_failure_account_unreachable_class"
    assert seed == derive_seed(0, node), "the quoted seed is not the one `make demo` gives that test"
    x, y = digits()
    seven = x[np.flatnonzero(y == 7)[0]]
    near = fv.Box(0, 1) & fv.LpBall(seven, radius=0.02, p=np.inf)
    model = fv.load_model(MODELS / "digits_mlp.keras")
    with pytest.raises(AssertionError) as failure:
        fv.assert_reaches(model, fv.ClassProbability(1), 0.9, constraints=near, start=seven, steps=100, seed=seed)
    expected = [line for line in quoted.splitlines() if "pictures:" not in line]
    obtained = [line for line in f"AssertionError: {failure.value}".splitlines() if "pictures:" not in line]
    assert len(obtained) == len(expected), "\n".join(["printed:", *obtained, "README:", *expected])
    for got, want in zip(obtained, expected):
        (got_words, got_numbers), (want_words, want_numbers) = _words(got), _words(want)
        assert got_words == want_words, f"\n  printed: {got}\n  README:  {want}"
        # the README quotes one machine's floats: allow for rounding elsewhere
        assert np.allclose(got_numbers, want_numbers, rtol=0.05, atol=1e-4), f"\n  printed: {got}\n  README:  {want}"


def test_quoted_layer_error_is_what_get_layer_raises():
    import keras

    quote = re.search(r"`(layer '([^']+)' not found; [^`]*; layers are: ([^`]*))`", README.read_text())
    assert quote, "the README no longer quotes a LayerNotFoundError message in the Errors section"
    names = quote[3].split(", ")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Flatten(name=names[0])] + [keras.layers.Dense(2, name=n) for n in names[1:]]
    )
    with pytest.raises(fv.LayerNotFoundError) as error:
        fv.get_layer(model, quote[2])
    assert str(error.value) == quote[1]


def test_featviz_command_lines_parse():
    lines = [line.split("#")[0] for _, code in blocks("sh") for line in code.splitlines()]
    commands = [shlex.split(line)[1:] for line in lines if line.startswith("featviz ")]
    assert list(dict.fromkeys(c[0] for c in commands)) == ["report", "layers", "render", "reach", "compare"]
    for argv in commands:
        build_parser().parse_args(negative_values_attached(argv))  # an unknown or renamed option exits with 2
