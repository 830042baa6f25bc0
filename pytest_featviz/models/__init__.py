"""Models: loading (safe by default), model information and heads, layer paths, the feature extractor.

Layers inside nested models are addressed by path (``'base/conv'``); the extractor
walks this model's own graph (:mod:`.graph`).
"""

from .fixed_inputs import fix_inputs
from .graph import calls, entries, graph_of, topological_calls
from .heads import OUTPUTS, Head, LogitsMode, Outputs, Squash, logits_mode
from .loading import FeatureExtractor, ModelInfo, get_layer, layer_names, load_model, model_info

__all__ = [
    "load_model",
    "layer_names",
    "get_layer",
    "fix_inputs",
    "Head",
    "Squash",
    "LogitsMode",
    "Outputs",
    "OUTPUTS",
    "logits_mode",
    "ModelInfo",
    "model_info",
    "FeatureExtractor",
    "entries",
    "graph_of",
    "calls",
    "topological_calls",
]
