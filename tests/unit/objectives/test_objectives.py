"""Objective construction and algebra: what is refused, and how the refusal reads (no TensorFlow)."""

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


@pytest.mark.parametrize("make", [lambda o: o * True, lambda o: True * o, lambda o: o * np.bool_(False)])
def test_boolean_coefficients_are_refused(make):
    with pytest.raises(FeatvizTypeError, match="not a bool"):
        make(fv.ClassLogit(0))


def test_boolean_threshold_is_refused():
    with pytest.raises(FeatvizTypeError, match="threshold.*not a bool"):
        fv.ClassLogit(0) >= True


@pytest.mark.parametrize("op", [lambda o: o > 0.5, lambda o: o <= 0.5, lambda o: o < 0.5, lambda o: 0.5 >= o])
def test_other_comparisons_say_how_conditions_are_written(op):
    with pytest.raises(FeatvizTypeError, match=r"written `objective >= value`") as info:
        op(fv.ClassLogit(0))
    assert "until=" in str(info.value)


def test_ge_still_builds_a_condition():
    cond = fv.ClassProbability(2) >= np.float32(0.5)
    assert isinstance(cond, fv.Condition) and cond.threshold == 0.5
    assert repr(0.5 <= fv.ClassLogit(1)) == "ClassLogit(1) >= 0.5"


def test_channel_crop_must_be_a_real_int():
    with pytest.raises(ConfigurationError, match="crop must be an int >= 0; got True"):
        fv.Channel("conv", 0, crop=True)
    assert fv.Channel("conv", 0, crop=np.int64(2)).crop == 2


@pytest.mark.parametrize("center", [np.zeros(3), "a", True, float("nan"), None])
def test_l1_l2_center_must_be_a_finite_number(center):
    for cls in (fv.L1, fv.L2):
        with pytest.raises((FeatvizTypeError, ConfigurationError), match="center must be a finite number") as info:
            cls(center=center)
        assert repr(center) in str(info.value) or "array" in str(info.value)


def test_l1_center_accepts_numpy_scalars_and_reprs_them():
    assert repr(fv.L1(center=np.float32(0.5))) == "L1(center=0.5)"
    assert repr(fv.L2(center=np.array(0.25))) == "L2(center=0.25)"
    assert fv.L1(center=np.float64(0.5))._values(1)[0] == np.float32(0.5)
