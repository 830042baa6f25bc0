"""Write ``models/digits_mlp_v2_perturbed.keras``: the digits MLP with its hidden layer perturbed.

It plays "model v2" in ``test_regression_gate.py``: Gaussian noise with half the spread
of the hidden layer's weights is added to that layer's kernel (seeded, so the file is
the same on every run). The perturbed model still classifies its class maximisers with
the same confidence, but what it responds to has moved: the SSIM of its maximisers
against the original's falls to about 0.7-0.8, below the gate's 0.95.

Run ``python examples/make_perturbed_model.py`` from the repository root, after
``examples/train_models.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"
NOISE = 0.5  # standard deviation of the noise, as a fraction of the kernel's
SEED = 0
TARGET = "digits_mlp_v2_perturbed.keras"


def perturbed_kernel(kernel: np.ndarray, *, noise: float = NOISE, seed: int = SEED) -> np.ndarray:
    """``kernel`` plus Gaussian noise of ``noise * kernel.std()``, drawn from ``seed``.

    Examples
    --------
    >>> k = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> p = perturbed_kernel(k)
    >>> p.dtype, p.shape, bool(np.array_equal(p, perturbed_kernel(k))), bool(np.array_equal(p, k))
    (dtype('float32'), (2, 3), True, False)
    """
    rng = np.random.default_rng(seed)
    return (kernel + rng.normal(0.0, noise * float(kernel.std()), kernel.shape)).astype(np.float32)


def main() -> Path:
    """Load ``digits_mlp.keras``, perturb the hidden layer's kernel, save the v2 file.

    Saved like the other example models (float16-precision weights, compressed archive,
    fixed timestamps) by ``train_models._save``.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from train_models import _save  # examples/ is on sys.path when this file runs

    model = keras.saving.load_model(MODELS_DIR / "digits_mlp.keras", compile=False)
    hidden = model.get_layer("dense_1")
    kernel, bias = hidden.get_weights()
    hidden.set_weights([perturbed_kernel(kernel), bias])
    _save(model, TARGET)
    return MODELS_DIR / TARGET


if __name__ == "__main__":
    print(f"wrote {main()}")
