"""Image-folder datasets: labels from folders, bad files, grey→RGB, splits, augmentation,
safe extraction, and the real horse-or-human / cats-vs-dogs copies when present."""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from zoo_plugins import image_data
from zoo_plugins.data_sources import cache_root, safe_extract
from zoo_plugins.image_data import (
    check_image_file,
    load_image_folder,
    load_image_folder_binary,
    make_augment,
    scan_folder,
)

from zoo.errors import DataError


def save(path: Path, value: int, mode: str = "L", size: tuple[int, int] = (12, 10), fmt: str = "PNG") -> Path:
    """An image of mean ``value`` with a left-right ramp, so that geometric transforms show."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ramp = np.clip(value + np.linspace(-8, 8, size[0])[None, :] * np.ones((size[1], 1)), 0, 255).astype(np.uint8)
    image = Image.fromarray(ramp, "L") if mode == "L" else Image.fromarray(np.stack([ramp, ramp // 2, 255 - ramp], -1))
    image.save(path, fmt)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """root/train/{cats,dogs} (3 + 2 grey PNG/JPEG images) and root/validation/{cats,dogs}."""
    root = tmp_path / "pets"
    for split, n in (("train", 3), ("validation", 1)):
        for i in range(n):
            save(root / split / "cats" / f"c{i}.png", 40)
            save(root / split / "dogs" / f"d{i}.jpg", 200, fmt="JPEG") if i < max(1, n - 1) else None
    return root


def test_check_image_file_catches_non_images_and_truncation(tmp_path):
    good = save(tmp_path / "a.png", 10)
    assert check_image_file(good) is None
    assert check_image_file(save(tmp_path / "b.jpg", 10, fmt="JPEG")) is None
    (tmp_path / "notes.txt").write_text("hello")
    assert "not an image file" in check_image_file(tmp_path / "notes.txt")
    (tmp_path / "fake.png").write_text("hello")
    assert "unknown file signature" in check_image_file(tmp_path / "fake.png")
    (tmp_path / "empty.png").write_bytes(b"")
    assert check_image_file(tmp_path / "empty.png") == "empty file"
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:-20])
    assert "truncated PNG" in check_image_file(cut)
    jpeg = (tmp_path / "b.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    assert "truncated JPEG" in check_image_file(tmp_path / "cut.jpg")


def test_folder_names_are_labels_and_bad_files_are_skipped_with_their_path(folder):
    bad = folder / "train" / "cats" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "train" / "dogs" / "README.txt").write_text("not an image")
    with pytest.warns(UserWarning) as caught:
        scan = scan_folder(folder / "train")
    messages = " ".join(str(w.message) for w in caught)
    assert str(bad) in messages and "README.txt" in messages
    assert scan.class_names == ["cats", "dogs"] and scan.counts() == {"cats": 3, "dogs": 2}
    with pytest.raises(DataError, match=str(bad)):
        scan_folder(folder / "train", on_bad_file="error")


def test_loader_splits_labels_and_grey_to_rgb(folder):
    splits = load_image_folder(data_dir=str(folder), image_size=[8, 8], color_mode="rgb")
    train, validation = splits["train"], splits["validation"]
    assert train.class_names == ["cats", "dogs"] and int(train.cardinality()) == 5
    images, labels = zip(*train.as_numpy_iterator())
    assert images[0].shape == (8, 8, 3) and images[0].dtype == np.float32
    np.testing.assert_allclose(images[0][..., 0], images[0][..., 2])  # grey source → equal channels
    assert abs(float(images[0].mean()) - 40 / 255) < 0.02
    assert sorted(int(v) for v in labels) == [0, 0, 0, 1, 1]
    assert int(validation.cardinality()) == 2
    assert "augment" not in splits


def test_label_modes_and_greyscale(folder):
    binary = load_image_folder_binary(data_dir=str(folder / "train"), image_size=[6, 6], label_mode="binary",
                                      color_mode="grayscale")
    x, y = next(binary["train"].as_numpy_iterator())
    assert x.shape == (6, 6, 1) and y.shape == (1,) and y.dtype == np.float32
    categorical = load_image_folder(data_dir=str(folder / "train"), image_size=[6, 6], label_mode="categorical")
    _, y = next(categorical["train"].as_numpy_iterator())
    assert y.shape == (2,) and y.sum() == 1.0
    assert "validation" not in binary
    with pytest.raises(DataError, match="label_mode"):
        load_image_folder(data_dir=str(folder), label_mode="sparse")
    with pytest.raises(DataError, match="use image_folder_binary"):
        load_image_folder(data_dir=str(folder), label_mode="binary")


def test_validation_split_is_seeded_and_disjoint(folder):
    for i in range(10):
        save(folder / "many" / ("a" if i % 2 else "b") / f"{i}.png", i * 20)
    one = load_image_folder(data_dir=str(folder / "many"), image_size=[4, 4], validation_split=0.3, seed=1)
    two = load_image_folder(data_dir=str(folder / "many"), image_size=[4, 4], validation_split=0.3, seed=1)
    assert one["validation"].file_paths == two["validation"].file_paths
    assert len(one["validation"].file_paths) == 3 and len(one["train"].file_paths) == 7
    assert not set(one["validation"].file_paths) & set(one["train"].file_paths)


def test_augment_changes_training_batches_only(folder):
    splits = load_image_folder(data_dir=str(folder), image_size=[16, 16], augment=True)
    assert callable(splits["augment"])
    from zoo.pipeline import pipeline

    train = pipeline(splits["train"], 5, training=True, seed=0, augment=splits["augment"])
    plain = pipeline(splits["train"], 5, training=True, seed=0)
    (xa, ya), (xp, yp) = next(iter(train)), next(iter(plain))
    assert xa.shape == xp.shape == (5, 16, 16, 3)
    np.testing.assert_array_equal(ya.numpy(), yp.numpy())
    assert not np.allclose(xa.numpy(), xp.numpy())
    names = [layer.name for layer in splits["augment"].layers.layers]
    assert any("rotation" in n for n in names) and any("flip" in n for n in names)


def test_make_augment_keeps_shapes_and_fill_mode():
    import tensorflow as tf

    augment = make_augment(seed=1)
    x = tf.random.uniform((4, 20, 20, 3))
    out, y = augment(x, tf.zeros((4,)))
    assert out.shape == (4, 20, 20, 3) and y.shape == (4,)
    config = augment.layers.layers[0].get_config()
    assert config["fill_mode"] == "nearest" and max(config["factor"]) == pytest.approx(40 / 360)


def test_needs_data_dir_and_missing_class_folders(tmp_path):
    with pytest.raises(DataError, match="needs data_dir"):
        load_image_folder()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_image_folder(data_dir=str(tmp_path / "empty"))


# -- archives -----------------------------------------------------------------------------------------
def test_zip_member_escaping_the_target_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("horses/ok.png", b"x")
        zf.writestr("../../escaped.txt", b"owned")
    target = tmp_path / "out" / "inner"
    with pytest.raises(DataError, match="escaped.txt.*outside"):
        safe_extract(archive, target)
    assert not (tmp_path / "escaped.txt").exists() and not (target / "horses" / "ok.png").exists()


def test_tar_absolute_and_symlink_members_are_refused(tmp_path):
    for name, kind in (("/etc/evil", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)):
        archive = tmp_path / f"{kind!r}.tar"
        with tarfile.open(archive, "w") as tf_:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "../../outside"
            tf_.addfile(info, io.BytesIO(b""))
        with pytest.raises(DataError, match="outside"):
            safe_extract(archive, tmp_path / "out")


def test_good_zip_extracts_and_non_archive_is_reported(tmp_path):
    archive = tmp_path / "good.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("horses/a.png", b"x")
    assert safe_extract(archive, tmp_path / "out") == ["horses/a.png"]
    assert (tmp_path / "out" / "horses" / "a.png").read_bytes() == b"x"
    (tmp_path / "half.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="half.zip is not a zip or tar"):
        safe_extract(tmp_path / "half.zip", tmp_path / "out2")


# -- named datasets on the real copies --------------------------------------------------------------------
def test_horse_or_human_real_split_1027_256(shared_data, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    from zoo.registry import get_registry

    spec = get_registry().dataset("horse_or_human")
    where = spec.locate(**spec.params)
    assert where["origin"] == "ZOO_DATA_DIR" and where["path"].endswith("horse-or-human-100gray")
    splits = spec.loader(**{**spec.params, "image_size": [100, 100]})
    train, validation = splits["train"], splits["validation"]
    assert int(train.cardinality()) == 1027 and int(validation.cardinality()) == 256
    assert np.bincount(train.labels).tolist() == [500, 527] and np.bincount(validation.labels).tolist() == [128, 128]
    x, y = next(iter(train.batch(4)))
    assert x.shape == (4, 100, 100, 3) and y.shape == (4, 1)  # greyscale source, RGB asked for
    assert spec.shape_for({}) == (300, 300, 3) and spec.shape_for({"image_size": [100, 100]}) == (100, 100, 3)


def test_altered_file_in_a_manifested_copy_is_reported(shared_data, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "data" / "horse-or-human"
    shutil.copytree(shared_data / "horse-or-human-100gray", copy)
    victim = copy / "validation" / "humans" / min(p.name for p in (copy / "validation" / "humans").iterdir())
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "data"))
    from zoo.registry import get_registry

    spec = get_registry().dataset("horse_or_human")
    with pytest.raises(DataError, match=f"{victim} is corrupt"):
        spec.loader(**spec.params)


def test_cats_vs_dogs_test_folder_is_the_test_split(shared_data):
    from zoo.registry import get_registry

    spec = get_registry().dataset("cats_vs_dogs")
    splits = spec.loader(**{**spec.params, "data_dir": str(shared_data), "image_size": [64, 64]})
    assert splits["train"].class_names == ["cat", "dog"]
    assert "validation" not in splits  # a train/ + test/ copy has no validation folder
    assert int(splits["train"].cardinality()) == 1000 and int(splits["test"].cardinality()) == 1000
    assert splits["test"].file_paths[0].startswith(str(shared_data / "cats-vs-dogs-128" / "test"))
    # The recipe's validation_split holds validation out of train, never out of test.
    held = spec.loader(**{**spec.params, "data_dir": str(shared_data), "image_size": [64, 64]}, validation_split=0.2)
    assert int(held["train"].cardinality()) == 800 and int(held["validation"].cardinality()) == 200
    assert all("/train/" in p for p in held["validation"].file_paths)
    assert held["test"].file_paths == splits["test"].file_paths


def test_the_recipe_validation_split_reaches_the_loader_and_nothing_else_holds_out(shared_data, monkeypatch):
    from zoo.catalogue import load_catalogue
    from zoo.pipeline import prepare_data
    from zoo.registry import get_registry

    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    registry = get_registry()
    entry = load_catalogue(registry).resolve("lite0-random-cats-dogs", ["dataset.image_size=[32, 32]"])
    assert "validation_split" not in registry.dataset("cats_vs_dogs").params  # one knob: the recipe's
    data = prepare_data(entry, registry)
    assert sorted(data.splits) == ["test", "train", "validation"]
    assert data.train_examples == 800 and len(data.splits["validation"].file_paths) == 200


def test_offline_without_a_copy_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    from zoo.registry import get_registry

    spec = get_registry().dataset("horse_or_human")
    assert spec.locate(**spec.params) is None
    with pytest.raises(DataError) as err:
        spec.loader(**spec.params)
    message = str(err.value)
    assert "ZOO_OFFLINE=1 forbids downloading" in message and "horse-or-human.zip" in message
    assert "ZOO_DATA_DIR=PATH" in message and str(cache_root() / "horse-or-human") in message


def test_decode_gives_one_preprocessed_example(tmp_path):
    path = save(tmp_path / "one.png", 128, size=(30, 20))
    from zoo.registry import get_registry

    spec = get_registry().dataset("horse_or_human")
    image = spec.decode(str(path), **{**spec.params, "image_size": [50, 40]})
    assert image.shape == (50, 40, 3) and abs(float(image.mean()) - 128 / 255) < 0.01
    fashion = get_registry().dataset("fashion_mnist").decode(str(path))
    assert fashion.shape == (28, 28, 1)
    with pytest.raises(DataError, match="not an image"):
        image_data.decode_file(str(tmp_path), [4, 4])
