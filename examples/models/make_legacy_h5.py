"""Write ``legacy_keras2_classifier.h5``: a tiny classifier saved by Keras 2 (``tf-keras``).

It stands for a user's model trained before Keras 3, in the legacy HDF5 format; the test
``tests/test_install.py::test_legacy_keras2_h5_classifier_loads_and_runs`` loads it with
``fv.load_model`` under Keras 3. The weights are set by hand so the test knows the answers:
input ``(2, 2)`` -> ``flatten`` -> ``hidden`` (Dense 4, relu, weights ``2 * I``, bias 0) ->
``probs`` (Dense 3, softmax, weights ``W``, bias ``B`` below). So for ``x`` in [0, 1]^4
(flattened), ``probs = softmax(2 * x @ W + B)``; on the box, class 0's logit
``2 * (3 x0 - x1 - x3)`` peaks at 6 (x0 = 1, x1 = x3 = 0) and its probability at the corner
``[1, 0, 0, 0]`` (logits 6, -2, -1): the test checks these closed forms.

Run once, with Keras 2 beside TensorFlow (tf-keras needs the matching TensorFlow minor, and
is imported as ``tf_keras``, so it does not disturb Keras 3)::

    pip install --no-deps --target /tmp/tfk "tf-keras==2.21.*"   # TF 2.21 already installed
    PYTHONPATH=/tmp/tfk python examples/models/make_legacy_h5.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

W = np.array([[3.0, -1.0, 0.0], [-1.0, 3.0, 0.0], [0.0, 0.0, 2.0], [-1.0, -1.0, 2.0]], dtype="float32")
B = np.array([0.0, 0.0, -1.0], dtype="float32")
OUT = Path(__file__).resolve().parent / "legacy_keras2_classifier.h5"


def main() -> None:
    import tf_keras

    assert tf_keras.__version__.startswith("2."), tf_keras.__version__
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Flatten(input_shape=(2, 2), name="flatten"),
            tf_keras.layers.Dense(4, activation="relu", name="hidden"),
            tf_keras.layers.Dense(3, activation="softmax", name="probs"),
        ],
        name="legacy_keras2_classifier",
    )
    model.get_layer("hidden").set_weights([2 * np.eye(4, dtype="float32"), np.zeros(4, "float32")])
    model.get_layer("probs").set_weights([W, B])
    model.save(OUT, save_format="h5", include_optimizer=False)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) with tf_keras {tf_keras.__version__}")


if __name__ == "__main__":
    main()
