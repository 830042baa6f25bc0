"""The report header names the TensorFlow that is installed, whatever its distribution is called (issue 14)."""

from importlib import metadata
from types import SimpleNamespace

import pytest

from pytest_featviz import plugin

pytest_plugins = ["pytester"]


def fake_installed(monkeypatch, dists):
    """Pretend, to the plugin only, that exactly ``dists`` ({distribution: (version, top-level modules)}) are installed."""
    modules = {}
    for dist, (_, tops) in dists.items():
        for top in tops:
            modules.setdefault(top, []).append(dist)

    def version(name):  # like importlib.metadata.version, it finds "a_b" as "a-b" and the other way round
        found = [v for dist, (v, _) in dists.items() if dist.replace("_", "-") == name.replace("_", "-")]
        if not found:
            raise metadata.PackageNotFoundError(name)
        return found[0]

    monkeypatch.setattr(
        plugin,
        "metadata",
        SimpleNamespace(
            packages_distributions=lambda: modules, version=version, PackageNotFoundError=metadata.PackageNotFoundError
        ),
    )


@pytest.mark.parametrize("dist", ["tensorflow-macos", "tensorflow-intel", "tf-nightly", "tensorflow-cpu"])
def test_the_tensorflow_version_comes_from_the_distribution_that_provides_the_module(monkeypatch, dist):
    fake_installed(monkeypatch, {dist: ("2.99.1", ["tensorflow"]), "keras": ("3.9.0", ["keras"])})
    assert plugin._module_version("tensorflow") == f"2.99.1 ({dist})"


def test_distribution_names_are_normalised_and_a_cpu_build_is_the_cpu_device(pytester, monkeypatch):
    fake_installed(monkeypatch, {"tensorflow_cpu": ("2.21.0", ["tensorflow"])})  # as the 2.21 wheel spells it
    assert plugin._module_version("tensorflow") == "2.21.0 (tensorflow-cpu)"
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    assert "device cpu," in next(line for line in result.outlines if line.startswith("featviz: "))


def test_a_plain_tensorflow_shows_its_bare_version_and_an_absent_one_is_not_installed(monkeypatch):
    fake_installed(monkeypatch, {"tensorflow": ("2.18.0", ["tensorflow"])})
    assert plugin._module_version("tensorflow") == "2.18.0"
    fake_installed(monkeypatch, {"keras": ("3.9.0", ["keras"])})
    assert plugin._module_version("tensorflow") == "not installed"


def test_the_header_shows_the_macos_build_and_its_device(pytester, monkeypatch):
    fake_installed(
        monkeypatch,
        {
            "tensorflow-macos": ("2.16.2", ["tensorflow"]),
            "keras": ("3.3.3", ["keras"]),
            "scikit-image": ("0.23.2", ["skimage"]),
        },
    )
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    header = next(line for line in result.outlines if line.startswith("featviz: "))
    assert "tensorflow 2.16.2 (tensorflow-macos), keras 3.3.3, scikit-image 0.23.2" in header
    assert "device cpu/gpu (tensorflow)" in header
