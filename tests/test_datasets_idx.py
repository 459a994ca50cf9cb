"""IDX datasets (Fashion-MNIST, MNIST): search order, verification, offline errors, real splits.

Tests that need the real files use the ``shared_data`` fixture (skipped with a reason when absent);
the rest build small IDX files of their own, with checksums computed here.
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from zoo_plugins import data_sources
from zoo_plugins.data_sources import (
    FileSet,
    RemoteFile,
    fetch_files,
    find_files,
    resolve_files,
)
from zoo_plugins.mnist_data import (
    FASHION_MNIST,
    MNIST,
    load_fashion_mnist,
    load_mnist,
    parse_idx,
)

from zoo.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny() -> tuple[FileSet, dict[str, bytes]]:
    """A two-file dataset of our own, with published-style checksums of its content."""
    rng = np.random.default_rng(0)
    contents = {
        "imgs-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (5, 4, 4))),
        "lbls-idx1-ubyte.gz": idx_bytes(np.arange(5)),
    }
    files = tuple(
        RemoteFile(name, f"https://example.invalid/{name}", "train", None, len(c), hashlib.sha256(c).hexdigest())
        for name, c in contents.items()
    )
    return FileSet("tiny", files, aliases=("tiny-copy",), keras_subdir="tiny", system_subdir="tiny"), contents


def write(folder: Path, contents: dict[str, bytes], mtime: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        (folder / name).write_bytes(gzip.compress(content, mtime=mtime))
    return folder


# -- IDX parsing ------------------------------------------------------------------------------------
def test_parse_idx_round_trips_shape_and_values():
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(array))
    assert parsed.shape == (2, 3, 4) and parsed.dtype == np.uint8
    np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize("content, message", [
    (b"", "not an IDX file"),
    (b"PK\x03\x04rest", "bad magic"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "header truncated"),
    (idx_bytes(np.zeros((2, 2, 2)))[:-1], "the file has"),
])
def test_parse_idx_rejects_bad_content(content, message):
    with pytest.raises(DataError, match=message):
        parse_idx(content, "x.idx")


# -- search order and verification -------------------------------------------------------------------
def test_search_order_data_dir_env_cache_keras_system(tiny, tmp_path, monkeypatch):
    fileset, contents = tiny
    system, keras_home, env = tmp_path / "usr-share", tmp_path / "keras-home", tmp_path / "zoo-data"
    monkeypatch.setattr(data_sources, "SYSTEM_DIRS", [system])
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    write(system / "tiny", contents)
    assert {label for _, label in find_files(fileset).files.values()} == {"system"}
    write(keras_home / "datasets" / "tiny", contents)
    assert {label for _, label in find_files(fileset).files.values()} == {"keras cache"}
    write(data_sources.cache_root() / "tiny", contents)
    assert {label for _, label in find_files(fileset).files.values()} == {"cache"}
    monkeypatch.setenv("ZOO_DATA_DIR", str(env))
    write(env / "tiny-copy", contents)  # an alias folder name is accepted
    found = find_files(fileset)
    assert {label for _, label in found.files.values()} == {"ZOO_DATA_DIR"}
    assert all(p.parent == env / "tiny-copy" for p, _ in found.files.values())
    explicit = write(tmp_path / "mine", contents)
    assert {p.parent for p, _ in find_files(fileset, str(explicit)).files.values()} == {explicit}


def test_recompressed_copy_passes_content_check(tiny, tmp_path):
    """A copy whose gzip header differs (as Debian's normalised files) has the same content."""
    fileset, contents = tiny
    a, b = write(tmp_path / "a", contents, mtime=0), write(tmp_path / "b", contents, mtime=1504176606)
    assert (a / "imgs-idx3-ubyte.gz").read_bytes() != (b / "imgs-idx3-ubyte.gz").read_bytes()
    assert resolve_files("tiny", fileset, str(a)) == resolve_files("tiny", fileset, str(b)) == contents


def test_truncated_file_is_reported_with_its_path(tiny, tmp_path):
    fileset, contents = tiny
    folder = write(tmp_path / "t", contents)
    path = folder / "imgs-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataError, match=rf"{path}.* truncated"):
        resolve_files("tiny", fileset, str(folder))


def test_altered_file_is_reported_with_its_path(tiny, tmp_path):
    fileset, contents = tiny
    altered = dict(contents)
    altered["lbls-idx1-ubyte.gz"] = contents["lbls-idx1-ubyte.gz"][:-1] + b"\x09"
    folder = write(tmp_path / "t", altered)
    with pytest.raises(DataError, match=rf"{folder / 'lbls-idx1-ubyte.gz'} is corrupt.*sha256"):
        resolve_files("tiny", fileset, str(folder))


def test_offline_and_missing_names_files_and_three_ways(tiny, monkeypatch, tmp_path):
    fileset, _ = tiny
    monkeypatch.setattr(data_sources, "SYSTEM_DIRS", [tmp_path / "nothing"])
    with pytest.raises(DataError) as err:
        resolve_files("tiny", fileset)
    message = str(err.value)
    assert "imgs-idx3-ubyte.gz, lbls-idx1-ubyte.gz not found" in message
    assert "ZOO_OFFLINE=1 forbids downloading" in message
    for way in ("--set dataset.data_dir=PATH", "ZOO_DATA_DIR=PATH", "zoo data fetch tiny"):
        assert way in message
    assert "\n" not in message


def test_fetch_copies_verified_files_into_the_cache(tiny, tmp_path, monkeypatch):
    fileset, contents = tiny
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "env"))
    write(tmp_path / "env" / "tiny", contents)
    result = fetch_files("tiny", fileset)
    cache = data_sources.cache_root() / "tiny"
    assert result["path"] == str(cache) and sorted(result["files"]) == sorted(contents)
    monkeypatch.delenv("ZOO_DATA_DIR")
    assert {label for _, label in find_files(fileset).files.values()} == {"cache"}
    assert resolve_files("tiny", fileset) == contents


def test_fetch_refuses_a_corrupt_source(tiny, tmp_path, monkeypatch):
    fileset, contents = tiny
    folder = write(tmp_path / "env" / "tiny", contents)
    (folder / "lbls-idx1-ubyte.gz").write_bytes(b"not gzip")
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError, match="lbls-idx1-ubyte.gz is truncated or not a valid gzip"):
        fetch_files("tiny", fileset)
    assert not (data_sources.cache_root() / "tiny" / "lbls-idx1-ubyte.gz").exists()


# -- the real data ------------------------------------------------------------------------------------
def test_fashion_mnist_real_split(shared_data, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    splits = load_fashion_mnist()
    (x, y), (xt, yt) = splits["train"], splits["test"]
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.99
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert splits["train"].class_names[9] == "Ankle boot"
    assert "validation" not in splits and "augment" not in splits


def test_fashion_mnist_validation_split_is_seeded_and_disjoint(shared_data):
    fashion = shared_data / "fashion-mnist"
    a = load_fashion_mnist(data_dir=str(fashion), validation_split=0.1, seed=3, channel_axis=False)
    b = load_fashion_mnist(data_dir=str(fashion), validation_split=0.1, seed=3, channel_axis=False)
    assert a["train"][0].shape == (54000, 28, 28) and a["validation"][0].shape == (6000, 28, 28)
    np.testing.assert_array_equal(a["validation"][1], b["validation"][1])
    np.testing.assert_array_equal(a["validation"][0][:50], b["validation"][0][:50])


def test_debian_normalised_gzip_headers_are_accepted(shared_data, tmp_path, monkeypatch):
    """Rebuild Debian's layout (gzip header without FNAME, mtime 0x5eda0aed) in a 'system' folder."""
    system = tmp_path / "usr-share-datasets"
    (system / "fashion-mnist").mkdir(parents=True)
    for spec in FASHION_MNIST.files:
        original = (shared_data / "fashion-mnist" / spec.name).read_bytes()
        assert original[3] & 0x08  # FNAME flag set in the canonical file
        end = original.index(b"\x00", 10) + 1
        debian = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0x5EDA0AED) + original[8:10] + original[end:]
        assert hashlib.md5(debian).hexdigest() != spec.md5
        (system / "fashion-mnist" / spec.name).write_bytes(debian)
    monkeypatch.setattr(data_sources, "SYSTEM_DIRS", [system])
    found = find_files(FASHION_MNIST)
    assert {label for _, label in found.files.values()} == {"system"}
    splits = load_fashion_mnist()
    assert len(splits["train"][0]) == 60000 and len(splits["test"][0]) == 10000


def test_truncated_real_file_is_refused(shared_data, tmp_path):
    folder = tmp_path / "fashion-mnist"
    shutil.copytree(shared_data / "fashion-mnist", folder)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[: 3000])
    with pytest.raises(DataError, match=str(path)):
        load_fashion_mnist(data_dir=str(folder))


def test_mnist_loads_a_test_only_copy(shared_data, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    with pytest.warns(UserWarning, match="test split only"):
        splits = load_mnist()
    assert set(splits) == {"test"}
    x, y = splits["test"]
    assert x.shape == (10000, 28, 28, 1) and np.bincount(y).sum() == 10000 and set(y.tolist()) == set(range(10))
    found = find_files(MNIST)
    assert [f.name for f in found.missing] == ["train-images-idx3-ubyte.gz"]


# -- normalize ------------------------------------------------------------------------------------
@pytest.fixture
def tiny_fashion(tmp_path) -> tuple[FileSet, Path]:
    """Fashion-MNIST's four file names holding 6 train and 4 test images of our own."""
    rng = np.random.default_rng(1)
    contents = {
        "train-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (6, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_bytes(np.arange(6)),
        "t10k-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (4, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(np.arange(4)),
    }
    files = tuple(RemoteFile(name, f"https://example.invalid/{name}", "train" if name.startswith("train") else "test",
                             None, len(c), hashlib.sha256(c).hexdigest()) for name, c in contents.items())
    return FileSet("tiny-fashion", files), write(tmp_path / "tiny-fashion", contents)


def test_standard_normalize_uses_the_train_split_statistics(tiny_fashion):
    from zoo_plugins.mnist_data import FASHION_CLASSES, PIXEL_STATS, load_idx_dataset

    fileset, folder = tiny_fashion
    unit = load_idx_dataset("fashion_mnist", fileset, FASHION_CLASSES, data_dir=str(folder))
    standard = load_idx_dataset("fashion_mnist", fileset, FASHION_CLASSES, data_dir=str(folder), normalize="standard")
    mean, std = PIXEL_STATS["fashion_mnist"]
    for split in ("train", "test"):
        assert standard[split][0].dtype == np.float32
        np.testing.assert_allclose(standard[split][0], (unit[split][0] - mean) / std, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(standard[split][1], unit[split][1])
    assert unit["train"][0].min() >= 0.0 and standard["train"][0].min() < -0.8


@pytest.mark.parametrize("name, normalize, message", [
    ("fashion_mnist", "zscore", "normalize must be one of unit, standard, got 'zscore'"),
    ("tiny-fashion", "standard", "needs its pixel statistics"),
])
def test_bad_normalize_is_refused_before_any_file_is_read(name, normalize, message, tmp_path):
    from zoo_plugins.mnist_data import FASHION_CLASSES, load_idx_dataset

    empty = tmp_path / "nothing-here"
    with pytest.raises(DataError, match=message):
        load_idx_dataset(name, FASHION_MNIST, FASHION_CLASSES, data_dir=str(empty), normalize=normalize)


def test_predict_decodes_a_file_as_the_entry_normalizes(tmp_path):
    import tensorflow as tf
    from zoo_plugins.mnist_data import PIXEL_STATS

    from zoo.registry import get_registry

    pixels = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28, 1) % 251
    path = tmp_path / "item.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    decode = get_registry().dataset("fashion_mnist").decode
    unit, standard = decode(str(path)), decode(str(path), normalize="standard")
    np.testing.assert_allclose(unit[..., 0], pixels[..., 0] / 255.0, atol=1e-6)
    mean, std = PIXEL_STATS["fashion_mnist"]
    np.testing.assert_allclose(standard, (unit - mean) / std, rtol=1e-6, atol=1e-6)


def test_real_fashion_mnist_standardised_has_zero_mean_unit_variance(shared_data):
    splits = load_fashion_mnist(data_dir=str(shared_data / "fashion-mnist"), normalize="standard")
    x = splits["train"][0]
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1.0) < 1e-3
