"""Train the small models that the examples, tests and benchmarks of pytest-featviz use.

Run ``python examples/train_models.py`` from the repository root. It is deterministic
(seeded NumPy, TensorFlow and Keras, deterministic TensorFlow ops) and writes into
``examples/models/``:

- ``digits_mlp.keras``: Flatten -> Dense(128, relu) -> Dense(10, softmax) on 28x28 digits;
- ``digits_cnn.keras``: a small CNN on the same digits with a channel axis, ending in a
  separate ``Softmax`` layer;
- ``textures_cnn.keras``: a 3-class texture classifier (brick, grass, gravel) on 32x32 patches;
- ``digits_test.npz`` and ``textures_test.npz``: the held-out test splits.

The digits are scikit-learn's ``load_digits`` (8x8, values 0..16) upsampled bilinearly to
28x28 and scaled to [0, 1]; the textures are scikit-image's ``brick``, ``grass`` and
``gravel`` (no download needed). Inputs are quantised to multiples of 1/255, so the test
splits, stored as uint8 codes, give back exactly the arrays the models were scored on:
``x = codes.astype("float32") / 255``. Weights are stored as float32 rounded to float16
precision (accuracies are measured on the files as saved). See ``models/README.md``.
"""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SEED = 0
MODELS_DIR = Path(__file__).resolve().parent / "models"
DIGITS_TEST_SIZE = 297
TEXTURES = ("brick", "grass", "gravel")
PATCH = 32
TEXTURE_TEST_ROWS = 128  # the bottom rows of each texture image are kept for testing


def quantise(x: np.ndarray) -> np.ndarray:
    """Round values in [0, 1] to the nearest multiple of 1/255, as uint8 codes.

    Examples
    --------
    >>> quantise(np.array([0.0, 0.5, 1.0]))
    array([  0, 128, 255], dtype=uint8)
    """
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def digits_28() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits upsampled to 28x28, as uint8 codes, with their labels.

    Returns
    -------
    codes : ndarray of uint8, shape (1797, 28, 28)
        ``codes / 255`` is the image in [0, 1].
    labels : ndarray of int64, shape (1797,)

    Examples
    --------
    >>> codes, labels = digits_28()
    >>> codes.shape, codes.dtype, int(codes.max()), labels[:3].tolist()
    ((1797, 28, 28), dtype('uint8'), 255, [0, 1, 2])
    """
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    data = load_digits()
    small = data.images / 16.0
    big = resize(small, (len(small), 28, 28), order=1, mode="edge", anti_aliasing=False)
    return quantise(big), data.target.astype(np.int64)


def texture_images() -> list[np.ndarray]:
    """The three grayscale 512x512 textures shipped with scikit-image, as uint8.

    Examples
    --------
    >>> [im.shape for im in texture_images()]
    [(512, 512), (512, 512), (512, 512)]
    """
    import skimage.data

    return [np.asarray(getattr(skimage.data, name)(), dtype=np.uint8) for name in TEXTURES]


def texture_patches(
    images: list[np.ndarray], rows: slice, per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random ``PATCH`` x ``PATCH`` uint8 patches taken from ``rows`` of each image.

    Examples
    --------
    >>> ims = [np.full((64, 64), v, np.uint8) for v in (0, 1, 2)]
    >>> x, y = texture_patches(ims, slice(0, 40), 2, np.random.default_rng(0))
    >>> x.shape, y.tolist(), x[:, 0, 0].tolist()
    ((6, 32, 32), [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2])
    """
    xs, ys = [], []
    for label, image in enumerate(images):
        region = image[rows]
        top = rng.integers(0, region.shape[0] - PATCH + 1, per_class)
        left = rng.integers(0, region.shape[1] - PATCH + 1, per_class)
        xs += [region[t : t + PATCH, c : c + PATCH] for t, c in zip(top, left)]
        ys += [label] * per_class
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def texture_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test patches: 3000 per class from the top rows, 100 from the bottom.

    Training patches come from rows ``[0, 384)`` of each image, test patches from rows
    ``[384, 512)``, so no test pixel was seen in training.

    Returns
    -------
    x_train, y_train, x_test, y_test
        Patches as uint8 codes of shape (N, 32, 32) and their int64 labels (0 brick,
        1 grass, 2 gravel).

    Examples
    --------
    >>> x_train, y_train, x_test, y_test = texture_split()
    >>> x_train.shape, x_test.shape, np.bincount(y_test).tolist()
    ((9000, 32, 32), (300, 32, 32), [100, 100, 100])
    """
    rng = np.random.default_rng(SEED)
    images = texture_images()
    split = images[0].shape[0] - TEXTURE_TEST_ROWS
    x_train, y_train = texture_patches(images, slice(0, split), 3000, rng)
    x_test, y_test = texture_patches(images, slice(split, None), 100, rng)
    return x_train, y_train, x_test, y_test


def _digits_mlp() -> Any:
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28)),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense_1"),
            layers.Dense(10, activation="softmax", name="dense_2"),
        ],
        name="digits_mlp",
    )


def _digits_cnn() -> Any:
    import keras
    from keras import initializers, layers

    bias = initializers.Constant(0.05)  # a small positive bias keeps every conv1 channel alive
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(8, 5, activation="relu", padding="same", bias_initializer=bias, name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(16, 3, activation="relu", bias_initializer=bias, name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, name="logits"),
            layers.Softmax(name="softmax"),
        ],
        name="digits_cnn",
    )


def _zero_mean(kernel: Any) -> Any:
    """Training-time constraint: each conv1 filter sums to zero (responds to structure only)."""
    from keras import ops

    return kernel - ops.mean(kernel, axis=(0, 1, 2), keepdims=True)


def _textures_cnn() -> Any:
    """conv1 starts near zero and stays zero-mean without bias while training.

    So its filters are what the data makes of them (edge and bar detectors, several
    oriented) instead of mostly their random start, and none goes dark on textured input.
    """
    import keras
    from keras import initializers, layers

    conv1 = layers.Conv2D(
        8,
        5,
        activation="relu",
        padding="valid",
        kernel_initializer=initializers.RandomNormal(stddev=0.01, seed=SEED),
        kernel_constraint=_zero_mean,  # training only: _save leaves it out of the file
        use_bias=False,
        name="conv1",
    )
    return keras.Sequential(
        [
            keras.Input((PATCH, PATCH, 1)),
            conv1,
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(8, 3, activation="relu", name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(3, activation="softmax", name="probs"),
        ],
        name="textures_cnn",
    )


def _train(build: Callable[[], Any], x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, name: str) -> Any:
    """Seed, build, train with Adam, save as ``name``; return the model loaded back from disk."""
    import keras

    keras.utils.set_random_seed(SEED)  # each model trains the same whatever ran before it
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    return _save(model, name)


def _save(model: Any, name: str) -> Any:
    """Save ``model`` with its weights rounded to float16 precision, without optimizer state.

    The weights go into a fresh model built from ``model``'s config less training-only
    settings (compile state, kernel constraints). Keras stores ``.keras`` archives
    uncompressed; the archive is rewritten with deflate, which Keras reads transparently.
    Float32 weights rounded to float16 precision have 13 zero mantissa bits, so they
    compress to little more than half their size. Returns the model loaded back from the file.
    """
    import keras

    config = model.get_config()
    for layer in config["layers"]:
        layer["config"].pop("kernel_constraint", None)
    fresh = keras.Sequential.from_config(config)
    fresh.set_weights([w.astype(np.float16).astype(np.float32) for w in model.get_weights()])
    path = MODELS_DIR / name
    fresh.save(path)
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for filename, data in members:
            info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return keras.saving.load_model(path, compile=False)


def _accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y))


def _inactive(model: Any, layer: str, x: np.ndarray) -> int:
    """How many units or channels of ``layer`` stay at zero on every input in ``x``."""
    import keras

    out = keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0)
    return int(np.sum(np.all(out.reshape(-1, out.shape[-1]) <= 0, axis=0)))


def digits_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a fixed, class-stratified split: ``DIGITS_TEST_SIZE`` test samples.

    Examples
    --------
    >>> _, labels = digits_28()
    >>> train, test = digits_split(labels)
    >>> len(train), len(test), int(np.bincount(labels[test]).min())
    (1500, 297, 29)
    """
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(labels)), test_size=DIGITS_TEST_SIZE, random_state=SEED, stratify=labels)


def train_digits() -> list[str]:
    """Train and save both digits models and the digits test split; return report lines."""
    codes, labels = digits_28()
    train, test = digits_split(labels)
    np.savez_compressed(MODELS_DIR / "digits_test.npz", x_test=codes[test], y_test=labels[test])
    x = codes.astype(np.float32) / 255.0
    x_test, y_test, images = x[test], labels[test], x[test, ..., None]
    mlp = _train(_digits_mlp, x[train], labels[train], epochs=60, lr=3e-4, name="digits_mlp.keras")
    cnn = _train(_digits_cnn, x[train, ..., None], labels[train], epochs=15, lr=2e-3, name="digits_cnn.keras")
    return [
        f"digits_mlp: test accuracy {_accuracy(mlp, x_test, y_test):.4f}; "
        f"dense_1 units inactive on every test image: {_inactive(mlp, 'dense_1', x_test)}/128",
        f"digits_cnn: test accuracy {_accuracy(cnn, images, y_test):.4f}; inactive channels: "
        f"conv1 {_inactive(cnn, 'conv1', images)}/8, conv2 {_inactive(cnn, 'conv2', images)}/16",
    ]


def train_textures() -> list[str]:
    """Train and save the texture model and its test split; return report lines."""
    train_codes, y_train, test_codes, y_test = texture_split()
    np.savez_compressed(MODELS_DIR / "textures_test.npz", x_test=test_codes, y_test=y_test)
    x_train = train_codes[..., None].astype(np.float32) / 255.0
    model = _train(_textures_cnn, x_train, y_train, epochs=10, lr=3e-3, name="textures_cnn.keras")
    x_test = test_codes[..., None].astype(np.float32) / 255.0
    return [
        f"textures_cnn: test accuracy {_accuracy(model, x_test, y_test):.4f}; inactive channels: "
        f"conv1 {_inactive(model, 'conv1', x_test)}/8, conv2 {_inactive(model, 'conv2', x_test)}/8"
    ]


def main() -> None:
    """Train every model into ``examples/models/`` and print accuracies and file sizes."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for line in train_digits() + train_textures():
        print(line)
    for path in sorted(p for p in MODELS_DIR.iterdir() if p.suffix in (".keras", ".npz")):
        print(f"{path.name}: {path.stat().st_size / 1024:.1f} KiB")
    print(f"trained in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
