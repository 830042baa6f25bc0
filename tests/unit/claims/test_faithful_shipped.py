"""On the shipped CNNs every conv channel alive on the held-out data passes fv.assert_faithful with the defaults.

Alive: active (above 1e-6) on at least 1% of the data (its natural 99th percentile is above 1e-6); the
dead ones are digits_cnn conv2 channel 11 (zero on every digit) and textures_cnn conv2 channel 7 (above
zero on 2 of 300 patches, at most 6e-5). Visualizations: priors="standard", 256 steps, seed 0, in
Box(0, 1). The measured scores are pinned as regression figures (README, "Faithful pictures").
"""

from pathlib import Path

import numpy as np
import pytest

import pytest_featviz as fv

MODELS = Path(__file__).resolve().parents[3] / "examples" / "models"
NAN = float("nan")
# model, layer, channels, data -> ratio to the natural p99, mean path similarity, continuity jump (per alive channel)
PINNED = {
    ("digits_cnn", "conv1"): (
        [1.43, 2.22, 2.37, 1.99, 1.47, 2.29, 1.92, 2.55],
        [NAN] * 8,  # no layer below conv1
        [1.10, 1.07, 1.00, 1.00, 1.08, 1.00, 1.04, 1.00],
    ),
    ("digits_cnn", "conv2"): (
        [2.34, 2.37, 2.29, 2.80, 2.98, 2.63, 3.12, 2.52, 2.14, 2.51, 2.31, 2.13, 2.23, 2.57, 3.13],
        [NAN] * 15,  # conv1's channel means rank alike on every digit: exemplars and random digits do not differ
        [1.02, 1.09, 1.06, 1.14, 1.06, 1.06, 1.04, 1.04, 1.06, 1.04, 1.06, 1.04, 1.02, 1.04, 1.22],
    ),
    ("textures_cnn", "conv1"): (
        [8.98, 7.29, 11.97, 13.12, 6.96, 7.49, 11.07, 10.54],
        [NAN] * 8,
        [1.01, 1.01, 1.00, 1.01, 1.02, 1.02, 1.01, 1.01],
    ),
    ("textures_cnn", "conv2"): (
        [4.47, 12.86, 6.32, 11.91, 7.09, 10.15, 7.63],
        [-1.05, -4.85, 0.75, -4.85, -0.50, -0.70, -2.55],
        [1.02, 1.01, 1.05, 1.01, 1.01, 1.01, 1.03],
    ),
}
DEAD = {("digits_cnn", "conv2"): [11], ("textures_cnn", "conv2"): [7]}
DATA = {"digits_cnn": "digits_test.npz", "textures_cnn": "textures_test.npz"}


@pytest.mark.parametrize(("name", "layer"), list(PINNED))
def test_every_alive_conv_channel_passes_with_the_defaults(name, layer):
    model = fv.load_model(MODELS / f"{name}.keras")
    data = np.load(MODELS / DATA[name])["x_test"].astype("float32")[..., None] / 255
    channels = int(model.get_layer(layer).output.shape[-1])
    tops = fv.top_examples(model, fv.Channel(layer, list(range(channels))), data)
    alive = [c for c in range(channels) if tops[c].quantiles[0.99] > 1e-6]
    assert sorted(set(range(channels)) - set(alive)) == DEAD.get((name, layer), [])
    objective = fv.Channel(layer, alive)
    r = fv.ascend(model, objective, constraints=fv.Box(0, 1), steps=256, seed=0, priors="standard")
    out = fv.assert_faithful(model, objective, r, natural=[tops[c] for c in alive])
    ratio, path, jump = PINNED[(name, layer)]
    s = out.scores
    np.testing.assert_allclose([c.ratio_p99 for c in s.calibration], ratio, rtol=0.1)
    np.testing.assert_allclose(s.path_mean, path, atol=0.5)  # NaN where pinned NaN
    np.testing.assert_allclose([c.jump for c in s.continuity], jump, atol=0.3)
