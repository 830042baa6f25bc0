"""The layers below a unit: those of the model's own graph that the unit's layer depends on."""

from pytest_featviz.exemplars import layers_below
from pytest_featviz.objectives import LOGITS


def test_only_the_unit_s_ancestors_and_no_reshapes_or_the_unit_itself():
    import keras

    inp = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(4, 3, name="a")(inp)
    side = keras.layers.Conv2D(4, 3, name="side")(inp)  # another branch: not below 'b'
    b = keras.layers.Conv2D(4, 3, name="b")(a)
    flat = keras.layers.Flatten(name="flat")(b)
    head = keras.layers.Dense(2, name="head")(
        keras.layers.Concatenate(name="cat")([flat, keras.layers.Flatten()(side)])
    )
    model = keras.Model(inp, head)
    assert layers_below(model, {"b"}) == ["a"]
    assert layers_below(model, {"head"}) == ["a", "b", "side", "cat"]
    assert layers_below(model, {LOGITS}) == ["a", "b", "side", "cat"]
