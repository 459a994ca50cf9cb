"""The catalogue: TOML files, layering, extends, --set, provenance and validation."""
from __future__ import annotations

from pathlib import Path

import pytest

import zoo
from zoo.catalogue import Catalogue, parse_value
from zoo.errors import CatalogueError, ConflictError, IncompatibleError, UnknownNameError
from zoo.plugins import load_plugins
from zoo.registry import collect


def no_build(*args, **kwargs):
    raise AssertionError("not called")


class Parts:
    """A plugin with one part of each kind and a shipped catalogue written by the test."""

    def __init__(self, catalogue: Path | None = None):
        self.catalogue = catalogue

    @zoo.hookimpl
    def register_architectures(self, register):
        register("mlp", no_build, params={"units": 128, "layers": 1})
        register("tiny-cnn", no_build, params={"filters": 8}, tasks=("binary", "multiclass"),
                 accepts=lambda shape, n, task, **p: None if len(shape) == 3 and min(shape[:2]) >= 8
                 else f"needs an image of at least 8x8, got {shape}")

    @zoo.hookimpl
    def register_datasets(self, register):
        register("digits", lambda **p: {}, task="multiclass", input_shape=(8, 8, 1), num_classes=10,
                 params={"data_dir": None})
        register("points", lambda **p: {}, task="regression", input_shape=(1,), num_classes=1)
        register("photos", lambda **p: {}, task="binary", num_classes=1, params={"image_size": [32, 32]},
                 input_shape=lambda image_size, **p: (*image_size, 3))

    @zoo.hookimpl
    def register_callbacks(self, register):
        register("stop", lambda threshold=0.9: None, params={"threshold": 0.9})

    @zoo.hookimpl
    def register_catalogues(self, register):
        if self.catalogue:
            register(self.catalogue)


BASE = """\
[entries.digits-mlp]
description = "an MLP on digits"
architecture = "mlp"
dataset = "digits"
callbacks = ["stop"]
epochs = 5
tags = ["small"]

[entries.digits-mlp-wide]
extends = "digits-mlp"
architecture.units = 512

[entries.digits-cnn]
dataset = "digits"
epochs = 3
[entries.digits-cnn.architecture]
name = "tiny-cnn"
filters = 16
"""


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    path = tmp_path / "shipped.toml"
    path.write_text(BASE)
    return path


def make(shipped: Path | None, *user: Path) -> Catalogue:
    pm, records = load_plugins(extra=[("parts", Parts(shipped))], entry_points=False)
    return Catalogue(collect(pm, records), user)


def test_entries_resolve_with_defaults_from_the_dataset_task(shipped):
    entry = make(shipped).resolve("digits-mlp")
    assert (entry.architecture.name, entry.dataset.name) == ("mlp", "digits")
    assert entry.recipe.epochs == 5 and entry.recipe.loss == "sparse_categorical_crossentropy"
    assert entry.recipe.metrics == ["accuracy"]
    assert entry.input_shape == (8, 8, 1) and entry.num_classes == 10 and entry.task == "multiclass"
    assert entry.sources["epochs"] == f"{shipped}:6"
    assert entry.sources["loss"] == "dataset task (multiclass)"


def test_extends_makes_variants_with_only_what_differs(shipped):
    entry = make(shipped).resolve("digits-mlp-wide")
    assert entry.architecture.params == {"units": 512}
    assert entry.recipe.epochs == 5 and [c.name for c in entry.callbacks] == ["stop"]
    assert entry.sources["architecture.units"] == f"{shipped}:11"
    assert entry.sources["epochs"] == f"{shipped}:6"


def test_metadata_belongs_to_its_entry_and_is_not_inherited(shipped, tmp_path):
    user = tmp_path / "m.toml"
    user.write_text('[entries.digits-mlp.metadata]\nmeasured = { test_accuracy = 0.9 }\n')
    catalogue = make(shipped, user)
    assert catalogue.resolve("digits-mlp").metadata == {"measured": {"test_accuracy": 0.9}}
    assert catalogue.resolve("digits-mlp-wide").metadata == {}  # a variant's results are its own


def test_table_form_of_a_part_and_its_line(shipped):
    entry = make(shipped).resolve("digits-cnn")
    assert entry.architecture.name == "tiny-cnn" and entry.architecture.params == {"filters": 16}
    assert entry.sources["architecture.filters"] == f"{shipped}:18"


def test_user_catalogue_overrides_fields_and_adds_entries(shipped, tmp_path):
    user = tmp_path / "mine.toml"
    user.write_text(
        '[entries.digits-mlp]\nepochs = 1\narchitecture.units = 64\n\n'
        '[entries.my-points]\narchitecture = "mlp"\ndataset = "points"\n'
    )
    catalogue = make(shipped, user)
    entry = catalogue.resolve("digits-mlp")
    assert entry.recipe.epochs == 1 and entry.architecture.name == "mlp"
    assert entry.architecture.params == {"units": 64}
    assert entry.sources["epochs"] == f"{user}:2"
    assert entry.description == "an MLP on digits"  # untouched fields stay
    # the variant built on the overridden entry sees the override too
    assert catalogue.resolve("digits-mlp-wide").recipe.epochs == 1
    points = catalogue.resolve("my-points")
    assert points.recipe.loss == "mean_squared_error" and points.recipe.metrics == ["mae"]


def test_user_catalogue_from_the_environment(shipped, tmp_path, monkeypatch):
    user = tmp_path / "env.toml"
    user.write_text("[entries.digits-cnn]\nbatch_size = 7\n")
    monkeypatch.setenv("ZOO_REGISTRY", str(user))
    assert make(shipped).resolve("digits-cnn").recipe.batch_size == 7


def test_set_overrides_win_and_are_typed(shipped):
    catalogue = make(shipped)
    entry = catalogue.resolve("digits-mlp", [
        "epochs=1", "architecture.units=512", "dataset.data_dir=../data", "callbacks.stop.threshold=0.5",
        "learning_rate=1e-3", "tags=[\"a\", \"b\"]",
    ])
    assert entry.recipe.epochs == 1 and entry.architecture.params == {"units": 512}
    assert entry.dataset.params == {"data_dir": "../data"}
    assert entry.callbacks[0].params == {"threshold": 0.5}
    assert entry.recipe.learning_rate == 0.001 and entry.tags == ["a", "b"]
    assert entry.sources["epochs"] == "--set epochs=1"
    # --set never leaks into the next resolution
    assert catalogue.resolve("digits-mlp").recipe.epochs == 5


def test_set_replaces_a_part_and_the_callback_list(shipped):
    entry = make(shipped).resolve("digits-mlp", ["architecture=tiny-cnn", "callbacks=[]"])
    assert entry.architecture.name == "tiny-cnn" and entry.callbacks == []


@pytest.mark.parametrize("override, message", [
    ("epoch=1", "unknown key 'epoch'.*did you mean 'epochs'"),
    ("architecture.unit=3", "unknown architecture 'mlp' param 'unit'.*did you mean 'units'"),
    ("callbacks.stopp.threshold=1", "unknown callback of this entry 'stopp'.*did you mean 'stop'"),
    ("epochs=many", "epochs must be int"),
    ("epochs=0", "epochs must be at least 1"),
    ("noequals", "expected KEY=VALUE"),
])
def test_bad_overrides_are_clear_errors(shipped, override, message):
    with pytest.raises((UnknownNameError, CatalogueError), match=message):
        make(shipped).resolve("digits-mlp", [override])


def test_unknown_entry_and_part_suggest_close_names(shipped, tmp_path):
    catalogue = make(shipped)
    with pytest.raises(UnknownNameError, match="did you mean 'digits-mlp'"):
        catalogue.resolve("digits-mpl")
    user = tmp_path / "typo.toml"
    user.write_text('[entries.typo]\narchitecture = "mlpp"\ndataset = "digits"\n')
    with pytest.raises(UnknownNameError, match=rf"unknown architecture 'mlpp' \(in {user}:2, entry 'typo'\); did you mean 'mlp'"):
        make(shipped, user).resolve("typo")


def test_malformed_toml_names_file_and_line(shipped, tmp_path):
    user = tmp_path / "broken.toml"
    user.write_text('[entries.x]\narchitecture = "mlp"\nepochs = = 3\n')
    with pytest.raises(CatalogueError, match=rf"{user}:3: malformed TOML"):
        make(shipped, user)


def test_a_broken_shipped_catalogue_fails_its_plugin_only(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[entries.x\n")
    catalogue = make(path)
    assert catalogue.names() == []
    assert catalogue.registry.plugin("parts").status == "failed"
    assert f"{path}:1" in catalogue.registry.plugin("parts").error


def test_missing_user_catalogue_is_named(shipped, tmp_path):
    with pytest.raises(CatalogueError, match="not found"):
        make(shipped, tmp_path / "nope.toml")


def test_unknown_field_in_a_file_is_caught_when_used(shipped, tmp_path):
    user = tmp_path / "u.toml"
    user.write_text('[entries.x]\narchitecture = "mlp"\ndataset = "digits"\nepoch = 3\n')
    catalogue = make(shipped, user)
    assert "x" in catalogue.names()  # listing still works
    with pytest.raises(UnknownNameError, match=rf"unknown field 'epoch' \(in {user}:4"):
        catalogue.resolve("x")


@pytest.mark.parametrize("fields, message", [
    ('architecture = "mlp"\ndataset = "digits"\nloss = "binary_crossentropy"', "one-unit sigmoid head.*10 classes"),
    ('architecture = "mlp"\ndataset = "photos"\nloss = "categorical_crossentropy"', "softmax head.*binary"),
    ('architecture = "tiny-cnn"\ndataset = "points"', "supports binary, multiclass.*regression"),
    ('architecture = "tiny-cnn"\ndataset = "photos"\ndataset.image_size = [4, 4]', "cannot take dataset 'photos'.*at least 8x8"),
])
def test_incompatible_pairs_are_reported_before_training(shipped, tmp_path, fields, message):
    user = tmp_path / "pair.toml"
    user.write_text(f"[entries.pair]\n{fields}\n".replace('dataset = "photos"\ndataset.image_size', 'dataset.name = "photos"\ndataset.image_size'))
    with pytest.raises(IncompatibleError, match=message) as info:
        make(shipped, user).resolve("pair")
    assert str(user) in str(info.value) and "'pair'" in str(info.value)


def test_input_shape_follows_dataset_params(shipped, tmp_path):
    user = tmp_path / "p.toml"
    user.write_text('[entries.p]\narchitecture = "tiny-cnn"\ndataset = { name = "photos", image_size = [16, 24] }\n')
    assert make(shipped, user).resolve("p").input_shape == (16, 24, 3)


def test_extends_cycle_and_unknown_parent(shipped, tmp_path):
    user = tmp_path / "c.toml"
    user.write_text('[entries.a]\nextends = "b"\n[entries.b]\nextends = "a"\n[entries.c]\nextends = "digits-mpl"\n')
    catalogue = make(shipped, user)
    with pytest.raises(CatalogueError, match="extends itself"):
        catalogue.resolve("a")
    with pytest.raises(UnknownNameError, match="did you mean 'digits-mlp'"):
        catalogue.resolve("c")


def test_the_same_entry_from_two_plugins_is_a_conflict(shipped, tmp_path):
    class Again:
        @zoo.hookimpl
        def register_entries(self, register):
            register("digits-mlp", architecture="mlp", dataset="digits")

    pm, records = load_plugins(extra=[("parts", Parts(shipped)), ("again", Again())], entry_points=False)
    catalogue = Catalogue(collect(pm, records))
    with pytest.raises(CatalogueError, match="defined twice.*plugin again"):
        catalogue.resolve("digits-mlp")


def test_list_filters_like_timm(shipped):
    catalogue = make(shipped)
    assert [r["name"] for r in catalogue.list(["digits-mlp*"])] == ["digits-mlp", "digits-mlp-wide"]
    assert [r["name"] for r in catalogue.list(tag="small")] == ["digits-mlp", "digits-mlp-wide"]
    assert [r["name"] for r in catalogue.list(["digits-*"], exclude=["*-wide"])] == ["digits-cnn", "digits-mlp"]
    assert catalogue.expand(["digits-c*", "digits-mlp"]) == ["digits-cnn", "digits-mlp"]
    with pytest.raises(UnknownNameError):
        catalogue.expand(["nothing-*"])


def test_conflicting_part_is_reported_when_used(shipped):
    class Clash:
        @zoo.hookimpl
        def register_architectures(self, register):
            register("mlp", no_build)

    pm, records = load_plugins(extra=[("parts", Parts(shipped)), ("clash", Clash())], entry_points=False)
    with pytest.raises(ConflictError, match="'clash' and 'parts'"):
        Catalogue(collect(pm, records)).resolve("digits-mlp")


@pytest.mark.parametrize("text, value", [("1", 1), ("0.5", 0.5), ("true", True), ('["a"]', ["a"]),
                                         ("../data", "../data"), ("adam", "adam"), ("[100, 100]", [100, 100])])
def test_set_values_parse_as_toml_or_string(text, value):
    assert parse_value(text) == value


def test_the_packaged_catalogue_resolves_hello_dense():
    from zoo.catalogue import load_catalogue

    entry = load_catalogue().resolve("hello-dense")
    assert entry.recipe.optimizer == "sgd" and entry.recipe.epochs == 500
    assert entry.sources["epochs"].endswith("registry.toml:20")
