"""Compilation: changing steps never retraces, and normal use with several objectives gives no retracing warnings."""

import logging

import numpy as np
from tiny_models import conv_model, mlp

import pytest_featviz as fv
from pytest_featviz.engine.loop import CACHE_ATTR


def model():
    return mlp(n_inputs=5, hidden=4, classes=3)


def test_changing_steps_never_retraces():
    m = model()
    r = fv.ascend(m, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=5)
    (run,) = getattr(m, CACHE_ATTR).values()
    traces = run.experimental_get_tracing_count()
    for steps in (17, 3, 40):
        r = fv.ascend(m, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=steps)
        assert int(r.steps[0]) == steps and r.history.shape[0] == steps + 1
    assert len(getattr(m, CACHE_ATTR)) == 1
    assert run.experimental_get_tracing_count() == traces


def test_several_objectives_give_no_retracing_warning(caplog):
    m = model()
    objectives = [
        fv.ClassLogit(0),
        fv.ClassLogit([0, 1]),
        fv.ClassProbability(2),
        fv.Neuron("hidden", 1),
        fv.Neuron("hidden", [0, 1, 2]),
        fv.ClassLogit(1) - 0.1 * fv.L2(),
        fv.LayerEnergy("hidden"),
        fv.ClassLogit(2) + fv.ClassProbability(2),
    ]
    with caplog.at_level(logging.WARNING):
        for steps in (4, 6):
            for obj in objectives:
                fv.ascend(m, obj, constraints=fv.Box(0, 1), steps=steps, jit_compile=False)  # XLA: slower to build
    assert len(getattr(m, CACHE_ATTR)) == len(objectives)
    assert not [rec for rec in caplog.records if "retracing" in rec.getMessage()]


def test_a_static_option_selects_another_compiled_function_a_value_does_not():
    m = conv_model()
    kw = dict(constraints=fv.Box(0, 1), steps=2, jit_compile=False)
    fv.ascend(m, fv.Channel("conv", 0), **kw)
    (run,) = getattr(m, CACHE_ATTR).values()
    traces = run.experimental_get_tracing_count()
    fv.ascend(m, fv.Channel("conv", 2), **kw)  # another index: a value, fed as a tensor
    assert len(getattr(m, CACHE_ATTR)) == 1 and run.experimental_get_tracing_count() == traces
    mean = fv.ascend(m, fv.Channel("conv", 1), **kw)
    top = fv.ascend(m, fv.Channel("conv", 1), start=mean.start, **kw)
    by_max = fv.ascend(m, fv.Channel("conv", 1, reduce="max"), start=mean.start, **kw)  # static: a new function
    assert len(getattr(m, CACHE_ATTR)) == 2
    assert not np.allclose(by_max.values, top.values)  # it computes the max, not the stale mean


def test_traced_code_runs_as_written_not_converted_by_autograph():
    """The loop, the exemplar pass and the attack's gradient are traced without autograph: autograph would
    run a converted copy of every function the trace calls (here an objective's ``evaluate``, from a
    generated file), which cost each process ~2 s at its first ascent."""
    import sys

    from pytest_featviz.exemplars import Forward
    from pytest_featviz.verify.falsify import Evaluator

    ran_from = set()

    class Recorded(fv.ClassLogit):
        def evaluate(self, ctx, params):
            ran_from.add(sys._getframe().f_code.co_filename)
            return super().evaluate(ctx, params)

    m, objective = model(), Recorded(0)
    fv.ascend(m, objective, constraints=fv.Box(0, 1), steps=3)
    Forward(m, objective)(np.zeros((2, 5), np.float32))
    Evaluator(m, objective, 1, (5,))(np.zeros((2, 5), np.float32), 0)
    assert ran_from == {__file__}


def loop_ops(m):
    """The op types of the compiled loops' graphs on ``m`` (the outer graph and its functions)."""
    types = set()
    for run in getattr(m, CACHE_ATTR).values():
        graph = run.get_concrete_function().graph.as_graph_def()
        types |= {node.op for node in graph.node}
        types |= {node.op for f in graph.library.function for node in f.node_def}
    return types


def test_picking_one_class_unit_or_channel_per_item_traces_no_gather():
    """A batched gather's gradient is ~80 ops to trace (a third of a small loop's graph); the objectives
    pick per-item targets with a select instead, whose gradient is one op."""
    m = conv_model(size=5, channels=3, classes=4)
    kw = dict(constraints=fv.Box(0, 1), steps=2)
    objectives = [
        fv.ClassLogit([0, 3]),
        fv.ClassProbability([1, 2]),
        fv.Neuron("conv", [0, 26]),
        fv.Channel("conv", [2, 0]),
    ]
    runs = [fv.ascend(m, obj, **kw) for obj in objectives]
    assert not {"GatherV2", "UnsortedSegmentSum"} & loop_ops(m)
    logits = m(runs[0].inputs).numpy()
    np.testing.assert_array_equal(runs[0].values, logits[[0, 1], [0, 3]])
    conv = keras_feature(m, "conv", runs[3].inputs)
    np.testing.assert_allclose(runs[3].values, conv[[0, 1], :, :, [2, 0]].mean(axis=(1, 2)), rtol=1e-6)
    conv = keras_feature(m, "conv", runs[2].inputs)
    np.testing.assert_array_equal(runs[2].values, conv.reshape(2, -1)[[0, 1], [0, 26]])


def keras_feature(m, layer, x):
    import keras

    return keras.Model(m.input, m.get_layer(layer).output)(x).numpy()


def test_the_loop_traces_an_objective_once_per_step_unless_it_ascends_another_function():
    from pytest_featviz.verify.falsify import Evaluator

    """The body computes the value once when the ascent follows the value itself (a logit); a lone
    probability follows its log-probability, so both are traced (and the value once more, for a negative
    coefficient, which is a tensor). Plus one evaluation after the loop."""
    traced = []

    class Logit(fv.ClassLogit):
        def _evaluate(self, ctx, values):
            traced.append("value")
            return super()._evaluate(ctx, values)

    class Probability(fv.ClassProbability):
        def _evaluate(self, ctx, values):
            traced.append("value")
            return super()._evaluate(ctx, values)

        def _ascent_value(self, ctx, values):
            traced.append("ascent")
            return super()._ascent_value(ctx, values)

    fv.ascend(model(), Logit(0), constraints=fv.Box(0, 1), steps=2)
    assert traced == ["value", "value"]
    traced.clear()
    Evaluator(model(), Logit(0), 1, (5,))(np.zeros((2, 5), np.float32), 0)  # the attack's value and gradient
    assert traced == ["value"]
    traced.clear()
    fv.ascend(model(), Probability(0), constraints=fv.Box(0, 1), steps=2)
    assert sorted(traced) == ["ascent", "value", "value", "value"]
