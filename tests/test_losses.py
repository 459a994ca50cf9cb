"""label_smoothing: the recipe field, its checks, and zoo's smoothed sparse cross-entropy."""
from __future__ import annotations

import numpy as np
import pytest

from zoo.catalogue import load_catalogue
from zoo.errors import CatalogueError, IncompatibleError
from zoo.metrics import LABEL_SMOOTHING_LOSSES


def _probabilities(rows: int = 6, classes: int = 4) -> np.ndarray:
    logits = np.random.default_rng(0).normal(size=(rows, classes)).astype("float32")
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("label_shape", [(6,), (6, 1)])
def test_smoothed_sparse_loss_matches_keras_on_one_hot_labels(label_shape):
    import keras

    from zoo.losses import SparseCategoricalCrossentropy

    probs = _probabilities()
    labels = np.array([0, 3, 1, 2, 3, 0])
    one_hot = np.eye(4, dtype="float32")[labels]
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(one_hot, probs)
    got = SparseCategoricalCrossentropy(label_smoothing=0.1)(labels.reshape(label_shape), probs)
    np.testing.assert_allclose(float(got), float(expected), rtol=1e-6)
    unsmoothed = keras.losses.SparseCategoricalCrossentropy()(labels, probs)
    np.testing.assert_allclose(float(SparseCategoricalCrossentropy()(labels, probs)), float(unsmoothed), rtol=1e-6)
    assert float(got) > float(unsmoothed)  # smoothing pulls confident predictions' loss up here


def test_every_smoothable_loss_name_has_a_class():
    from zoo.losses import SMOOTHING_LOSSES, make_loss

    assert set(SMOOTHING_LOSSES) == set(LABEL_SMOOTHING_LOSSES)
    assert make_loss("sparse_categorical_crossentropy") == "sparse_categorical_crossentropy"
    for name in LABEL_SMOOTHING_LOSSES:
        assert make_loss(name, 0.2).label_smoothing == pytest.approx(0.2)


def test_label_smoothing_is_checked_in_the_catalogue():
    catalogue = load_catalogue()
    assert catalogue.resolve("fashion-cnn", ["label_smoothing=0.1"]).recipe.label_smoothing == 0.1
    assert catalogue.resolve("fashion-cnn").recipe.label_smoothing == 0.0
    with pytest.raises(CatalogueError, match=r"--set.*label_smoothing must be in \[0, 1\), got 1.5"):
        catalogue.resolve("fashion-cnn", ["label_smoothing=1.5"])
    with pytest.raises(IncompatibleError, match="label_smoothing needs a cross-entropy loss .* not 'mean_squared_error'"):
        catalogue.resolve("hello-dense", ["label_smoothing=0.1"])


def test_a_model_compiled_with_smoothing_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    from zoo.compiling import compile_model

    entry = load_catalogue().resolve("fashion-dense", ["label_smoothing=0.1"])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    compile_model(model, entry, steps=2)
    x = np.random.default_rng(0).random((8, 28, 28)).astype("float32")
    y = np.arange(8) % 10
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.loss.label_smoothing == pytest.approx(0.1)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0, return_dict=True)["loss"],
                               model.evaluate(x, y, verbose=0, return_dict=True)["loss"], rtol=1e-5)
