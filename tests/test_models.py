"""The course's models as catalogue entries: listing, recipes, heads, variants, one-epoch training."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from click.testing import CliRunner

from test_models_tinydata import tiny_catalogue
from zoo.errors import IncompatibleError

COURSE_ENTRIES = {
    "fashion-dense", "fashion-dense-512", "fashion-dense-2layer", "fashion-cnn", "fashion-cnn-32",
    "horse-human-convnet", "horse-human-convnet-augmented", "inception-transfer", "inception-transfer-cats-dogs",
}
PLUGIN_MODULES = ("zoo_plugins.fashion", "zoo_plugins.convnets", "zoo_plugins.transfer", "zoo_plugins.callbacks",
                  "zoo_plugins.model_parts", "zoo.feature_cache")


def test_plugin_modules_and_listing_stay_tensorflow_free():
    code = (
        "import sys\n"
        f"for m in {PLUGIN_MODULES!r}: __import__(m)\n"
        "from zoo.registry import get_registry\nfrom zoo.catalogue import load_catalogue\n"
        "cat = load_catalogue(get_registry())\n"
        "assert {'mlp', 'cnn', 'convnet', 'inception-v3'} <= set(cat.registry.architectures), cat.registry.architectures\n"
        "cat.list()\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'numpy', 'h5py') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_zoo_list_shows_every_course_entry_and_variant():
    from zoo.cli import cli

    result = CliRunner().invoke(cli, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert COURSE_ENTRIES <= set(rows)
    assert rows["fashion-cnn-32"]["architecture"] == "cnn"
    assert rows["inception-transfer-cats-dogs"]["dataset"] == "cats_vs_dogs"


def test_entries_carry_the_course_recipes():
    cat = tiny_catalogue()
    dense = cat.resolve("fashion-dense")
    assert (dense.architecture.name, dense.recipe.optimizer, dense.recipe.epochs) == ("mlp", "adam", 5)
    assert dense.recipe.loss == "sparse_categorical_crossentropy" and dense.num_classes == 10
    convnet = cat.resolve("horse-human-convnet")
    assert convnet.input_shape == (300, 300, 3) and convnet.task == "binary"
    assert (convnet.recipe.optimizer, convnet.recipe.learning_rate, convnet.recipe.epochs) == ("rmsprop", 0.001, 15)
    assert convnet.recipe.loss == "binary_crossentropy"
    transfer = cat.resolve("inception-transfer")
    assert transfer.input_shape == (150, 150, 3) and transfer.recipe.learning_rate == 1e-4
    assert transfer.recipe.feature_cache is True
    # Variants change only what the course's explorations change.
    assert cat.resolve("fashion-dense-512").architecture.params == {"units": 512}
    assert cat.resolve("fashion-dense-2layer").architecture.params == {"hidden_layers": 2}
    assert cat.resolve("fashion-cnn-32").architecture.params == {"filters": 32}
    augmented = cat.resolve("horse-human-convnet-augmented")
    assert augmented.dataset.params["augment"] is True and augmented.dataset.params["image_size"] == [300, 300]
    assert augmented.recipe.learning_rate == 0.001
    cats = cat.resolve("inception-transfer-cats-dogs")
    assert cats.dataset.name == "cats_vs_dogs" and cats.architecture.params["cut_layer"] == "mixed7"


def test_accepts_rejects_inputs_too_small_before_training():
    cat = tiny_catalogue()
    with pytest.raises(IncompatibleError, match="too small for 5 conv"):
        cat.resolve("horse-human-convnet", ["dataset.image_size=[64, 64]"])
    with pytest.raises(IncompatibleError, match="at least 75"):
        cat.resolve("inception-transfer", ["dataset.image_size=[64, 64]"])
    with pytest.raises(IncompatibleError, match="RGB"):
        cat.resolve("inception-transfer", ["dataset.color_mode=grayscale"])
    with pytest.raises(IncompatibleError, match="units lists 3 values for 2"):
        cat.resolve("fashion-dense-2layer", ["architecture.units=[64, 32, 16]"])
    # 100×100 (the shared derived copy) leaves 1×1 after five blocks: accepted.
    assert cat.resolve("horse-human-convnet", ["dataset.image_size=[100, 100]"]).input_shape == (100, 100, 3)


@pytest.mark.parametrize(
    ("task", "classes", "units", "activation"),
    [("multiclass", 10, 10, "softmax"), ("binary", 1, 1, "sigmoid"), ("regression", 1, 1, "linear")],
)
def test_the_dataset_task_picks_the_head(task, classes, units, activation):
    from zoo_plugins.convnets import build_convnet
    from zoo_plugins.fashion import build_cnn, build_mlp

    for model in (build_mlp((28, 28, 1), classes, task), build_cnn((28, 28, 1), classes, task),
                  build_convnet((96, 96, 3), classes, task, dense_units=8)):
        out = model.layers[-1]
        assert out.units == units and out.activation.__name__ == activation
        assert model.output_shape == (None, units)


def test_architecture_params_shape_the_layers():
    import keras

    from zoo_plugins.convnets import build_convnet
    from zoo_plugins.fashion import build_cnn, build_mlp

    def kinds(model, cls):
        return [layer for layer in model.layers if isinstance(layer, cls)]

    assert [d.units for d in kinds(build_mlp((28, 28, 1), 10, "multiclass"), keras.layers.Dense)] == [128, 10]
    assert [d.units for d in kinds(build_mlp((28, 28, 1), 10, "multiclass", units=512), keras.layers.Dense)] == [512, 10]
    assert [d.units for d in kinds(build_mlp((28, 28, 1), 10, "multiclass", hidden_layers=2), keras.layers.Dense)] == [128, 128, 10]
    assert [c.filters for c in kinds(build_cnn((28, 28, 1), 10, "multiclass"), keras.layers.Conv2D)] == [64, 64]
    assert [c.filters for c in kinds(build_cnn((28, 28, 1), 10, "multiclass", filters=32), keras.layers.Conv2D)] == [32, 32]
    convnet = build_convnet((300, 300, 3), 1, "binary")
    assert [c.filters for c in kinds(convnet, keras.layers.Conv2D)] == [16, 32, 64, 64, 64]
    assert len(kinds(convnet, keras.layers.MaxPooling2D)) == 5
    assert [d.units for d in kinds(convnet, keras.layers.Dense)] == [512, 1]
    # The course's model.summary(): 300×300 → 298 → 149 → … → 7×7×64 after five blocks.
    assert convnet.get_layer("pool5").output.shape[1:] == (7, 7, 64)
    assert len(kinds(build_convnet((300, 300, 3), 1, "binary", conv_blocks=3), keras.layers.Conv2D)) == 3


TRAIN_CASES = [
    ("fashion-dense", []),
    ("fashion-dense-512", []),
    ("fashion-dense-2layer", []),
    ("fashion-cnn", []),
    ("fashion-cnn-32", []),
    ("horse-human-convnet", []),
    ("horse-human-convnet-augmented", ["dataset.image_size=[100, 100]"]),
]


@pytest.mark.parametrize(("name", "overrides"), TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_each_entry_trains_one_epoch_saves_and_reloads_safely(name, overrides, zoo_env):
    import keras

    from zoo import runner

    keras.backend.clear_session()
    cat = tiny_catalogue()
    entry = cat.resolve(name, ["epochs=1", "batch_size=8", *overrides])
    result = runner.train(entry, cat.registry, verbose=0).result
    assert result.epochs == 1 and len(result.history["loss"]) == 1
    # A fresh model's first epoch is near chance (ln 10 for 10 classes, ln 2 for one sigmoid):
    # not NaN or inf, and not blown up by a broken recipe (learning rate, loss, head).
    chance = math.log(max(entry.num_classes, 2))
    assert math.isfinite(result.history["loss"][0]) and 0 < result.history["loss"][0] < 1.5 * chance, result.history
    assert "accuracy" in result.history
    folder = zoo_env / "models" / name
    for artefact in ("model.keras", "model.weights.h5", "history.json", "metrics.json", "curves.png"):
        assert (folder / artefact).stat().st_size > 0, artefact
    assert json.loads((folder / "history.json").read_text())["loss"] == result.history["loss"]
    # Re-loaded in Keras safe mode, the saved model gives the metrics the trained one gave.
    reloaded = runner.evaluate(entry, cat.registry)
    # Every split is scored on plain images, augmented entries' train split included.
    assert set(reloaded) == set(result.metrics)
    for split in result.metrics:
        values = result.metrics[split]
        assert reloaded[split]["loss"] == pytest.approx(values["loss"], rel=1e-4, abs=1e-6)
        assert reloaded[split]["accuracy"] == pytest.approx(values["accuracy"])


def test_fashion_cnn_learns_the_tiny_patterns():
    """A few epochs on learnable patterns take the CNN well above chance (10%)."""
    import keras

    from zoo import runner

    keras.backend.clear_session()
    cat = tiny_catalogue()
    entry = cat.resolve("fashion-cnn", ["epochs=8", "batch_size=8", "dataset.examples=80"])
    result = runner.train(entry, cat.registry, verbose=0, save=False).result
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.metrics["test"]["accuracy"] >= 0.5
