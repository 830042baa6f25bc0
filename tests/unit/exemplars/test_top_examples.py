"""fv.top_examples: the same answer as a brute-force predict + argsort, from arrays, datasets and generators."""

import tracemalloc

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


def _conv_model(seed=0, size=10):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    out = keras.layers.Dense(3, name="head")(keras.layers.Flatten()(h))
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def model():
    return _conv_model()


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(1).random((301, 10, 10, 1)).astype("float32")


def _brute(model, data):
    """Channel means of 'conv' by keras predict, and their order (highest first, ties by position)."""
    import keras

    acts = keras.Model(model.inputs, model.get_layer("conv").output).predict(data, verbose=0).mean(axis=(1, 2))
    return acts.astype(np.float64)


def _generator(data, size):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _dataset(data):
    import tensorflow as tf

    labels = np.zeros(len(data), "int64")
    return tf.data.Dataset.from_tensor_slices((data, labels)).batch(17)


def _unbatched(data):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(data)  # single examples, no batch axis


@pytest.mark.parametrize("kind", ["array", "dataset", "unbatched dataset", "generator", "examples"])
def test_top_and_bottom_k_equal_brute_force_predict_and_argsort(model, data, kind):
    source = {
        "array": lambda: data,
        "dataset": lambda: _dataset(data),
        "unbatched dataset": lambda: _unbatched(data),
        "generator": lambda: _generator(data, 23),
        "examples": lambda: iter(list(data)),  # single examples, no batch axis
    }[kind]()
    found = fv.top_examples(model, fv.Channel("conv", [0, 1, 2, 3]), source, k=5, batch_size=64)
    acts = _brute(model, data)
    assert len(found) == 4
    for c, top in enumerate(found):
        order = np.argsort(-acts[:, c], kind="stable")
        assert top.target == c and top.count == len(data)
        np.testing.assert_array_equal(top.indices, order[:5])
        np.testing.assert_allclose(top.values, acts[order[:5], c], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(top.inputs, data[order[:5]])
        low = np.argsort(acts[:, c], kind="stable")[:5]
        np.testing.assert_array_equal(top.bottom_indices, low)
        np.testing.assert_array_equal(top.bottom_inputs, data[low])
        np.testing.assert_allclose(top.activations, acts[:, c], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(top.quantiles[0.99], np.quantile(acts[:, c], 0.99), rtol=1e-5)
        assert top.quantiles[1.0] == pytest.approx(top.values[0])


def test_single_target_gives_one_result_and_ties_keep_the_earlier_input():
    import keras

    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones", name="d")])
    x = np.array([[1, 0], [0, 2], [2, 0], [0, 1], [1, 1]], "float32")  # values 1, 2, 2, 1, 2
    top = fv.top_examples(m, fv.Neuron("d", 0), x, k=2, batch_size=2)
    assert isinstance(top, fv.TopExamples)
    assert top.indices.tolist() == [1, 2] and top.bottom_indices.tolist() == [0, 3]
    assert "TopExamples(Neuron('d', 0), target 0, 5 inputs, max 2" in repr(top)


def test_the_random_sample_is_seeded_uniform_and_bounded(model, data):
    a = fv.top_examples(model, fv.Channel("conv", 0), data, sample=16, seed=3, batch_size=50)
    b = fv.top_examples(model, fv.Channel("conv", 0), _generator(data, 7), sample=16, seed=3)
    assert a.sample.shape == (16, 10, 10, 1)
    np.testing.assert_array_equal(a.sample_indices, b.sample_indices)
    np.testing.assert_array_equal(a.sample, data[a.sample_indices])
    assert len(set(a.sample_indices.tolist())) == 16 and a.sample_indices.max() > 100  # not the first 16
    c = fv.top_examples(model, fv.Channel("conv", 0), data, sample=16, seed=4)
    assert c.sample_indices.tolist() != a.sample_indices.tolist()


def test_progress_bar_counts_the_inputs_of_an_array(model, data, capsys):
    fv.top_examples(model, fv.Channel("conv", 0), data, batch_size=100, progress=True)
    err = capsys.readouterr().err
    assert "top_examples [" in err and "301/301" in err
    fv.top_examples(model, fv.Channel("conv", 0), _generator(data, 50), progress=True)  # length unknown: no bar
    assert capsys.readouterr().err == ""


def test_bad_data_is_a_clear_error(model):
    with pytest.raises(
        ConfigurationError, match=r"shape \(4, 9, 9, 1\); the model takes inputs of shape \(10, 10, 1\)"
    ):
        fv.top_examples(model, fv.Channel("conv", 0), np.zeros((4, 9, 9, 1)))
    with pytest.raises(ConfigurationError, match="data is empty"):
        fv.top_examples(model, fv.Channel("conv", 0), iter([]))
    with pytest.raises(FeatvizTypeError, match="data must be a NumPy array, a tf.data.Dataset or an iterable"):
        fv.top_examples(model, fv.Channel("conv", 0), 3.0)
    with pytest.raises(ConfigurationError, match="k"):
        fv.top_examples(model, fv.Channel("conv", 0), np.zeros((4, 10, 10, 1)), k=0)
    with pytest.raises(ConfigurationError, match="Channel index of layer 'conv'"):
        fv.top_examples(model, fv.Channel("conv", 9), np.zeros((4, 10, 10, 1)))


def _stream_peak(model, n, size=16):
    """Peak traced Python memory while streaming ``n`` fresh inputs from a generator."""

    def gen():
        rng = np.random.default_rng(0)
        for _ in range(n // 100):
            yield rng.random((100, size, size, 1), dtype=np.float32)

    fv.top_examples(model, fv.Channel("conv", 0), gen(), batch_size=100)  # warm-up: compiled
    tracemalloc.start()
    try:
        fv.top_examples(model, fv.Channel("conv", 0), gen(), batch_size=100)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_length_of_the_stream():
    """20,000 inputs of 1 KiB each (20 MiB) are streamed in the memory of a few batches; the peak grows by
    only the one float per input kept for the distribution (8 bytes each)."""
    model = _conv_model(size=16)
    small, large = _stream_peak(model, 2_000), _stream_peak(model, 20_000)
    data_bytes = 20_000 * 16 * 16 * 4
    assert large - small < 0.05 * data_bytes, (small, large)
    assert large < 0.2 * data_bytes
