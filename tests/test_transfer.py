"""InceptionV3 transfer: weights loading, the HDF5 feature cache, fine-tuning.

Inputs are 75×75 (InceptionV3's smallest) so the base runs in well under a second per batch.
No ImageNet weights exist on these machines: a weights file written by the test stands in for
the course's ``local_weights_file``.
"""
from __future__ import annotations

import warnings
import logging
from pathlib import Path

import pytest

from test_models_tinydata import tiny_catalogue
from zoo.errors import DataError, IncompatibleError, ZooWarning

SMALL = ["dataset.image_size=[75, 75]", "architecture.dense_units=16", "batch_size=8"]


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real InceptionV3 (no top) weights file, seeded so it differs from a fresh build."""
    import keras

    keras.utils.set_random_seed(123)
    model = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(75, 75, 3))
    path = tmp_path_factory.mktemp("weights") / "inception_v3_notop.weights.h5"
    model.save_weights(path)
    keras.backend.clear_session()
    return path


def _first_conv_kernel(model):
    import keras
    import numpy as np

    from zoo.frozen_base import flat_layers

    layers = flat_layers(model)
    conv = next(layer for layer in layers if isinstance(layer, keras.layers.Conv2D))
    return np.asarray(conv.kernel)


def test_local_weights_file_is_loaded_into_the_base(weights_file):
    import h5py
    import keras
    import numpy as np

    from zoo_plugins.transfer import build_inception_transfer

    keras.utils.set_random_seed(7)
    model = build_inception_transfer((75, 75, 3), 1, "binary", weights=str(weights_file), dense_units=8)
    with h5py.File(weights_file, "r") as f:  # the first conv kernel as stored in the file
        stored = f["layers/conv2d/vars/0"][...]
    np.testing.assert_array_equal(_first_conv_kernel(model.get_layer("base")), stored)
    unseeded = build_inception_transfer((75, 75, 3), 1, "binary", weights="none", dense_units=8)
    assert not np.array_equal(_first_conv_kernel(unseeded.get_layer("base")), stored)
    # Frozen base, trainable head: only Dense weights train.
    assert model.get_layer("base").trainable_weights == []
    assert {w.path.split("/")[1] for w in model.trainable_weights} == {"hidden", "output"}
    assert model.get_layer("base").output.shape[1:] == (3, 3, 768)  # mixed7 at 75×75


def test_missing_corrupt_and_unreachable_weights_are_clear_errors(tmp_path, monkeypatch):
    from zoo_plugins.transfer import build_inception_transfer

    with pytest.raises(DataError, match="not found"):
        build_inception_transfer((75, 75, 3), 1, weights=str(tmp_path / "nope.weights.h5"))
    corrupt = tmp_path / "corrupt.weights.h5"
    corrupt.write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.raises(DataError, match=r"corrupt\.weights\.h5 cannot be loaded"):
        build_inception_transfer((75, 75, 3), 1, weights=str(corrupt))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))  # an empty Keras cache
    with pytest.raises(DataError, match="ZOO_OFFLINE=1 forbids downloading"):
        build_inception_transfer((75, 75, 3), 1, weights="imagenet")


def test_wrong_weights_file_is_a_clear_error(tmp_path):
    import keras

    from zoo_plugins.transfer import build_inception_transfer

    other = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(other)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataError, match="other.weights.h5 cannot be loaded into InceptionV3"):
            build_inception_transfer((75, 75, 3), 1, weights=str(other))
    # Keras warns once per skipped layer group (dozens) before it raises; zoo's error replaces them.
    assert not [w for w in caught if "Skipping" in str(w.message)]


class _Loadable:
    """Something with Keras's ``load_weights`` signature that warns, then fails or not."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def load_weights(self, path: str) -> None:
        warnings.warn(f"Skipping a group of {path}", UserWarning, stacklevel=2)
        if self.fail:
            raise ValueError("does not fit")


def test_weight_loading_keeps_warnings_of_a_load_that_works_and_drops_those_of_one_that_fails():
    from zoo_plugins.model_parts import load_weights_or_raise

    with pytest.warns(UserWarning, match="Skipping a group of w.h5"):
        load_weights_or_raise(_Loadable(fail=False), "w.h5", RuntimeError)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataError, match="w.h5: does not fit") as raised:
            load_weights_or_raise(_Loadable(fail=True), "w.h5", lambda exc: DataError(f"w.h5: {exc}"))
    assert not caught and isinstance(raised.value.__cause__, ValueError)


def test_unknown_cut_or_fine_tune_layer_is_reported_by_the_runner():
    import keras

    from zoo import runner

    keras.backend.clear_session()
    cat = tiny_catalogue()
    entry = cat.resolve("inception-transfer", [*SMALL, "architecture.weights=none", "architecture.cut_layer=mixed77"])
    with pytest.raises(IncompatibleError, match="cut_layer 'mixed77' is not a layer of InceptionV3; e.g. mixed0"):
        runner.build_model(entry, cat.registry)


def _features_files(home: Path) -> list[Path]:
    return sorted((home / "cache" / "features").glob("*.h5"))


@pytest.mark.slow
def test_feature_cache_trains_the_head_on_cached_features_with_matching_results(weights_file, zoo_env, caplog):
    import h5py
    import keras
    import numpy as np

    from zoo import runner

    cat = tiny_catalogue()
    # XLA off for both ways: this compares cached with full, not XLA's rounding with oneDNN's.
    overrides = [*SMALL, f"architecture.weights={weights_file}", "architecture.cut_layer=mixed2", "epochs=2",
                 "jit_compile=false"]
    keras.backend.clear_session()
    caplog.set_level(logging.INFO, logger="zoo")
    cached = runner.train(cat.resolve("inception-transfer", overrides), cat.registry, verbose=0).result
    files = _features_files(zoo_env)
    assert len(files) == 2  # train and validation
    with h5py.File(files[0], "r") as f:
        assert f["features"].shape[1:] == (7, 7, 288) and f["features"].shape[0] in (16, 8)
        assert len(f["labels"]) == f["features"].shape[0] and "horse_or_human" in f.attrs["facts"]
    assert "feature cache stored for train" in caplog.text
    stamps = [f.stat().st_mtime_ns for f in files]

    # A second run reads the cache (nothing recomputed) and trains the same head.
    keras.backend.clear_session()
    caplog.clear()
    again = runner.train(cat.resolve("inception-transfer", overrides), cat.registry, verbose=0).result
    assert "feature cache hit for train" in caplog.text
    assert [f.stat().st_mtime_ns for f in _features_files(zoo_env)] == stamps
    np.testing.assert_allclose(again.history["loss"], cached.history["loss"], rtol=1e-5)

    # The same recipe without the cache (full forward pass every epoch) gives the same results.
    keras.backend.clear_session()
    caplog.clear()
    full = runner.train(cat.resolve("inception-transfer", [*overrides, "feature_cache=false"]), cat.registry,
                        verbose=0, save=False).result
    np.testing.assert_allclose(full.history["loss"], cached.history["loss"], rtol=1e-3)
    np.testing.assert_allclose(full.history["val_loss"], cached.history["val_loss"], rtol=1e-3)
    assert full.params_total == cached.params_total

    # The saved model is base + trained head: it loads in safe mode and reads raw images, with
    # the head's trained optimizer state (no "Skipping variable loading for optimizer" warning).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reloaded = runner.evaluate(cat.resolve("inception-transfer", overrides), cat.registry)
    assert not [w for w in caught if "optimizer" in str(w.message)], [str(w.message) for w in caught]
    for split in ("train", "validation"):
        assert reloaded[split]["loss"] == pytest.approx(cached.metrics[split]["loss"], rel=1e-3)


@pytest.mark.slow
def test_augmentation_turns_the_feature_cache_off(zoo_env):
    import keras

    from zoo import runner

    keras.backend.clear_session()
    cat = tiny_catalogue()
    entry = cat.resolve("inception-transfer", [*SMALL, "architecture.weights=none", "architecture.cut_layer=mixed2",
                                               "epochs=1", "dataset.augment=true"])
    with pytest.warns(ZooWarning, match="feature cache off"):
        result = runner.train(entry, cat.registry, verbose=0, save=False).result
    assert result.epochs == 1
    assert _features_files(zoo_env) == []


def test_feature_cache_needs_a_frozen_base():
    import keras


    keras.backend.clear_session()
    cat = tiny_catalogue()
    with pytest.raises(IncompatibleError, match="feature_cache = true.*'mlp' trains in fit here"):
        cat.resolve("fashion-dense", ["epochs=1", "feature_cache=true"])


def test_cache_key_follows_base_weights_and_data():
    from zoo.feature_cache import cache_key

    cat = tiny_catalogue()
    entry = cat.resolve("inception-transfer", SMALL)
    key, facts = cache_key("digest-a", entry, cat.registry, "train")
    assert facts["dataset_params"]["image_size"] == [75, 75]
    assert cache_key("digest-a", entry, cat.registry, "train")[0] == key
    assert cache_key("digest-b", entry, cat.registry, "train")[0] != key
    assert cache_key("digest-a", entry, cat.registry, "validation")[0] != key
    other = cat.resolve("inception-transfer", [*SMALL, "dataset.examples=12"])
    assert cache_key("digest-a", other, cat.registry, "train")[0] != key


@pytest.mark.slow
def test_fine_tune_from_unfreezes_the_top_of_the_base_for_a_second_phase(weights_file, zoo_env):
    import keras
    import numpy as np

    from zoo import artifacts, runner
    from zoo.frozen_base import flat_layers

    keras.backend.clear_session()
    cat = tiny_catalogue()
    entry = cat.resolve("inception-transfer", [
        *SMALL, f"architecture.weights={weights_file}", "epochs=1", "architecture.cut_layer=mixed2",
        "architecture.fine_tune_from=mixed1",
        "architecture.fine_tune_epochs=1", "architecture.fine_tune_learning_rate=0.001",
    ])
    result = runner.train(entry, cat.registry, verbose=0).result
    assert result.epochs == 2 and len(result.history["loss"]) == 2  # head phase + fine-tune phase
    initial = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(75, 75, 3))
    initial.load_weights(weights_file)
    tuned = artifacts.load_model(entry.name).get_layer("base")
    # Layer names are auto-numbered per process, so pair the convolutions by position.
    names = [layer.name for layer in flat_layers(tuned)]
    cut = names.index("mixed1")
    convs = [(i, layer) for i, layer in enumerate(flat_layers(tuned)) if isinstance(layer, keras.layers.Conv2D)]
    originals = [layer for layer in initial.layers if isinstance(layer, keras.layers.Conv2D)]
    pairs = [(i, np.asarray(layer.kernel), np.asarray(original.kernel)) for (i, layer), original in zip(convs, originals)]
    below = [np.array_equal(now, then) for i, now, then in pairs if i < cut]
    above = [np.array_equal(now, then) for i, now, then in pairs if i > cut]
    assert below and above
    assert all(below), "layers before fine_tune_from must stay frozen"
    assert not any(above), "layers from fine_tune_from on must have trained"
