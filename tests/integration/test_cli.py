"""The `featviz` command on tiny saved models: through the installed script (a fresh process), as
``python -m pytest_featviz.cli`` (its ``__main__`` run in this process, exit status and all), through
``main(argv)`` in this process, and its error table."""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import keras  # imported at module level: TensorFlow cannot be imported twice in one process
import numpy as np
import pytest
from PIL import Image

import pytest_featviz as fv
from pytest_featviz.cli import main, parse_channels
from pytest_featviz.cli import reach as reach_command
from pytest_featviz.cli.args import negative_values_attached
from pytest_featviz.cli.command import build_parser
from pytest_featviz.render import grid

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
MAIN = Path(fv.__file__).parent / "cli" / "__main__.py"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small CNN ending in a Softmax layer, and a dense model whose logits have a known maximum on [0, 1]^4."""
    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1), name="pixels")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(3, name="head")(x)
    keras.Model(inp, keras.layers.Softmax(name="probs")(x), name="tiny").save(folder / "conv.keras")
    inp = keras.Input((4,))
    ones = keras.layers.Dense(2, kernel_initializer="ones", name="head")(inp)  # logit k = sum(x): 4 at most
    keras.Model(inp, ones, name="ones").save(folder / "ones.keras")
    return {"conv": folder / "conv.keras", "ones": folder / "ones.keras", "folder": folder}


def featviz(script, *args, cwd):
    """The installed ``featviz`` script run with ``args`` in a fresh process."""
    return subprocess.run([str(script), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=ENV, check=False)


def featviz_module(*args, cwd, capsys, monkeypatch):
    """``python -m pytest_featviz.cli *args``: the package's ``__main__.py`` run in this process as ``-m`` runs
    it (named ``__main__``, in its package), in ``cwd``; the status it exits with and its output, shaped like a
    subprocess's result. (Not ``runpy``: pytest's assertion-rewriting loader, which holds this plugin's
    modules, cannot give it their code.)"""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["featviz", *map(str, args)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        exec(
            compile(MAIN.read_text(), str(MAIN), "exec"), {"__name__": "__main__", "__package__": "pytest_featviz.cli"}
        )
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["featviz", *map(str, args)], exited.value.code, out, err)


def featviz_here(*args, cwd, capsys, monkeypatch):
    """``featviz *args`` through ``main(argv)`` in this process, in ``cwd``; shaped like a subprocess's result."""
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["featviz", *map(str, args)], code, out, err)


def columns(line):
    return re.split(r"\s{2,}", line.strip())


def test_layers_prints_a_table_through_the_installed_script(models, tmp_path):
    script = Path(sys.executable).with_name("featviz")
    if not script.exists():
        pytest.skip(f"the featviz script is not installed next to {sys.executable}: pip install -e .")
    done = featviz(script, "layers", models["conv"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "model 'tiny': input shape (8, 8, 1), 3 classes"
    assert columns(lines[1]) == ["layer", "class", "output shape", "activation", "targets"]
    assert [columns(line) for line in lines[3:]] == [
        ["pixels", "InputLayer", "(8, 8, 1)", "-", "-"],
        ["conv", "Conv2D", "(6, 6, 4)", "relu", "Channel 0-3, Neuron 0-143"],
        ["flat", "Flatten", "(144,)", "-", "Neuron 0-143"],
        ["head", "Dense", "(3,)", "linear", "Neuron 0-2"],
        ["probs", "Softmax", "(3,)", "softmax", "Neuron 0-2, ClassLogit 0-2"],
    ]


def test_render_writes_the_labelled_grid_of_one_batched_channel_ascent(models, tmp_path, capsys, monkeypatch):
    done = featviz_here(
        "render",
        models["conv"],
        "--layer",
        "conv",
        "--channels",
        "0:4",
        "--steps",
        "20",
        "--seed",
        "3",
        "--out",
        "pics/grid.png",
        cwd=tmp_path,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stderr  # no progress bar when stderr is not a terminal
    with Image.open(tmp_path / "pics" / "grid.png") as image:
        image.load()
        size, mode = image.size, image.mode
    expected = grid(np.zeros((4, 8, 8, 1)), labels=["label"] * 4).shape
    assert (size[1], size[0]) == expected and mode == "L"
    printed = dict(columns(line) for line in done.stdout.splitlines() if re.match(r"^\d+\s", line))
    # the same ascent in this process: one Channel objective over the four channels, Box(0, 1), seed 3
    r = fv.ascend(
        fv.load_model(models["conv"]), fv.Channel("conv", [0, 1, 2, 3]), constraints=fv.Box(0, 1), steps=20, seed=3
    )
    assert sorted(printed) == ["0", "1", "2", "3"]
    np.testing.assert_allclose([float(printed[str(i)]) for i in range(4)], r.values, rtol=1e-4, atol=1e-6)
    assert done.stdout.splitlines()[0] == "Channel('conv', [0, 1, 2, 3]) inside Box(0.0, 1.0): 20 steps, seed 3"


def test_reach_prints_the_success_and_writes_the_picture(models, tmp_path, capsys, monkeypatch):
    done = featviz_here(
        "reach",
        models["ones"],
        "--class",
        "1",
        "--logit",
        "--at-least",
        "3.5",
        "--steps",
        "60",
        "--out",
        "reach.png",
        cwd=tmp_path,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("assert_reaches passed: ClassLogit(1) reaches >= 3.5 inside Box(0.0, 1.0)")
    best = float(re.search(r"best value (\S+)", done.stdout).group(1))
    assert 3.5 <= best <= 4.0 + 1e-5  # the logit is the sum of four inputs in [0, 1]
    with Image.open(tmp_path / "reach.png") as image:
        image.load()
        assert (image.size[1], image.size[0]) == grid(np.zeros((1, 4)), labels=["x"]).shape


def test_reach_that_cannot_be_met_prints_the_account_exits_1_and_keeps_the_picture(
    models, tmp_path, capsys, monkeypatch
):
    args = ("reach", models["ones"], "--class", "0", "--logit", "--at-least", "4.5", "--steps", "40")
    done = featviz_module(*args, cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("assert_reaches failed: expected ClassLogit(0) reaches >= 4.5")
    assert "pictures: reach_class0.png" in done.stdout and "Traceback" not in done.stderr
    row = next(line for line in done.stdout.splitlines() if re.match(r"^\s+0\s", line))
    assert float(row.split()[1]) <= 4.0 + 1e-5
    with Image.open(tmp_path / "reach_class0.png") as image:
        image.load()


def test_reach_that_fails_and_cannot_write_its_picture_still_prints_the_account(models, tmp_path, capsys, monkeypatch):
    (tmp_path / "blocker").touch()  # a picture path that passed the checks but cannot be written after all
    monkeypatch.setattr(reach_command, "png", Path)  # the --out check lets it through
    code = main(
        [
            "reach",
            str(models["ones"]),
            "--class",
            "0",
            "--logit",
            "--at-least",
            "4.5",
            "--steps",
            "10",
            "--out",
            str(tmp_path / "blocker" / "x.png"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1 and out.startswith("assert_reaches failed: expected ClassLogit(0) reaches >= 4.5")
    assert f"the picture could not be written to {tmp_path / 'blocker' / 'x.png'}" in err
    assert "None" not in err and "--featviz-artifacts" not in err


def test_render_of_a_dense_layer_uses_neurons(models, tmp_path, capsys):
    assert (
        main(
            [
                "render",
                str(models["conv"]),
                "--layer",
                "head",
                "--channels",
                "1,2",
                "--steps",
                "5",
                "--out",
                str(tmp_path / "units.png"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("Neuron('head', [1, 2]) inside Box(0.0, 1.0)")
    with Image.open(tmp_path / "units.png") as image:
        assert (image.size[1], image.size[0]) == grid(np.zeros((2, 8, 8, 1)), labels=["x", "y"]).shape


def test_priors_are_passed_on_or_refused_clearly(models, tmp_path, capsys):
    args = [
        "render",
        str(models["conv"]),
        "--layer",
        "conv",
        "--channels",
        "0",
        "--steps",
        "3",
        "--priors",
        "standard",
        "--out",
        str(tmp_path / "p.png"),
    ]
    assert main(args) == 0 and (tmp_path / "p.png").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "the following arguments are required"),
        (
            ["render", "{conv}", "--layer", "nope", "--out", "x.png"],
            "layer 'nope' not found in model 'tiny'; layers are: pixels, conv, flat, head, probs",
        ),
        (["render", "{conv}", "--layer", "conv", "--channels", "a:b", "--out", "x.png"], "bad --channels 'a:b'"),
        (
            ["render", "{conv}", "--layer", "conv", "--channels", "2:9", "--out", "x.png"],
            "asks for index 4, but layer 'conv' (output shape (6, 6, 4)) has 4 (0 to 3)",
        ),
        (["render", "{conv}", "--layer", "conv", "--channels", "3:1", "--out", "x.png"], "range 3:1 is empty"),
        (["render", "{conv}", "--layer", "conv", "--steps", "0", "--out", "x.png"], "must be an integer >= 1"),
        (["render", "{conv}", "--layer", "conv", "--priors", "bogus", "--out", "x.png"], "--priors 'bogus'"),
        (["layers", "{folder}/missing.keras"], "model file not found"),
        (["layers", "{folder}"], "is a directory but not a SavedModel"),
        (["reach", "{ones}", "--class", "5"], "ClassProbability"),
        (["reach", "{ones}", "--class", "0", "--box", "1,0"], "LOW must be less than HIGH"),
        (["reach", "{ones}", "--class", "0", "--box", "zero,one"], "give LOW,HIGH such as 0,1"),
        (["reach", "{ones}", "--class", "0", "--seed", "-5"], "--seed: must be an integer >= 0; got '-5'"),
        (
            ["render", "{conv}", "--layer", "conv", "--out", "x.jpg"],
            "must name a .png file, such as grid.png; got 'x.jpg'",
        ),
        (
            ["render", "{conv}", "--layer", "conv", "--out", "{folder}/blocker/x.png"],
            "cannot write '{folder}/blocker/x.png': '{folder}/blocker' is a file, not a folder",
        ),
        (["reach", "{ones}", "--class", "0", "--out", "{folder}/dir.png"], "is a folder; give a file name such as"),
    ],
)
def test_bad_arguments_exit_2_with_a_message_and_no_traceback(models, tmp_path, capsys, monkeypatch, args, message):
    (models["folder"] / "blocker").touch()
    (models["folder"] / "dir.png").mkdir(exist_ok=True)
    argv = [a.format(**models) for a in args]
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message.format(**models) in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_help_lists_the_commands_with_examples(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "featviz layers model.keras" in text and "featviz reach model.keras --class 3" in text
    assert main(["render", "--help"]) == 0
    assert "--channels" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, count, expected",
    [
        ("0:4", 6, [0, 1, 2, 3]),
        ("3", 6, [3]),
        ("0,2,5", 6, [0, 2, 5]),
        ("4:", 6, [4, 5]),
        (":", 3, [0, 1, 2]),
        ("0:6:2,1", 6, [0, 2, 4, 1]),
    ],
)
def test_channels_syntax(text, count, expected):
    from pytest_featviz.cli.render import resolve_channels

    assert resolve_channels(parse_channels(text), count, "layer") == expected


@pytest.mark.parametrize("text", ["", "a", "1:2:3:4", "-1", "0:-2", "0:4:0", "1,,2"])
def test_bad_channels_syntax_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--channels"):
        parse_channels(text)


def test_a_negative_box_end_is_read_as_a_value(models, capsys):
    # the logit is the sum of four inputs: 12 at most in [-3, 3]^4, 4 at most in the default [0, 1]^4
    code = main(
        [
            "reach",
            str(models["ones"]),
            "--class",
            "0",
            "--logit",
            "--box",
            "-3,3",
            "--at-least",
            "11.5",
            "--steps",
            "60",
            "--out",
            str(models["folder"] / "neg.png"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("assert_reaches passed: ClassLogit(0) reaches >= 11.5 inside Box(-3.0, 3.0)")


def test_a_negative_threshold_is_read_as_a_value():
    args = build_parser().parse_args(
        negative_values_attached(["reach", "m.keras", "--class", "0", "--at-least", "-1e3", "--box", "-2.5,-1"])
    )
    assert args.threshold == -1000.0 and args.box == (-2.5, -1.0)


def test_box_file_gives_a_per_feature_box(models, tmp_path, capsys):
    np.savez(tmp_path / "lo_hi.npz", low=np.zeros(4), high=np.array([1.0, 2.0, 3.0, 4.0]))
    code = main(
        [
            "reach",
            str(models["ones"]),
            "--class",
            "0",
            "--logit",
            "--box-file",
            str(tmp_path / "lo_hi.npz"),
            "--at-least",
            "9.5",
            "--steps",
            "80",
            "--out",
            str(tmp_path / "r.png"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out  # 10 at most: beyond the 4 of any box the default --box allows
    assert "reaches >= 9.5 inside Box(array(shape=(4,)), array(shape=(4,)))" in out.splitlines()[0]
    best = float(re.search(r"best value (\S+)", out).group(1))
    assert 9.5 <= best <= 10.0 + 1e-5


def test_the_remedy_of_a_failed_reach_names_flags_not_python_keywords(models, capsys):
    code = main(
        [
            "reach",
            str(models["ones"]),
            "--class",
            "0",
            "--logit",
            "--at-least",
            "4.5",
            "--steps",
            "40",
            "--out",
            str(models["folder"] / "fail.png"),
        ]
    )
    out = capsys.readouterr().out
    remedy = next(line for line in out.splitlines() if line.lstrip().startswith("remedy:"))
    assert code == 1 and "--steps 80" in remedy and "steps=" not in remedy


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"low": np.zeros(4)}, "has arrays ['low'] but lacks ['high']"),
        ({"low": np.ones(4), "high": np.zeros(4)}, "Box low=1 is larger than high=0"),
        (None, "cannot read --box-file"),
    ],
)
def test_a_bad_box_file_exits_2_naming_the_file(models, tmp_path, capsys, arrays, message):
    path = tmp_path / "box.npz"
    if arrays is None:
        path.write_text("not an npz")
    else:
        np.savez(path, **arrays)
    assert main(["reach", str(models["ones"]), "--class", "0", "--box-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err


def test_box_and_box_file_are_exclusive(models, tmp_path, capsys):
    np.savez(tmp_path / "b.npz", low=np.zeros(4), high=np.ones(4))
    assert (
        main(["reach", str(models["ones"]), "--class", "0", "--box", "0,1", "--box-file", str(tmp_path / "b.npz")]) == 2
    )
    assert "not allowed with argument --box" in capsys.readouterr().err
