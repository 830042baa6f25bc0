"""fv.logit_margins: the margins z_j - z_true of every other class, for the list form of bounds."""

from __future__ import annotations

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


def test_one_margin_per_other_class_in_order():
    margins = fv.logit_margins(2, 4)
    assert [repr(m) for m in margins] == [f"ClassLogit({j}) - ClassLogit(2)" for j in (0, 1, 3)]
    assert [repr(m) for m in fv.logit_margins(0, [3, 0, 1])] == [
        "ClassLogit(3) - ClassLogit(0)",
        "ClassLogit(1) - ClassLogit(0)",
    ]


def test_one_true_class_per_item_reads_each_items_other_classes():
    margins = fv.logit_margins([0, 2, 1], 3)
    assert len(margins) == 2 and all(m.batch_size() == 3 for m in margins)
    coefs_and_indices = [m.params(3) for m in margins]
    # per item, the first margin reads the smallest other class, the second the next one
    assert [list(p[1]) for p in coefs_and_indices] == [[1, 0, 0], [2, 1, 2]]
    assert all(list(p[2]) == [0, 2, 1] for p in coefs_and_indices)
    np.testing.assert_array_equal(coefs_and_indices[0][0], [1.0, -1.0])


@pytest.mark.parametrize(
    ("true_class", "classes", "error", "match"),
    [
        (1.5, 3, FeatvizTypeError, "true_class index must be an int"),
        (0, True, FeatvizTypeError, "classes must be an int or a sequence of ints; got True"),
        (0, 1, ConfigurationError, "classes=1: give the number of classes \\(at least 2\\)"),
        (0, [1, 1], ConfigurationError, "distinct"),
        (0, [-1, 2], ConfigurationError, "none negative"),
        ([0, 5], [0, 1, 2], ConfigurationError, "among classes=\\[0, 1, 2\\] for some items but not others"),
        (0, [0, 0.5], FeatvizTypeError, "must be an int or a sequence of ints"),
    ],
)
def test_bad_arguments_name_the_value_and_the_fix(true_class, classes, error, match):
    with pytest.raises(error, match=match):
        fv.logit_margins(true_class, classes)
