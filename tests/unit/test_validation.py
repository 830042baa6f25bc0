"""Bad calls to the public functions, one row each: the error class and a fragment of its message.

One rule (issue 15): an argument of the wrong type raises ``FeatvizTypeError``, a value of the
right type that is not allowed ``ConfigurationError``; each message names the value, and a
choice among names lists the names sorted, with the closest one. The Hypothesis strategies
raise Hypothesis' ``InvalidArgument`` (its convention) with the same checks.
Rows like Hypothesis' own argument-checking tests (tests/cover/test_argument_validation.py).
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from hypothesis.errors import InvalidArgument

import pytest_featviz as fv
from pytest_featviz import baselines, metrics, strategies
from pytest_featviz._validation import check_bool, check_choice, check_int, check_interval, check_real
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.priors import (
    BlurEvery,
    Fourier,
    Jitter,
    Pad,
    RandomRotate,
    RandomScale,
    SigmoidRange,
    resolve_priors,
)
from pytest_featviz.progress import progress_enabled
from pytest_featviz.render import data_uri, difference, grid, save_png, to_image, to_uint8
from pytest_featviz.verify import bounds, certify_not_reaches

IMAGE = np.linspace(0.0, 1.0, 64).reshape(8, 8)
BATCH = np.zeros((2, 4, 4))


@functools.cache
def _model():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="out")])
    model.set_weights([np.array([[1.0], [-2.0]]), np.array([0.5])])
    return model


def _ascend(**options):
    return fv.ascend(_model(), fv.ClassLogit(0), steps=2, **options)


def _row(call, error, fragment, *marks, id):
    return pytest.param(call, error, fragment, marks=marks, id=id)


TYPE_ROWS = [
    # _validation itself
    _row(lambda: check_int("3", "steps"), FeatvizTypeError, "steps must be an int; got '3' (str)", id="int-str"),
    _row(lambda: check_int(True, "steps"), FeatvizTypeError, "got True (bool)", id="int-bool"),
    _row(lambda: check_int(np.bool_(True), "steps"), FeatvizTypeError, "(bool", id="int-np-bool"),
    _row(
        lambda: check_real(True, "lr"), FeatvizTypeError, "lr must be a finite number; got True (bool)", id="real-bool"
    ),
    _row(lambda: check_real("a", "lr"), FeatvizTypeError, "got 'a' (str)", id="real-str"),
    _row(lambda: check_bool(1, "flag"), FeatvizTypeError, "flag must be True or False; got 1 (int)", id="bool-int"),
    _row(lambda: check_bool("yes", "p", allow_none=True), FeatvizTypeError, "True, False or None", id="bool-none"),
    # render, progress
    _row(
        lambda: grid(BATCH, columns=1.5),
        FeatvizTypeError,
        "columns must be an int >= 1; got 1.5 (float)",
        id="grid-columns",
    ),
    _row(
        lambda: grid(BATCH, scale=True), FeatvizTypeError, "scale must be an int >= 1; got True (bool)", id="grid-scale"
    ),
    _row(lambda: to_image([0.5], strip_height="2"), FeatvizTypeError, "strip_height", id="to_image-strip"),
    _row(
        lambda: difference([0.0], [1.0], strip_height=2.0), FeatvizTypeError, "got 2.0 (float)", id="difference-strip"
    ),
    _row(lambda: save_png(3, BATCH), FeatvizTypeError, "path must be a str or os.PathLike", id="save_png-path"),
    _row(lambda: progress_enabled("yes"), FeatvizTypeError, "progress must be True, False or None", id="progress"),
    # metrics
    _row(
        lambda: metrics.entropy(IMAGE, bins=2.5),
        FeatvizTypeError,
        "bins must be an int >= 2; got 2.5 (float)",
        id="entropy-bins",
    ),
    _row(lambda: metrics.high_frequency_ratio(IMAGE, cutoff="0.5"), FeatvizTypeError, "got '0.5' (str)", id="cutoff"),
    _row(
        lambda: metrics.edge_density(IMAGE, sigma=None),
        FeatvizTypeError,
        "sigma must be a finite number >= 0",
        id="edge_density-sigma",
    ),
    _row(lambda: metrics.saturation(IMAGE, atol=True), FeatvizTypeError, "atol must", id="saturation-atol"),
    _row(
        lambda: metrics.summarize(IMAGE, entropy=8),
        FeatvizTypeError,
        "options for entropy must be a mapping",
        id="summarize-options",
    ),
    # baselines
    _row(
        lambda: baselines.compare(baselines.capture(BATCH), baselines.capture(BATCH), value_rtol="5%"),
        FeatvizTypeError,
        "value_rtol must be a number >= 0; got '5%' (str)",
        id="compare-rtol",
    ),
    _row(
        lambda: baselines.compare(baselines.capture(BATCH), baselines.capture(BATCH), min_ssim=True),
        FeatvizTypeError,
        "min_ssim",
        id="compare-ssim",
    ),
    # priors
    _row(lambda: Jitter(1.5), FeatvizTypeError, "Jitter pixels must be an int >= 0; got 1.5 (float)", id="Jitter"),
    _row(lambda: Pad(2, value="0"), FeatvizTypeError, "Pad value must be a finite number; got '0' (str)", id="Pad"),
    _row(lambda: BlurEvery(2, sigma="1"), FeatvizTypeError, "BlurEvery sigma", id="BlurEvery"),
    _row(lambda: SigmoidRange("0", 1.0), FeatvizTypeError, "SigmoidRange low", id="SigmoidRange"),
    _row(lambda: Fourier(decay=True), FeatvizTypeError, "Fourier decay", id="Fourier"),
    _row(lambda: RandomRotate(["a"]), FeatvizTypeError, "RandomRotate degrees must be a sequence", id="RandomRotate"),
    _row(lambda: resolve_priors(3), FeatvizTypeError, "priors must be None", id="resolve_priors"),
    # verify
    _row(
        lambda: certify_not_reaches(_model(), fv.ClassLogit(0), "1", constraints=fv.Box(0, 1)),
        FeatvizTypeError,
        "threshold must be a finite number; got '1' (str)",
        id="certify-threshold",
    ),
    # models
    _row(
        lambda: fv.load_model(3),
        FeatvizTypeError,
        "a keras.Model or 'package.module:factory'; got int",
        id="load_model",
    ),
    # engine (issue 15's examples): seed="3" and steps="3" alike, lr=True and lr="a" alike
    _row(lambda: _ascend(seed="3"), FeatvizTypeError, "seed must be an int", id="ascend-seed"),
    _row(
        lambda: fv.ascend(_model(), fv.ClassLogit(0), steps="3"),
        FeatvizTypeError,
        "steps must be an int",
        id="ascend-steps",
    ),
    _row(lambda: fv.ascend(_model(), fv.ClassLogit(0), steps=2, lr=True), FeatvizTypeError, "lr", id="ascend-lr-bool"),
    _row(lambda: fv.ascend(_model(), fv.ClassLogit(0), steps=2, lr="a"), FeatvizTypeError, "lr", id="ascend-lr-str"),
    _row(
        lambda: fv.assert_reaches(_model(), fv.ClassLogit(0), 1.0, restarts="2"),
        FeatvizTypeError,
        "restarts",
        id="assert_reaches-restarts",
    ),
]

VALUE_ROWS = [
    _row(lambda: check_int(0, "steps", min_value=1), ConfigurationError, "steps must be an int >= 1; got 0", id="int"),
    _row(
        lambda: check_int(256, "b", min_value=0, max_value=255),
        ConfigurationError,
        "b must be an int in [0, 255]",
        id="int-range",
    ),
    _row(
        lambda: check_real(float("nan"), "lr"), ConfigurationError, "lr must be a finite number; got nan", id="real-nan"
    ),
    _row(
        lambda: check_real(1.0, "c", min_value=0, max_value=1, exclude_max=True),
        ConfigurationError,
        "c must be a finite number in [0, 1); got 1.0",
        id="real-open",
    ),
    _row(lambda: check_interval(3, 1), ConfigurationError, "min_value=3 is larger than max_value=1", id="interval"),
    _row(
        lambda: check_choice("adma", "optimizer", {"sign", "pgd", "adam"}),
        ConfigurationError,
        "optimizer='adma' is not one of 'adam', 'pgd', 'sign'; did you mean 'adam'?",
        id="choice-sorted",
    ),
    _row(
        lambda: check_choice([1], "mode", ("a", "b")),
        ConfigurationError,
        "mode=[1] is not one of 'a', 'b'",
        id="choice-unhashable",
    ),
    # render
    _row(
        lambda: to_uint8([0.5], contrast="auto"),
        ConfigurationError,
        "contrast='auto' is not one of 'none', 'stretch'",
        id="contrast",
    ),
    _row(
        lambda: grid(BATCH, background=256),
        ConfigurationError,
        "background must be an int in [0, 255]; got 256",
        id="grid-background",
    ),
    _row(lambda: grid(BATCH, labels=["a"]), ConfigurationError, "labels has 1 entries", id="grid-labels"),
    _row(
        lambda: data_uri(np.zeros((2, 2), np.float64)),
        FeatvizTypeError,
        "needs a uint8 picture; got dtype float64",
        id="data_uri-dtype",
    ),
    _row(
        lambda: data_uri(np.zeros((2, 2, 2), np.uint8)), ConfigurationError, "got shape (2, 2, 2)", id="data_uri-shape"
    ),
    # metrics
    _row(
        lambda: metrics.entropy(IMAGE, bins=1), ConfigurationError, "bins must be an int >= 2; got 1", id="entropy-bins"
    ),
    _row(
        lambda: metrics.high_frequency_ratio(IMAGE, cutoff=1.0),
        ConfigurationError,
        "cutoff must be a finite number in (0, 1); got 1.0",
        id="cutoff",
    ),
    _row(
        lambda: metrics.orientation_coherence(IMAGE, sigma=-1),
        ConfigurationError,
        "sigma must be a finite number >= 0",
        id="coherence-sigma",
    ),
    _row(lambda: metrics.metric("entrpy"), ConfigurationError, "metric='entrpy' is not one of", id="metric"),
    _row(lambda: metrics.metric("entrpy"), ConfigurationError, "did you mean 'entropy'?", id="metric-closest"),
    _row(
        lambda: metrics.saturation(IMAGE, value_range=(1, 0)), ConfigurationError, "value_range high must be", id="sat"
    ),
    # baselines
    _row(
        lambda: baselines.compare(baselines.capture(BATCH), baselines.capture(BATCH), match="perm"),
        ConfigurationError,
        "match='perm' is not one of 'index', 'permutation'; did you mean 'permutation'?",
        id="compare-match",
    ),
    _row(
        lambda: baselines.compare(baselines.capture(BATCH), baselines.capture(BATCH), min_ssim=2),
        ConfigurationError,
        "min_ssim must be a finite number in [-1, 1]; got 2",
        id="compare-ssim",
    ),
    # priors
    _row(lambda: Pad(2, "wrap"), ConfigurationError, "Pad mode='wrap' is not one of 'constant', 'reflect'", id="Pad"),
    _row(lambda: Pad(-1), ConfigurationError, "Pad pixels must be an int >= 0; got -1", id="Pad-pixels"),
    _row(lambda: BlurEvery(0), ConfigurationError, "BlurEvery n must be an int >= 1; got 0", id="BlurEvery"),
    _row(lambda: RandomScale([1.0, 0.0]), ConfigurationError, "positive finite", id="RandomScale"),
    _row(lambda: SigmoidRange(1.0, 0.0), ConfigurationError, "low=1.0 must be below high=0.0", id="SigmoidRange"),
    _row(
        lambda: resolve_priors("standrad"),
        ConfigurationError,
        "priors='standrad' is not one of 'none', 'standard'; did you mean 'standard'?",
        id="resolve_priors",
    ),
    # verify
    _row(
        lambda: bounds(_model(), fv.ClassLogit(0), constraints=fv.Box(0, 1), method="crwn"),
        ConfigurationError,
        "method='crwn' is not one of 'alpha-crown', 'crown', 'crown-ibp', 'ibp'; did you mean 'crown'?",
        id="bounds-method",
    ),
    _row(
        lambda: certify_not_reaches(_model(), fv.ClassLogit(0), float("nan"), constraints=fv.Box(0, 1)),
        ConfigurationError,
        "threshold must be a finite number; got nan",
        id="certify-threshold",
    ),
    # engine and claims
    _row(lambda: _ascend(seed=-1), ConfigurationError, "seed must be an int >= 0; got -1", id="ascend-seed"),
    _row(
        lambda: fv.ascend(_model(), fv.ClassLogit(0), steps=0),
        ConfigurationError,
        "steps must be an int >= 1",
        id="ascend-steps",
    ),
    _row(lambda: _ascend(lr=-1.0), ConfigurationError, "lr", id="ascend-lr"),
    _row(
        lambda: fv.assert_reaches(_model(), fv.ClassLogit(0), 1.0, restarts=0),
        ConfigurationError,
        "restarts must be an int >= 1; got 0",
        id="assert_reaches-restarts",
    ),
]

STRATEGY_ROWS = [
    _row(
        lambda: strategies.starting_points((2,), min_value="0"),
        InvalidArgument,
        "min_value must be a finite number; got '0' (str)",
        id="starting_points-type",
    ),
    _row(
        lambda: strategies.starting_points((2,), min_value=3, max_value=1),
        InvalidArgument,
        "min_value=3 is larger than max_value=1",
        id="starting_points-interval",
    ),
    _row(
        lambda: strategies.starting_points((2,), batch=True),
        InvalidArgument,
        "batch must be an int >= 1; got True",
        id="starting_points-batch",
    ),
    _row(
        lambda: strategies.starting_points((2,), kinds=("smoth",)),
        InvalidArgument,
        "kind='smoth' is not one of 'checkerboard', 'constant', 'gaussian', 'smooth', 'uniform'; did you mean 'smooth'?",
        id="starting_points-kinds",
    ),
    _row(lambda: strategies.masks((2, 2), min_free=5), InvalidArgument, "must be an int in [0, 4]; got 5", id="masks"),
    _row(
        lambda: strategies.lp_balls(np.zeros(2), min_radius=-1.0),
        InvalidArgument,
        "min_radius must be a finite number >= 0; got -1.0",
        id="lp_balls",
    ),
    _row(
        lambda: strategies.boxes((0, 2)),
        InvalidArgument,
        "each entry of shape=(0, 2) must be an int >= 1; got 0",
        id="boxes-shape",
    ),
]


def _example(strategy):
    from hypothesis import find

    return find(strategy, lambda _: True)


def _named(prefix, rows):
    return [pytest.param(*row.values, marks=row.marks, id=f"{prefix}-{row.id}") for row in rows]


@pytest.mark.parametrize("call, error, fragment", _named("type", TYPE_ROWS) + _named("value", VALUE_ROWS))
def test_a_bad_call_raises_the_rules_error_naming_the_value(call, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)) as info:
        call()
    # the rule: a type error is never a value error, and the other way round
    other = ConfigurationError if error is FeatvizTypeError else FeatvizTypeError
    assert not isinstance(info.value, other)


@pytest.mark.parametrize("call, error, fragment", STRATEGY_ROWS)
def test_a_bad_strategy_argument_raises_invalid_argument_with_the_shared_message(call, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        _example(call())


def test_good_values_come_back_in_their_plain_type():
    assert check_int(np.int64(3), "steps", min_value=1) == 3 and type(check_int(np.int64(3), "steps")) is int
    assert check_real(float("inf"), "rtol", min_value=0, finite=False) == float("inf")
    assert check_real(np.float32(0.5), "lr") == 0.5 and check_interval(0, 0) == (0.0, 0.0)
    assert check_bool(np.bool_(True), "flag") is True and check_choice("pgd", "optimizer", {"pgd"}) == "pgd"


def test_the_listed_choices_do_not_depend_on_set_order():
    messages = set()
    for choices in ({"sign", "pgd", "adam"}, ["pgd", "adam", "sign"], ("sign", "adam", "pgd")):
        with pytest.raises(ConfigurationError) as info:
            check_choice("x", "optimizer", choices)
        messages.add(str(info.value))
    assert messages == {"optimizer='x' is not one of 'adam', 'pgd', 'sign'"}
