"""The noise/change matrix on the shipped models: the default behavioural gate passes every harmless case
and fails every real change (bench/calibrate_gates.py builds the variants in memory; the README's table
comes from the same script with more steps and the retrain).

Harmless: the same model re-run, weight noise of 1e-6, 1e-5 and 1e-4, the ascent compiled the other way
(XLA), the model evaluated in float64. Real: one unit's weights redrawn and fine-tuning that silences it
(caught by the gate over that layer's units), two classes of the head swapped (caught by the class gate).
"""

import functools
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "calibrate_gates.py"
STEPS = 128  # as the README table: the numbers the test checks are the ones it shows
TARGETED = {"unit replaced": "units", "feature destroyed": "units", "head swap": "classes"}


def _bench():
    spec = importlib.util.spec_from_file_location("calibrate_gates", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


CAL = _bench()


@functools.cache
def measured(name):
    """``{(gate, case): the worst number of each comparison and the default gate's verdict}`` for one
    model, measured once per worker; each model's tests share an xdist group, so each model is
    measured on one worker only (the root conftest's XDIST_GROUPS: every test names its model in its
    parameters) and the three models spread over the workers."""

    def wanted(gate, case):  # a real change is judged by the gate that targets it
        return case in CAL.HARMLESS or TARGETED[case] == gate

    rows = CAL.measure([name], STEPS, retrain=False, priors=False, wanted=wanted)
    return {(gate, case): found for _, gate, case, found in rows}


@pytest.mark.parametrize("case", CAL.HARMLESS)
@pytest.mark.parametrize("name", list(CAL.SPECS))
def test_the_default_gate_passes_harmless_numeric_changes(name, case):
    for gate in ("units", "classes"):
        found = measured(name)[gate, case]
        assert found["gate"], f"{name} {gate} gate fails under {case!r}: {found}"


@pytest.mark.parametrize("case", CAL.CHANGES)
@pytest.mark.parametrize("name", list(CAL.SPECS))
def test_the_default_gate_fails_real_changes(name, case):
    found = measured(name)[TARGETED[case], case]
    assert not found["gate"], f"{name} {TARGETED[case]} gate passes {case!r}: {found}"


@pytest.mark.parametrize("name", ["digits_cnn"])
def test_picture_ssim_alone_would_fail_harmless_noise_that_the_behavioural_gate_passes(name):
    """Why the gate is behavioural: raw maximisers of the digits CNN move under weight noise of 1e-4."""
    found = measured(name)["classes", "noise 1e-4"]
    assert found["gate"] and found["ssim"] < 0.95


@pytest.mark.parametrize("name", ["digits_mlp"])
def test_the_dense_models_pictures_are_reproducible_enough_to_judge_by_ssim(name):
    """The README's stability table: the MLP's maximisers sit on box corners."""
    for gate in ("units", "classes"):
        assert min(measured(name)[gate, case]["ssim"] for case in CAL.HARMLESS) > 0.99


@pytest.mark.parametrize("name", ["digits_cnn"])
def test_the_cnns_pictures_drift_with_harmless_changes(name):
    """... while the CNNs' maximisers drift with noise, so SSIM alone cannot judge them."""
    assert min(measured(name)["classes", case]["ssim"] for case in CAL.HARMLESS) < 0.95
