"""Sound bounds: graph translation, linear and nonlinear relaxations, IBP/CROWN propagation, certificates."""

from .branch import BranchAndBound
from .certificates import METHODS, Bounds, Certificate, Method, bounds, certify_not_reaches, check_supported

__all__ = [
    "BranchAndBound",
    "bounds",
    "Bounds",
    "Certificate",
    "certify_not_reaches",
    "check_supported",
    "METHODS",
    "Method",
]
