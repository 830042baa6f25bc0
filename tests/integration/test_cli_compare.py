"""``featviz compare OLD NEW``: the per-unit table, the pictures, and the exit code, through ``main(argv)``."""

import re

import keras  # imported at module level: TensorFlow cannot be imported twice in one process
import pytest
from PIL import Image

from pytest_featviz.cli import main


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """v1, a copy of it, a copy whose unit 2 was negated, one whose classes 0 and 1 were swapped, and one whose
    units 1 and 3 trade places (the same function, the units numbered differently)."""
    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    v1 = keras.Sequential(
        [
            keras.Input((8, 8)),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(6, activation="relu", name="units"),
            keras.layers.Dense(3, name="head"),
        ],
        name="v1",
    )
    v1.save(folder / "v1.keras")
    v1.save(folder / "copy.keras")
    kernel, bias = v1.get_layer("units").get_weights()
    kernel[:, 2] = -kernel[:, 2]
    v1.get_layer("units").set_weights([kernel, bias])
    v1.save(folder / "unit2.keras")
    kernel[:, 2] = -kernel[:, 2]  # back to v1's units
    v1.get_layer("units").set_weights([kernel, bias])
    head, head_bias = v1.get_layer("head").get_weights()
    v1.get_layer("head").set_weights([head[:, [1, 0, 2]], head_bias[[1, 0, 2]]])
    v1.save(folder / "swapped.keras")
    order = [0, 3, 2, 1, 4, 5]
    v1.get_layer("units").set_weights([kernel[:, order], bias[order]])
    v1.get_layer("head").set_weights([head[order], head_bias])
    v1.save(folder / "permuted.keras")
    return folder


def rows(out):
    """The table's rows by unit: their cells (item, baseline item, cross, cross_back, similarity, value, ssim, verdict)."""
    found = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if re.match(r"\s+(unit|class) \d", line)]
    return {cells[0]: cells for cells in found}


def test_the_same_model_passes_every_unit_and_writes_both_pictures(models, tmp_path, capsys):
    code = main(["compare", str(models / "v1.keras"), str(models / "copy.keras"), "--layer", "units",
                 "--channels", "0:4", "--steps", "30", "--out", str(tmp_path / "out")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    table = rows(out)
    assert sorted(table) == ["unit 0", "unit 1", "unit 2", "unit 3"]
    assert all(cells[-1] == "pass" and cells[2] == "1" for cells in table.values())
    assert "judged by: cross >= 0.9; cross_back >= 0.9; similarity >= 0.999; values within value_rtol=0.05" in out
    assert out.rstrip().endswith("pass: 0 of 4 units fail")
    for name in ("old", "new"):
        assert Image.open(tmp_path / "out" / f"{name}.png").size[0] > 0


def test_a_changed_unit_fails_alone_with_its_numbers_and_exit_code_1(models, tmp_path, capsys):
    code = main(["compare", str(models / "v1.keras"), str(models / "unit2.keras"), "--layer", "units",
                 "--channels", "0:4", "--steps", "30", "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    table = rows(out)
    assert table["unit 2"][-1] == "FAIL" and table["unit 2"][2].endswith(" !")  # cross: unit 2 detects another thing
    assert [table[f"unit {i}"][2] for i in (0, 1, 3)] == ["1", "1", "1"]  # the other units do not
    assert "cross >= 0.9 failed for item(s) 2," in out and "Failing means:" in out
    # the layer's representation of every stored input moved a little (unit 2 is part of it): judged per input
    assert all(float(table[f"unit {i}"][4].rstrip(" !")) < 0.999 for i in range(4))
    assert out.rstrip().endswith("FAIL: 4 of 4 units fail (values 1, cross 1, cross_back 1, similarity 4)")


def test_swapped_classes_fail_on_the_logits(models, tmp_path, capsys):
    args = ["compare", str(models / "v1.keras"), str(models / "swapped.keras"), "--layer", "logits", "--steps", "30"]
    assert main([*args, "--out", str(tmp_path)]) == 1
    table = rows(capsys.readouterr().out)
    crossed = [table[f"class {i}"][2].endswith("!") for i in range(3)]
    assert (crossed[0] or crossed[1]) and not crossed[2]  # cross-activation: a swapped class sees another picture


def test_permutation_matching_pairs_renumbered_units(models, tmp_path, capsys):
    args = ["compare", str(models / "v1.keras"), str(models / "permuted.keras"), "--layer", "units", "--channels",
            "0:4", "--steps", "30", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 1
    assert main([*args, "--match", "permutation", "--min-similarity", "-1"]) == 0  # the layer's order moved
    out = capsys.readouterr().out
    assert (
        "mapping (obtained item <- baseline item): unit 0<-unit 0, unit 1<-unit 3, unit 2<-unit 2, unit 3<-unit 1"
        in out
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layer", "nope"], "nope"),
        (["--layer", "units", "--channels", "4:9"], "--channels asks for index 6, but layer 'units'"),
        (["--layer", "units", "--min-cross", "2"], "must be a number in [-1, 1]; got '2'"),
    ],
)
def test_bad_arguments_exit_2_naming_the_value(models, capsys, extra, message):
    assert main(["compare", str(models / "v1.keras"), str(models / "copy.keras"), *extra]) == 2
    assert message in capsys.readouterr().err
