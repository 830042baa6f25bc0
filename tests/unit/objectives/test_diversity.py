"""fv.Diversity: minus the mean cosine similarity of an item's Gram matrix with the other items' (Lucid's term)."""

from pathlib import Path

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import FeatvizTypeError, LayerNotFoundError
from pytest_featviz.exemplars import forward

MODELS = Path(__file__).resolve().parents[3] / "examples" / "models"


@pytest.fixture(scope="module")
def identity():
    """``feat`` is the input itself (a 1x1 convolution with the identity kernel): its Gram matrices are known."""
    import keras

    inp = keras.Input((3, 3, 2))
    conv = keras.layers.Conv2D(2, 1, use_bias=False, name="feat")
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(conv(inp)))
    conv.set_weights([np.eye(2, dtype="float32").reshape(1, 1, 2, 2)])
    return model


def _reference(x):
    a = x.reshape(len(x), -1, x.shape[-1]).astype(np.float64)
    g = np.einsum("bpc,bpd->bcd", a, a).reshape(len(x), -1)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    s = g @ g.T
    return -(s.sum(1) - np.diag(s)) / max(len(x) - 1, 1)


def test_values_are_minus_the_mean_cosine_similarity_of_gram_matrices(identity):
    x = np.random.default_rng(0).random((5, 3, 3, 2)).astype("float32")
    values, _ = forward(identity, fv.Diversity("feat"), x)
    np.testing.assert_allclose(values[:, 0], _reference(x), rtol=1e-5)


def test_closed_forms_identical_items_orthogonal_items_and_a_batch_of_one(identity):
    same = np.ones((3, 3, 3, 2), "float32")
    np.testing.assert_allclose(forward(identity, fv.Diversity("feat"), same)[0][:, 0], -1.0, rtol=1e-6)
    only_first, only_second = np.zeros((3, 3, 2), "float32"), np.zeros((3, 3, 2), "float32")
    only_first[..., 0], only_second[..., 1] = 1.0, 1.0  # Gram matrices with disjoint support: cosine 0
    np.testing.assert_allclose(
        forward(identity, fv.Diversity("feat"), np.stack([only_first, only_second]))[0][:, 0], 0.0, atol=1e-7
    )
    assert forward(identity, fv.Diversity("feat"), same[:1])[0][0, 0] == 0.0


def test_a_diversity_term_gives_distinct_visualizations_of_one_unit():
    """Four restarts of textures_cnn conv2 channel 3: alone, their conv1 Gram matrices are alike (cosine
    > 0.98); with the term they differ (< 0.8), and the channel keeps most of its activation."""
    cnn = fv.load_model(MODELS / "textures_cnn.keras")
    unit = fv.Channel("conv2", 3)
    runs = {
        w: fv.ascend(
            cnn, unit + w * fv.Diversity("conv1") if w else unit, constraints=fv.Box(0, 1), restarts=4, steps=96
        )
        for w in (0.0, 30.0)
    }
    similarity = {w: -forward(cnn, fv.Diversity("conv1"), r.inputs)[0][:, 0] for w, r in runs.items()}
    kept = {w: forward(cnn, unit, r.inputs)[0][:, 0] for w, r in runs.items()}
    assert similarity[0.0].min() > 0.98 and similarity[30.0].max() < 0.8, similarity
    assert kept[30.0].mean() > 0.6 * kept[0.0].mean(), kept


def test_repr_structure_and_errors():
    d = fv.Diversity("conv1")
    assert repr(fv.Channel("conv2", 3) + 2.0 * d) == "Channel('conv2', 3) + 2 * Diversity('conv1')"
    assert d.structure() == (("Diversity", (("layer", "conv1"),)),)
    with pytest.raises(FeatvizTypeError, match="Diversity needs a layer name"):
        fv.Diversity(3)
    cnn = fv.load_model(MODELS / "textures_cnn.keras")
    with pytest.raises(LayerNotFoundError, match="layer 'conv0' not found in model 'textures_cnn'"):
        fv.ascend(cnn, fv.Diversity("conv0"), steps=2)
