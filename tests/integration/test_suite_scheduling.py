"""The suite's own xdist groups (the root conftest's XDIST_GROUPS) still name the tests they are for:
a renamed test or parameter would silently fall out of its group and recompute its module's work."""

import importlib.util
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root_conftest)
xdist_group_of = root_conftest.xdist_group_of


def collected(pytester, *paths):
    """The node ids of ``paths`` (relative to the repository), collected in this process."""
    items, _ = pytester.inline_genitems("-p", "no:randomly", "--rootdir", str(ROOT), *(str(ROOT / p) for p in paths))
    return [item.nodeid for item in items]


def test_every_gate_calibration_test_is_grouped_by_its_model_and_each_shared_fixture_is_one_group(pytester):
    ids = collected(
        pytester,
        "tests/integration/test_gate_calibration.py",
        "tests/integration/test_baseline_workflow.py",
        "tests/integration/test_typing.py",
        "tests/integration/test_memory.py",
    )
    gate = [nodeid for nodeid in ids if "test_gate_calibration.py" in nodeid]
    groups = {xdist_group_of(nodeid) for nodeid in gate}
    assert groups == {"gate-digits_mlp", "gate-digits_cnn", "gate-textures_cnn"}, groups
    workflow = [nodeid for nodeid in ids if "test_baseline_workflow.py" in nodeid]
    assert len(workflow) == 5 and {xdist_group_of(nodeid) for nodeid in workflow} == {"baseline-workflow"}
    typing = [nodeid for nodeid in ids if "test_typing.py" in nodeid]
    assert len(typing) == 2 and {xdist_group_of(nodeid) for nodeid in typing} == {"typing"}
    memory = [nodeid for nodeid in ids if "test_memory.py" in nodeid]
    assert len(memory) == 2 and {xdist_group_of(nodeid) for nodeid in memory} == {"memory"}


def test_other_tests_are_scheduled_one_by_one():
    assert xdist_group_of("tests/unit/engine/test_ascent.py::test_values_outputs_and_inputs_agree") is None
