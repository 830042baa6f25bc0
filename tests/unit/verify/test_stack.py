"""Many objectives in one call (a specification matrix): the same bounds as one call each, in
order, from one forward pass and one backward pass per node read, each distinct row once."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.verify import Bounds, Certificate, alpha, bounds, certificates, certify_not_reaches, propagation
from pytest_featviz.verify import stack as stack_module
from pytest_featviz.verify.certificates import _input_set
from pytest_featviz.verify.specs import Group
from pytest_featviz.verify.stack import stack_rows
from pytest_featviz.verify.targets import build_graph

L = keras.layers


def mlp():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [keras.Input((5,)), L.Dense(8, activation="relu", name="d0"), L.Dense(8, activation="relu"), L.Dense(4)]
    )


def cnn():
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            L.Conv2D(3, 3, padding="same", activation="relu", name="conv"),
            L.MaxPooling2D(2),
            L.Conv2D(4, 2, activation="relu"),
            L.Flatten(),
            L.Dense(4),
        ]
    )


def case(make):
    """A model, two items' L-inf balls, and objectives of every kind a list may mix."""
    model = make()
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(0, 1, (2, *shape)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x, 0.08, p=np.inf)
    extra = fv.Neuron("d0", [1, 6]) if make is mlp else fv.Channel("conv", [2, 0], reduce="max")
    objectives = [*fv.logit_margins([2, 0], 4), fv.ClassProbability([1, 3]), extra, 0.5 * fv.ClassLogit([0, 1])]
    return model, x, c, objectives


def assert_same(got: Bounds, want: Bounds) -> None:
    for name in ("lower", "upper", "real_lower", "real_upper"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-9, atol=1e-12, err_msg=name)
    assert (got.method, got.upper_from, got.ibp_layers) == (want.method, want.upper_from, want.ibp_layers)
    assert got.objective is want.objective


@pytest.mark.parametrize("method", ["ibp", "crown", "alpha-crown"])
@pytest.mark.parametrize("make", [mlp, cnn])
def test_a_list_gives_each_objective_the_bounds_it_gets_alone(make, method):
    model, x, c, objectives = case(make)
    together = bounds(model, objectives, constraints=c, method=method, start=x)
    assert isinstance(together, tuple) and len(together) == len(objectives)
    for got, objective in zip(together, objectives):
        assert_same(got, bounds(model, objective, constraints=c, method=method, start=x))
    assert together[0].upper[0] < np.inf


def test_one_forward_pass_and_each_distinct_row_bounded_once(monkeypatch):
    model, x, c, _ = case(mlp)
    forwards, passes = [], []
    real_forward, real_rows = certificates.forward, stack_module.rows_bounds
    monkeypatch.setattr(certificates, "forward", lambda *a, **k: forwards.append(1) or real_forward(*a, **k))

    def rows_bounds(graph, state, inset, node, a, *args):
        passes.append((node, a.shape[1]))
        return real_rows(graph, state, inset, node, a, *args)

    monkeypatch.setattr(stack_module, "rows_bounds", rows_bounds)
    margins = fv.logit_margins(0, 4)  # z_1 - z_0, z_2 - z_0, z_3 - z_0: 6 rows with the negations
    flipped = fv.ClassLogit(0) - fv.ClassLogit(2)  # the negation of a margin: no new row
    objectives = [*margins, flipped, *margins, fv.ClassLogit(1) - fv.ClassLogit(0)]
    found = bounds(model, objectives, constraints=c, start=x)
    assert len(forwards) == 1 and len(passes) == 1 and passes[0][1] == 6
    np.testing.assert_array_equal(found[3].upper, -found[1].lower)
    np.testing.assert_array_equal(found[4].upper, found[0].upper)
    np.testing.assert_array_equal(found[7].upper, found[0].upper)
    passes.clear()
    bounds(model, [margins[0], fv.Neuron("d0", 2)], constraints=c, start=x)  # two nodes read: a pass each
    assert sorted(k for _, k in passes) == [2, 2] and len({n for n, _ in passes}) == 2


def test_results_come_back_in_the_order_given_and_a_tuple_works_too():
    model, x, c, objectives = case(mlp)
    forward = bounds(model, objectives, constraints=c, start=x)
    backward = bounds(model, tuple(reversed(objectives)), constraints=c, start=x)
    assert [b.objective for b in forward] == objectives
    for got, want in zip(reversed(backward), forward):
        np.testing.assert_allclose(got.upper, want.upper, rtol=1e-12)
    single = bounds(model, objectives[0], constraints=c, start=x)
    assert isinstance(single, Bounds)
    (only,) = bounds(model, [objectives[0]], constraints=c, start=x)
    assert_same(only, single)


def test_stack_rows_keeps_each_distinct_row_once_and_where_each_group_reads():
    a = np.array([[[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # (B=2, K=2, 3)
    g = Group("x", a, "max", 1.0)
    same_first = Group("x", a[:, :1], "sum", 2.0)
    differs_for_one_item = Group("x", a[:, :1] * np.array([1.0, 3.0])[:, None, None], "sum", 1.0)
    s = stack_rows([g, same_first, differs_for_one_item])
    assert s.rows.shape == (2, 6, 3)
    assert [w.tolist() for w in s.where] == [[0, 1, 2, 3], [0, 2], [4, 5]]
    for group, where in zip([g, same_first, differs_for_one_item], s.where):
        np.testing.assert_array_equal(s.rows[:, where], np.concatenate([group.rows, -group.rows], axis=1))
    with pytest.raises(ValueError, match="at least one group"):
        stack_rows([])


def test_alpha_crown_optimises_and_stops_each_row_on_its_own():
    """A row's bound is the same alone as beside rows that converge at other speeds (a
    stopping rule shared by the rows of a chunk would make it depend on them)."""
    model = mlp()
    x = np.random.default_rng(1).uniform(0, 1, (3, 5))
    graph, _ = build_graph(model, ["__logits__"])
    state = propagation.forward(graph, _input_set(fv.Box(0, 1) & fv.LpBall(x, 0.3, p=np.inf), x.shape, x), "full")
    last = len(graph.nodes) - 1
    rows = np.random.default_rng(2).normal(size=(3, 5, 4)) * np.array([1.0, 30.0, 0.01, 3.0, 1.0])[:, None]
    together = alpha.alpha_backward(graph, state, last, rows)
    for r in range(rows.shape[1]):
        alone = alpha.alpha_backward(graph, state, last, rows[:, r : r + 1])
        for got, want in zip(together, alone):
            np.testing.assert_allclose(got[:, r : r + 1], want, rtol=1e-9, atol=1e-12)
    for i in range(3):
        alone = alpha.alpha_backward(graph, state.take(slice(i, i + 1)), last, rows[i : i + 1])
        np.testing.assert_allclose(together[0][i : i + 1], alone[0], rtol=1e-9, atol=1e-12)


def test_certify_not_reaches_takes_a_list_with_one_threshold():
    m = keras.Sequential([keras.Input((2,)), L.Dense(3)])
    m.set_weights([np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]], np.float32), np.array([0.0, 0.0, -1.5], np.float32)])
    margins = fv.logit_margins(0, 3)  # on the unit box z_1 - z_0 reaches 1 (at (0, 1)), z_2 - z_0 <= -0.5
    certs = certify_not_reaches(m, margins, 0.75, constraints=fv.Box(0, 1))
    assert isinstance(certs, tuple) and all(isinstance(cert, Certificate) for cert in certs)
    assert [cert.status for cert in certs] == [("unknown",), ("proven",)]
    assert [cert.bounds.objective for cert in certs] == margins
    assert isinstance(certify_not_reaches(m, margins[1], 0.75, constraints=fv.Box(0, 1)), Certificate)


@pytest.mark.parametrize(
    ("objectives", "error", "match"),
    [
        ([], ConfigurationError, "empty list of objectives"),
        ((), ConfigurationError, "empty list of objectives"),
        ([fv.ClassLogit(0), "ClassLogit(1)"], FeatvizTypeError, "objective 1 of the list is 'ClassLogit"),
        ([fv.logit_margins(0, 3)], FeatvizTypeError, "objective 0 of the list is .*not lists"),
        (
            [fv.ClassLogit([0, 1]), fv.ClassLogit(2), fv.ClassLogit([0, 1, 2])],
            ConfigurationError,
            r"different numbers of targets \(objective 0 has 2, objective 2 has 3\)",
        ),
    ],
)
def test_a_bad_list_is_refused_with_what_was_wrong(objectives, error, match):
    model = mlp()
    for call in (
        lambda: bounds(model, objectives, constraints=fv.Box(0, 1)),
        lambda: certify_not_reaches(model, objectives, 0.0, constraints=fv.Box(0, 1)),
    ):
        with pytest.raises(error, match=match):
            call()


def test_one_model_per_call_and_objectives_of_another_model_are_refused_by_name():
    model = mlp()
    with pytest.raises(FeatvizTypeError, match="load_model needs a path, a keras.Model"):
        bounds([model, cnn()], fv.logit_margins(0, 4), constraints=fv.Box(0, 1))
    with pytest.raises(fv.LayerNotFoundError, match="conv"):
        bounds(model, [fv.ClassLogit(0), fv.Channel("conv", 0)], constraints=fv.Box(0, 1))


def test_an_objective_with_one_target_is_broadcast_to_the_others_batch():
    model, x, c, _ = case(mlp)
    per_item, shared = bounds(model, [fv.ClassLogit([1, 2]), fv.ClassLogit(3)], constraints=c, start=x)
    want = bounds(model, fv.ClassLogit([3, 3]), constraints=c, start=x)
    assert_same(shared, replace_objective(want, shared.objective))
    assert per_item.upper.shape == (2,)


def replace_objective(b: Bounds, objective: fv.Objective) -> Bounds:
    from dataclasses import replace

    return replace(b, objective=objective)
