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
        _ = fv.ClassLogit(0) >= True


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
    with pytest.raises(FeatvizTypeError, match=r"crop must be an int >= 0; got True \(bool\)"):
        fv.Channel("conv", 0, crop=True)
    with pytest.raises(ConfigurationError, match="crop must be an int >= 0; got -1"):
        fv.Channel("conv", 0, crop=-1)
    with pytest.raises(ConfigurationError, match="Channel reduce='sum' is not one of 'max', 'mean'"):
        fv.Channel("conv", 0, reduce="sum")
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


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_field_of_every_objective_and_constraint_is_classified():
    """The compile-cache key is derived from field kinds: a field without one would be left out of it."""
    import dataclasses
    import importlib
    import pkgutil

    import pytest_featviz
    from pytest_featviz import _fields

    for info in pkgutil.walk_packages(pytest_featviz.__path__, "pytest_featviz."):
        if info.name.startswith(("pytest_featviz.objectives", "pytest_featviz.constraints")):
            importlib.import_module(info.name)
    classes = [*_subclasses(fv.Objective), *_subclasses(fv.Constraint), fv.Condition]
    assert {c.__name__ for c in classes} >= {
        "ClassLogit",
        "Channel",
        "Direction",
        "L2",
        "Sum",
        "Box",
        "LpBall",
        "Mask",
        "Intersection",
    }
    for cls in classes:
        if not dataclasses.is_dataclass(cls):
            assert not [n for n in vars(cls).get("__annotations__", {}) if n != "index"], cls
            continue
        for f in dataclasses.fields(cls):
            assert _fields.kind_of(f) in _fields.KINDS, f"{cls.__name__}.{f.name} is not classified"


def test_structure_holds_the_static_options_and_values_hold_the_rest():
    a, b = fv.Channel("conv", 0), fv.Channel("conv", [3])
    assert a.structure() == b.structure() == (("Channel", (("layer", "conv"), ("reduce", "mean"), ("crop", 0))),)
    assert fv.Channel("conv", 0, reduce="max").structure() != a.structure()
    assert fv.Channel("conv", 0, crop=1).structure() != a.structure()
    assert fv.Direction("d", [1.0, 2.0]).structure() == fv.Direction("d", [3.0, 4.0]).structure()
    assert fv.Direction("d", [1.0, 2.0]).structure() != fv.Direction("d", [1.0, 2.0, 3.0]).structure()
    obj = fv.Channel("conv", [1, 2]) - 0.5 * fv.L2(center=0.25)
    coefs, index, center = obj.params(2)
    assert coefs.tolist() == [1.0, -0.5] and index.tolist() == [1, 2] and center == np.float32(0.25)
    assert [p.tolist() for p in obj.slice_params(obj.params(2), np.array([1]))] == [[1.0, -0.5], [2], 0.25]
