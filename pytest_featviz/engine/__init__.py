"""The ascent engine: arguments -> the compiled loop -> :class:`AscentResult`.
"""

from .ascend import OPTIMIZERS, SCHEDULES, AscentResult, ascend, own_range, result_range

__all__ = ["ascend", "AscentResult", "OPTIMIZERS", "SCHEDULES", "own_range", "result_range"]
