"""The ascent engine: arguments -> a checked :class:`~.plan.Plan` -> the compiled loop -> :class:`AscentResult`."""

from .ascend import ascend
from .plan import OPTIMIZERS, SCHEDULES, Optimizer, Schedule
from .result import AscentResult, own_range, result_range

__all__ = ["ascend", "AscentResult", "Optimizer", "Schedule", "OPTIMIZERS", "SCHEDULES", "own_range", "result_range"]
