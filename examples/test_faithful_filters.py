"""Claims about a conv2 channel of the texture classifier, and that its picture can be trusted.

A visualization is worth asserting on only if it shows what the unit does on real data: each
test here checks the picture with fv.assert_faithful against held-out texture patches (the
natural 99th percentile, the path from its nearest natural exemplar, the layers below). With
--featviz-artifacts or --featviz-report, each picture is saved beside the channel's top natural
exemplars (assert_faithful.png), and the report shows them.
"""

from pathlib import Path

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz import metrics

MODEL = "models/textures_cnn.keras"
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def patches():
    """Held-out 32x32 patches of brick, grass and gravel, in [0, 1] (rows the model never saw)."""
    return np.load(HERE / "models" / "textures_test.npz")["x_test"].astype("float32")[..., None] / 255


def angle_gap(a, b):
    d = abs(a - b) % 180
    return min(d, 180 - d)


@pytest.mark.featviz_model(MODEL)
def test_conv2_channel_5_is_an_oriented_edge_detector_and_its_picture_is_faithful(featviz_model, featviz, patches):
    unit = fv.Channel("conv2", 5)
    r = featviz.ascend(featviz_model, unit, constraints=fv.Box(0, 1), steps=256, seed=0, priors="standard")
    featviz.save("conv2_channel_5", r)
    # the picture: stripes at about 40 degrees (measured 0.94 coherence, 40.7 degrees)
    fv.assert_structure(r, orientation_coherence=(0.8, None))
    assert angle_gap(metrics.dominant_orientation(r.inputs[0, ..., 0]), 40) < 10
    # and the picture is faithful to what the channel does on real patches
    fv.assert_faithful(featviz_model, unit, r, natural=patches)


@pytest.mark.featviz_model(MODEL)
def test_four_diverse_pictures_of_the_channel_are_each_faithful(featviz_model, featviz, patches):
    unit = fv.Channel("conv2", 5)
    top = fv.top_examples(featviz_model, unit, patches, k=6)  # one pass over the data, reused below
    assert top.values[0] < 1.0 < 10 * top.quantiles[0.5]  # natural patches drive it to 0.73 at most
    r = featviz.ascend(
        featviz_model, unit + 2 * fv.Diversity("conv1"), constraints=fv.Box(0, 1), restarts=4, steps=96, seed=0
    )
    featviz.save("conv2_channel_5_diverse", r)
    fv.assert_faithful(featviz_model, unit, r, natural=top)
