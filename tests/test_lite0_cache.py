"""The lite0 catalogue entries through the real runner: the feature cache recognises the model.

A tiny cats-vs-dogs-shaped image folder (train/ and test/, two class folders of PNGs) made by
the test stands in for the photos; the base is random (``lite0-random-cats-dogs``), so no
optional package is needed.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from zoo.errors import IncompatibleError

SMALL = ["dataset.image_size=[40, 40]", "architecture.dense_units=8", "batch_size=4", "epochs=2"]


@pytest.fixture
def tiny_photos(tmp_path: Path) -> Path:
    """``train/{cat,dog}`` with 5 PNGs each and ``test/{cat,dog}`` with 3 each, 48×48 RGB."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "tiny-cats-dogs"
    for split, count in (("train", 5), ("test", 3)):
        for label, (cls, tint) in enumerate((("cat", (200, 80, 60)), ("dog", (60, 90, 200)))):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(-50, 50, (48, 48, 3))
                pixels = np.clip(np.array(tint) + noise, 0, 255).astype("uint8")
                Image.fromarray(pixels).save(folder / f"{cls}.{i}.png")
    return root


def _entry(name: str, photos: Path, *overrides: str):
    from zoo.catalogue import load_catalogue

    catalogue = load_catalogue()
    return catalogue.resolve(name, [f"dataset.data_dir={photos}", *SMALL, *overrides]), catalogue.registry


def test_lite0_entries_ask_for_the_cache_and_their_model_fits_it(tiny_photos: Path) -> None:
    from zoo import runner
    from zoo.catalogue import load_catalogue
    from zoo.frozen_base import split_frozen_base

    for name in ("lite0-transfer-cats-dogs", "lite0-random-cats-dogs", "lite0-transfer-horses", "lite0-random-horses"):
        assert load_catalogue().resolve(name).recipe.feature_cache, name
    entry, registry = _entry("lite0-random-cats-dogs", tiny_photos)
    model = runner.build_model(entry, registry)
    parts = split_frozen_base(model)
    assert parts is not None, [layer.name for layer in model.layers]
    base, head = parts
    assert base.output.shape[1:] == (2, 2, 1280)  # top_activation at 40×40
    assert base.trainable_weights == [] and head.trainable_weights


@pytest.mark.slow
def test_lite0_trains_its_head_on_cached_features(tiny_photos: Path, zoo_env: Path, caplog: pytest.LogCaptureFixture) -> None:
    import h5py
    import keras

    from zoo import runner

    entry, registry = _entry("lite0-random-cats-dogs", tiny_photos)
    keras.backend.clear_session()
    caplog.set_level(logging.INFO, logger="zoo")
    cached = runner.train(entry, registry, verbose=0).result
    err = caplog.text
    # validation_split = 0.2 holds 2 of train's 10 out; the test/ folder is the test split.
    assert "feature cache stored for train: 8 examples" in err, err
    assert "feature cache stored for validation: 2 examples" in err, err
    assert "feature cache stored for test: 6 examples" in err, err
    files = sorted((zoo_env / "cache" / "features").glob("*.h5"))
    assert len(files) == 3
    with h5py.File(files[0], "r") as f:
        assert f["features"].shape[1:] == (2, 2, 1280)
        assert "cats_vs_dogs" in f.attrs["facts"]

    # Second run: read from the cache, the same head training.
    keras.backend.clear_session()
    caplog.clear()
    again = runner.train(entry, registry, verbose=0, save=False).result
    assert "feature cache hit for train" in caplog.text
    np.testing.assert_allclose(again.history["loss"], cached.history["loss"], rtol=1e-5)

    # Without the cache (the full forward pass every epoch) the numbers are the same.
    keras.backend.clear_session()
    caplog.clear()
    full_entry, _ = _entry("lite0-random-cats-dogs", tiny_photos, "feature_cache=false")
    full = runner.train(full_entry, registry, verbose=0, save=False).result
    assert "feature cache" not in caplog.text
    np.testing.assert_allclose(full.history["loss"], cached.history["loss"], rtol=1e-3)
    np.testing.assert_allclose(full.history["val_loss"], cached.history["val_loss"], rtol=1e-3)

    # The saved model (base + trained head) reads raw photos and gives the head's numbers.
    reloaded = runner.evaluate(entry, registry)
    assert reloaded["test"]["loss"] == pytest.approx(cached.metrics["test"]["loss"], rel=1e-3)


def test_a_trainable_base_with_the_cache_is_refused_saying_why(tiny_photos: Path) -> None:
    import keras


    keras.backend.clear_session()
    with pytest.raises(IncompatibleError, match="no train_head phase: a trainable base.*set feature_cache = false"):
        _entry("lite0-random-cats-dogs", tiny_photos, "architecture.trainable=true")
