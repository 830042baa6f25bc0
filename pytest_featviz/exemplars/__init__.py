"""Natural exemplars: the inputs of a dataset that drive a unit most and least, and faithfulness scores.

:func:`top_examples` streams data through one compiled forward pass per batch;
:mod:`.scores` holds the pure NumPy scores that ``fv.assert_faithful`` checks
(calibration, path similarity, continuity).
"""

from .faithfulness import PATH_POINTS, Faithfulness, faithfulness, layers_below
from .forward import Forward, forward, forward_of
from .scores import Calibration, Continuity, PathSimilarity, calibration, continuity, path_similarity, spearman
from .stream import QUANTILES, TopExamples, batches, top_examples

__all__ = [
    "top_examples",
    "TopExamples",
    "QUANTILES",
    "batches",
    "Forward",
    "forward",
    "forward_of",
    "calibration",
    "Calibration",
    "path_similarity",
    "PathSimilarity",
    "continuity",
    "Continuity",
    "spearman",
    "faithfulness",
    "Faithfulness",
    "layers_below",
    "PATH_POINTS",
]
