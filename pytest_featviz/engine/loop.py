"""The compiled ascent loop behind :func:`pytest_featviz.ascend` (private): the cache and the driver.

One ``tf.function`` per structure (objective, condition, constraint kind, optimizer,
schedule, shapes, priors, XLA); every value (the number of steps included) is a tensor
argument, so changing values never retraces. Compiled functions are cached on the model
object itself, so they are collected with it. The graph itself is :class:`.graph.LoopGraph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..objectives import Condition, Objective
from .graph import LoopGraph, LoopState
from .plan import Optimizer, Schedule

CACHE_ATTR = "_featviz_compiled"


@dataclass(frozen=True, kw_only=True)
class LoopSpec:
    """Everything that decides the compiled graph (hashable: the cache key)."""

    objective: tuple
    until: tuple | None
    has_ball: bool
    optimizer: Optimizer
    schedule: Schedule
    shape: tuple[int, ...]
    param_shape: tuple[int, ...]
    jit: bool
    priors: tuple
    param_shapes: tuple


def compiled(
    model: Any,
    objective: Objective,
    until: Condition | None,
    spec: LoopSpec,
    priors: Any,
    params: tuple[list, list],
    info: Any,
) -> Any:
    """The compiled loop for ``spec``, cached on the model object (it dies with the model).

    ``params`` are the objective's and the condition's values for this batch (their shapes
    and dtypes make the signature); ``info`` is the model's :class:`~pytest_featviz.models.ModelInfo`.
    The loop is traced here: a :class:`~pytest_featviz.errors.GradientError` found while
    tracing is raised as it is, and nothing is cached.
    """
    cache = model.__dict__.setdefault(CACHE_ATTR, {})
    if spec not in cache:
        graph = LoopGraph(model, objective, until, spec, priors, info, lambda: explain_no_gradient(model, objective))
        run = graph.function(params)
        run.get_concrete_function()
        if graph.failure is not None:
            raise graph.failure
        cache[spec] = run
    return cache[spec]


def initial_state(p0: np.ndarray, x_shape: tuple[int, ...]) -> LoopState:
    """The loop's state before the first step (``t = 0``; the best input is set to the start there)."""
    batch = p0.shape[0]
    zeros, flags = np.zeros(p0.shape, np.float32), np.zeros(batch, bool)
    return LoopState(
        t=np.int32(0),
        p=p0.astype(np.float32),
        m=zeros,
        v=zeros,
        best_x=np.zeros(x_shape, np.float32),
        best_val=np.full(batch, -np.inf, np.float32),
        active=np.ones(batch, bool),
        n_steps=np.zeros(batch, np.int32),
        reached=flags,
        diverged=flags,
        diverged_at=np.full(batch, -1, np.int32),
        zero_gradient=flags,
    )


def drive(
    run: Any, args: list, p0: np.ndarray, x_shape: tuple[int, ...], steps: int, chunk: int | None, progress: Any = None
) -> dict:
    """Run the compiled loop over all ``steps + 1`` iterations, ``chunk`` at a time (``None``: in one call).

    Between chunks ``progress.update(n)`` is told how many iterations ran. The results
    do not depend on ``chunk``: the state (moments, step counter, schedule) carries over.
    """
    state, hists, x0, t = initial_state(p0, x_shape), [], None, 0
    size = steps + 1 if chunk is None else chunk
    while True:
        out = run(*args, np.int32(min(t + size, steps + 1)), tuple(state))
        state = LoopState(*out["state"])
        x0 = out["x0"] if x0 is None else x0
        t_new = int(state.t)
        hists.append(out["history"].numpy()[: t_new - t])
        if progress is not None:
            progress.update(t_new - t)
        t = t_new
        if t > steps or not bool(np.any(state.active.numpy())):
            break
    s = LoopState(*(v.numpy() for v in state))
    return {
        "t": np.int32(t),
        "x": s.best_x,
        "x0": x0.numpy(),
        "values": out["values"].numpy(),
        "outputs": out["outputs"].numpy(),
        "history": np.concatenate(hists),
        "steps": s.n_steps,
        "reached": out["reached"].numpy(),
        "diverged": s.diverged,
        "diverged_at": s.diverged_at,
        "zero_gradient": s.zero_gradient,
    }


def merge_chunks(outs: list[dict], n_items: int) -> dict:
    """One loop result from the results of consecutive chunks of the batch (``ascend(max_batch=...)``).

    A chunk that stopped early has its last history row repeated: an item that stopped
    stays at its last iterate, as it would in a longer run.
    """
    if len(outs) == 1:
        return outs[0]
    t = max(int(o["t"]) for o in outs)
    hists = []
    for o in outs:
        h = o["history"][: int(o["t"])]
        hists.append(np.concatenate([h, np.repeat(h[-1:], t - len(h), axis=0)])[:, : len(o["values"])])
    merged = {k: np.concatenate([o[k] for o in outs])[:n_items] for k in outs[0] if k not in ("history", "t")}
    return {**merged, "t": np.int32(t), "history": np.concatenate(hists, axis=1)}


def explain_no_gradient(model: Any, objective: Objective) -> str:
    """Name the first layer (from the input) through which no gradient flows."""
    import keras
    import tensorflow as tf

    broken = None
    try:  # replay the layers as a chain, watching every intermediate tensor
        x = tf.random.stateless_uniform([1, *model.inputs[0].shape[1:]], seed=[0, 0])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            chain = [(None, x)]
            for layer in model.layers:
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                h = layer(chain[-1][1], training=False)
                tape.watch(h)
                chain.append((layer, h))
            target = tf.reduce_sum(chain[-1][1])
        for (_, before), (layer, after) in zip(chain, chain[1:]):
            if tape.gradient(target, after) is not None and tape.gradient(target, before) is None:
                broken = layer
                break
    except Exception:  # not a chain: the diagnosis is best effort, the error below still stands
        broken = None
    where = (
        f"it stops at layer {broken.name!r} ({type(broken).__name__}), which is not differentiable"
        if broken is not None
        else "some layer between the input and the objective is not differentiable"
    )
    return (
        f"the gradient of {objective!r} with respect to the input is None: {where}. "
        "Layers such as argmax, casts to integers or lookups cut the gradient; target a layer before it."
    )
