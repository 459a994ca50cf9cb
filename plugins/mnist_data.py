"""Fashion-MNIST and MNIST from their IDX files (course 1, weeks 2-3).

The four canonical ``.gz`` IDX files are found, verified and downloaded by
:mod:`zoo_plugins.data_sources`; parsed here with numpy (no TensorFlow needed to load them).
Images are scaled to [0, 1] as the course does (``x / 255.0``) with a channel axis for CNNs,
``(28, 28, 1)``; ``channel_axis=false`` gives ``(28, 28)`` for the course's Flatten+Dense net.
``normalize = "standard"`` also centres them on the train split's pixel mean and divides by its
standard deviation (zero mean, unit variance), which lets a net converge in fewer epochs; files
given to ``zoo predict`` are decoded the same way.
"""
from __future__ import annotations

import warnings
from typing import Any

from zoo_plugins.data_sources import (
    FileSet,
    LabelledSplit,
    RemoteFile,
    fetch_files,
    locate_files,
    resolve_files,
)

import zoo
from zoo.api import DataError, holdout_indices

FASHION_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"  # Keras's own mirror
# The MNIST mirror Google's tutorials use (yann.lecun.com, the original, now often refuses).
MNIST_ORIGIN = "https://storage.googleapis.com/cvdf-datasets/mnist/"

# md5 of the published .gz files (Zalando's README; torchvision's MNIST list) for downloads;
# size and sha256 of the decompressed content (computed from verified real copies) for every
# copy, so Debian's re-headed .gz files pass and truncated or altered ones do not. MNIST's
# train images were not at hand: their content is checked against the published raw md5.
FASHION_MNIST = FileSet(
    key="fashion-mnist",
    aliases=("fashion_mnist",),
    keras_subdir="fashion-mnist",
    system_subdir="fashion-mnist",
    files=(
        RemoteFile("train-images-idx3-ubyte.gz", FASHION_ORIGIN + "train-images-idx3-ubyte.gz", "train",
                   "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 47040016,
                   "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        RemoteFile("train-labels-idx1-ubyte.gz", FASHION_ORIGIN + "train-labels-idx1-ubyte.gz", "train",
                   "25c81989df183df01b3e8a0aad5dffbe", 60008,
                   "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        RemoteFile("t10k-images-idx3-ubyte.gz", FASHION_ORIGIN + "t10k-images-idx3-ubyte.gz", "test",
                   "bef4ecab320f06d8554ea6380940ec79", 7840016,
                   "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", FASHION_ORIGIN + "t10k-labels-idx1-ubyte.gz", "test",
                   "bb300cfdad3c16e7a12a480ee83cd310", 10008,
                   "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ),
)

MNIST = FileSet(
    key="mnist",
    aliases=("mnist-test",),  # a partial copy (test set + train labels) is still usable
    system_subdir="mnist",
    files=(
        RemoteFile("train-images-idx3-ubyte.gz", MNIST_ORIGIN + "train-images-idx3-ubyte.gz", "train",
                   "f68b3c2dcbeaaa9fbdd348bbdeb94873", 47040016, None, "6bbc9ace898e44ae57da46a324031adb"),
        RemoteFile("train-labels-idx1-ubyte.gz", MNIST_ORIGIN + "train-labels-idx1-ubyte.gz", "train",
                   "d53e105ee54ea40749a09fcbcd1e9432", 60008,
                   "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        RemoteFile("t10k-images-idx3-ubyte.gz", MNIST_ORIGIN + "t10k-images-idx3-ubyte.gz", "test",
                   "9fb629c4189551a2d022fa330f9573f3", 7840016,
                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", MNIST_ORIGIN + "t10k-labels-idx1-ubyte.gz", "test",
                   "ec29112dd5afa0611ce80d1b7f02629c", 10008,
                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
)

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGITS = [str(d) for d in range(10)]

PARAMS: dict[str, Any] = {
    "data_dir": None,
    "seed": 0,
    "channel_axis": True,
    "augment": False,
    "normalize": "unit",
    "origin": None,  # a mirror's base URL for downloads (file names kept); ZOO_DATA_ORIGIN for every dataset
    "download_timeout": 30.0,  # seconds without data from the server before a download fails
}
#: ``normalize`` values: ``unit`` is the course's ``x / 255``; ``standard`` then subtracts the
#: train split's pixel mean and divides by its standard deviation.
NORMALIZE_MODES = ("unit", "standard")
#: Pixel mean and standard deviation (in [0, 1]) of each train split's 60,000 images. Fashion-MNIST's
#: were computed from the real files (0.28604, 0.35302); MNIST's are the published ones.
PIXEL_STATS: dict[str, tuple[float, float]] = {"fashion_mnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081)}

_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(content: bytes, name: str = "IDX data") -> Any:
    """An IDX file's content (``00 00 TYPE NDIM``, NDIM big-endian int32 sizes, the data) as a
    numpy array; a wrong magic number or a size that does not match the header is a DataError."""
    import numpy as np

    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_TYPES:
        raise DataError(f"{name}: not an IDX file (bad magic number {content[:4].hex() or 'empty'})")
    ndim = content[3]
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DataError(f"{name}: IDX header truncated")
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[content[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) != expected:
        raise DataError(f"{name}: IDX header says shape {shape} ({expected:,} bytes) but the file has {len(content):,}")
    return np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)


def _check_normalize(name: str, normalize: str) -> None:
    if normalize not in NORMALIZE_MODES:
        raise DataError(f"dataset {name!r}: normalize must be one of {', '.join(NORMALIZE_MODES)}, got {normalize!r}")
    if normalize == "standard" and name not in PIXEL_STATS:
        raise DataError(f"dataset {name!r}: normalize = \"standard\" needs its pixel statistics, which zoo "
                        f"knows only for {', '.join(PIXEL_STATS)}; use normalize = \"unit\"")


def normalize_pixels(x: Any, name: str, normalize: str) -> Any:
    """Pixels already in [0, 1] as ``normalize`` asks: as they are (``unit``) or standardised with
    dataset ``name``'s train-split statistics (``standard``); float32 either way."""
    import numpy as np

    _check_normalize(name, normalize)
    x = np.asarray(x, dtype=np.float32)
    if normalize == "standard":
        mean, std = PIXEL_STATS[name]
        x = (x - np.float32(mean)) / np.float32(std)
    return x


def _split_arrays(contents: dict[str, bytes], images: str, labels: str, channel_axis: bool,
                  name: str, normalize: str) -> tuple[Any, Any]:
    import numpy as np

    x = parse_idx(contents[images], images)
    y = parse_idx(contents[labels], labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise DataError(f"{images} ({x.shape}) and {labels} ({y.shape}) do not pair up as images and labels")
    x = normalize_pixels(x.astype(np.float32) / 255.0, name, normalize)  # the course's scaling first
    if channel_axis:
        x = x[..., np.newaxis]
    return x, y.astype(np.int32)


def load_idx_dataset(name: str, fileset: FileSet, class_names: list[str], *, data_dir: str | None = None,
                     validation_split: float = 0.0, seed: int = 0, channel_axis: bool = True,
                     augment: bool = False, normalize: str = "unit", partial_ok: bool = False,
                     origin: str | None = None, download_timeout: float | None = None) -> dict[str, Any]:
    """The splits of an IDX dataset: ``train`` (60k), ``test`` (10k), optionally ``validation``
    carved from train (a seeded permutation, so the same examples every run). Missing files are
    downloaded (from ``origin``, a mirror, when given) where allowed."""

    _check_normalize(name, normalize)  # before any file is read
    if not 0.0 <= float(validation_split) < 1.0:
        raise DataError(f"dataset {name!r}: validation_split must be in [0, 1), got {validation_split}")
    if augment and not channel_axis:
        raise DataError(f"dataset {name!r}: augment needs channel_axis=true (image layers take (H, W, C))")
    contents = resolve_files(name, fileset, data_dir, required="any-split" if partial_ok else "all",
                             origin=origin, timeout=download_timeout)
    splits: dict[str, Any] = {}
    if "train-images-idx3-ubyte.gz" in contents:
        x, y = _split_arrays(contents, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", channel_axis,
                            name, normalize)
        validation = None
        if validation_split:
            keep, held = holdout_indices(len(x), float(validation_split), seed)
            validation = LabelledSplit(x[held], y[held], class_names)
            x, y = x[keep], y[keep]
        splits["train"] = LabelledSplit(x, y, class_names)
        if validation is not None:
            splits["validation"] = validation
    elif partial_ok:
        warnings.warn(f"dataset {name!r}: train split unavailable (train images missing); loaded the test split only",
                      stacklevel=2)
    if "t10k-images-idx3-ubyte.gz" in contents:
        splits["test"] = LabelledSplit(*_split_arrays(contents, "t10k-images-idx3-ubyte.gz",
                                                      "t10k-labels-idx1-ubyte.gz", channel_axis, name, normalize),
                                         class_names)
    if augment:
        from zoo_plugins.image_data import make_augment

        splits["augment"] = make_augment(seed)
    return splits


def load_fashion_mnist(validation_split: float = 0.0, **params: Any) -> dict[str, Any]:
    """Fashion-MNIST: 60,000 train + 10,000 test 28×28 grey images of 10 clothing classes;
    ``validation_split`` (the recipe's) holds part of train out as validation."""
    return load_idx_dataset("fashion_mnist", FASHION_MNIST, FASHION_CLASSES, validation_split=validation_split,
                            **params)


def load_mnist(validation_split: float = 0.0, **params: Any) -> dict[str, Any]:
    """MNIST digits; works with a partial copy (e.g. the test split only)."""
    return load_idx_dataset("mnist", MNIST, DIGITS, partial_ok=True, validation_split=validation_split, **params)


def _shape(channel_axis: bool = True, **_: Any) -> tuple[int, ...]:
    return (28, 28, 1) if channel_axis else (28, 28)


def decode_28x28(path: str, name: str, channel_axis: bool = True, normalize: str = "unit", **_: Any) -> Any:
    """One image file (PNG, JPEG...) as a 28×28 grey example of dataset ``name``, scaled like its
    training data."""
    from zoo_plugins.image_data import decode_file

    image = normalize_pixels(decode_file(path, (28, 28), "grayscale"), name, normalize)
    return image if channel_axis else image[..., 0]


def preprocessing_28x28(name: str, normalize: str = "unit", **_: Any) -> dict[str, Any]:
    """What the loader does to a 28×28 grey image, as data saved with a trained model (for
    ``zoo predict`` without the dataset): ``x / 255``, then standardised when asked."""
    _check_normalize(name, normalize)
    mean, std = PIXEL_STATS[name] if normalize == "standard" else (None, None)
    return {"kind": "image", "image_size": [28, 28], "color_mode": "grayscale", "scale": 1.0 / 255.0,
            "mean": mean, "std": std}


def _register(register: Any, name: str, fileset: FileSet, loader: Any, *, required: str,
              class_names: list[str], **kwargs: Any) -> None:
    register(
        name, loader, task="multiclass", input_shape=_shape, num_classes=10, params=dict(PARAMS),
        class_names=list(class_names),
        preprocessing=lambda **params: preprocessing_28x28(name, **params),
        locate=lambda data_dir=None, **_: locate_files(name, fileset, data_dir),
        fetch=lambda data_dir=None, origin=None, download_timeout=None, progress=None, **_: fetch_files(
            name, fileset, data_dir, required=required, origin=origin, timeout=download_timeout, progress=progress),
        decode=lambda path, **params: decode_28x28(path, name, **params), **kwargs,
    )


@zoo.hookimpl
def register_datasets(register):
    _register(
        register, "fashion_mnist", FASHION_MNIST, load_fashion_mnist, required="all", class_names=FASHION_CLASSES,
        description="Fashion-MNIST: 70,000 28x28 grey images of clothing, 10 classes, 60k/10k "
                    "(course 1, weeks 2-3); scaled to [0, 1], or standardised (normalize = \"standard\").",
        tags=("course1", "week2", "week3", "images", "grayscale"),
        source="Xiao, Rasul, Vollgraf (2017), arXiv:1708.07747; " + FASHION_ORIGIN,
        licence="MIT (Zalando SE)",
    )
    _register(
        register, "mnist", MNIST, load_mnist, required="any-split", class_names=DIGITS,
        description="MNIST handwritten digits, 28x28 grey, 10 classes, 60k/10k; loads whichever "
                    "splits are complete (a test-only copy gives the test split).",
        tags=("images", "grayscale"),
        source="LeCun, Cortes, Burges: http://yann.lecun.com/exdb/mnist/ (mirror " + MNIST_ORIGIN + ")",
        licence="CC BY-SA 3.0",
    )
