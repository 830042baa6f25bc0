"""Each public string choice is one Literal alias; the runtime check lists exactly its arguments."""

from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.engine import OPTIMIZERS, SCHEDULES, Optimizer, Schedule
from pytest_featviz.errors import ConfigurationError, ModelLoadError
from pytest_featviz.models import OUTPUTS, Outputs
from pytest_featviz.objectives import REDUCTIONS, Reduce
from pytest_featviz.priors import PAD_MODES, PRESETS, PadMode, Preset
from pytest_featviz.render import CONTRASTS, Contrast

MISSING = "no-such-model.keras"  # each choice is checked before the model is loaded


@pytest.mark.parametrize(
    "alias, choices",
    [
        (Optimizer, OPTIMIZERS),
        (Schedule, SCHEDULES),
        (Reduce, REDUCTIONS),
        (Contrast, CONTRASTS),
        (PadMode, PAD_MODES),
        (Outputs, OUTPUTS),
        (Preset, tuple(PRESETS)),
    ],
)
def test_the_runtime_choices_are_the_aliases_arguments(alias, choices):
    assert choices == get_args(alias)


@pytest.mark.parametrize(
    "alias, name, call",
    [
        (Optimizer, "optimizer", lambda v: fv.ascend(MISSING, fv.ClassLogit(0), optimizer=v)),
        (Schedule, "schedule", lambda v: fv.ascend(MISSING, fv.ClassLogit(0), schedule=v)),
        (Reduce, "Channel reduce", lambda v: fv.Channel("conv", 0, reduce=v)),
        (Contrast, "contrast", lambda v: fv.render.to_uint8([0.5], contrast=v)),
        (Contrast, "contrast", lambda v: fv.render.grid(np.zeros((1, 2, 2)), contrast=v)),
        (PadMode, "Pad mode", lambda v: fv.priors.Pad(1, v)),
        (Preset, "priors", lambda v: fv.priors.resolve_priors(v)),
        (Outputs, "outputs", lambda v: fv.load_model(Path(__file__).parent, outputs=v)),
    ],
)
def test_a_misspelt_choice_is_refused_listing_the_aliases_arguments(alias, name, call):
    for valid in get_args(alias):  # accepted (the missing model file is the next thing to fail)
        try:
            call(valid)
        except ModelLoadError as exc:  # past the choice: the model is what is wrong
            assert "not found" in str(exc) or "not a SavedModel" in str(exc)
    listed = ", ".join(repr(c) for c in sorted(get_args(alias)))
    with pytest.raises(ConfigurationError) as info:
        call("xx" + get_args(alias)[0])
    assert f"{name}='xx{get_args(alias)[0]}' is not one of {listed}; did you mean {get_args(alias)[0]!r}?" in str(
        info.value
    )


def test_a_parametrizations_default_optimizer_is_checked():
    @dataclass(frozen=True)
    class Adamw(fv.priors.Pixel):
        optimizer = "adamw"  # a subclass may name any string: ascend checks it

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ConfigurationError, match="Adamw.optimizer='adamw' is not one of 'adam', 'pgd', 'sign'"):
        fv.ascend(model, fv.ClassLogit(0), parametrization=Adamw(), steps=1)
    assert fv.ascend(model, fv.ClassLogit(0), parametrization=Adamw(), optimizer="sign", steps=1).optimizer == "sign"
