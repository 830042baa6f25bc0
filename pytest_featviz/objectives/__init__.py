"""Objectives: what the ascent maximises (class, layer and regularizer terms), their algebra and conditions."""

from .base import Condition, Objective, Sum
from .diversity import Diversity
from .layers import REDUCTIONS, Channel, Direction, LayerEnergy, Neuron, Reduce
from .outputs import (
    L1,
    L2,
    LOGITS,
    PROBABILITIES,
    ClassLogit,
    ClassProbability,
    TotalVariation,
    as_objective,
    logit_margins,
)

__all__ = [
    "Objective",
    "Sum",
    "Condition",
    "ClassLogit",
    "ClassProbability",
    "Neuron",
    "Channel",
    "Direction",
    "LayerEnergy",
    "Diversity",
    "TotalVariation",
    "L1",
    "L2",
    "as_objective",
    "logit_margins",
    "Reduce",
    "REDUCTIONS",
    "LOGITS",
    "PROBABILITIES",
]
