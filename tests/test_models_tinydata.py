"""Tiny stand-ins for the course datasets, registered as a test plugin under the real names.

The model tests train every course entry for one epoch on a handful of generated images with
the shapes, tasks and params of the real datasets (``fashion_mnist``, ``horse_or_human``,
``cats_vs_dogs``). When the real dataset plugins are installed, they are disabled for these
tests (a name registered twice would be a conflict), so the entries' own dataset params still
validate against a dataset that declares them.
"""
from __future__ import annotations

from typing import Any

import zoo

TINY_NAMES = ("fashion_mnist", "horse_or_human", "cats_vs_dogs")


def _patterned(n: int, shape: tuple[int, ...], classes: int, seed: int) -> tuple[Any, Any]:
    """Images whose class is a brighter horizontal band (learnable), plus noise, in [0, 1]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.uniform(0.0, 0.3, size=(n, *shape)).astype("float32")
    band = max(1, shape[0] // classes)
    for i, label in enumerate(y):
        x[i, label * band:(label + 1) * band] += 0.6
    order = rng.permutation(n)
    return x[order], y[order]


def load_fashion(data_dir: str | None = None, validation_split: float = 0.0, examples: int = 40) -> dict[str, Any]:
    x, y = _patterned(examples, (28, 28, 1), 10, seed=1)
    xt, yt = _patterned(20, (28, 28, 1), 10, seed=2)
    return {"train": (x, y.astype("int64")), "test": (xt, yt.astype("int64"))}


def _image_shape(image_size: Any = (300, 300), color_mode: str = "rgb", **_: Any) -> tuple[int, int, int]:
    return (int(image_size[0]), int(image_size[1]), 1 if color_mode == "grayscale" else 3)


def _flip(x: Any, y: Any) -> tuple[Any, Any]:
    import tensorflow as tf

    return tf.image.flip_left_right(x), y


def load_binary_images(data_dir: str | None = None, image_size: Any = (300, 300), color_mode: str = "rgb",
                       augment: bool = False, examples: int = 16) -> dict[str, Any]:
    shape = _image_shape(image_size, color_mode)
    x, y = _patterned(examples, shape, 2, seed=3)
    xv, yv = _patterned(8, shape, 2, seed=4)
    splits: dict[str, Any] = {"train": (x, y.astype("float32")), "validation": (xv, yv.astype("float32"))}
    if augment:
        splits["augment"] = _flip
    return splits


class TinyData:
    """The test plugin."""

    @staticmethod
    @zoo.hookimpl
    def register_datasets(register):
        register("fashion_mnist", load_fashion, task="multiclass", input_shape=(28, 28, 1), num_classes=10,
                 params={"data_dir": None, "validation_split": 0.0, "examples": 40})
        for name, size in (("horse_or_human", [300, 300]), ("cats_vs_dogs", [150, 150])):
            register(name, load_binary_images, task="binary", input_shape=_image_shape, num_classes=1,
                     params={"data_dir": None, "image_size": size, "color_mode": "rgb", "augment": False,
                             "examples": 16})


def tiny_registry() -> Any:
    """The installed plugins plus :class:`TinyData`, with any plugin that registers the same
    dataset names disabled."""
    from zoo.plugins import load_plugins
    from zoo.registry import collect

    extra = [("testdata", TinyData)]
    registry = collect(*load_plugins(extra=extra))
    clashing = {owner for (kind, name), owners in registry.conflicts.items()
                if kind == "dataset" and name in TINY_NAMES for owner in owners if owner != "testdata"}
    if clashing:
        registry = collect(*load_plugins(extra=extra, disabled=clashing))
    return registry


def tiny_catalogue() -> Any:
    from zoo.catalogue import Catalogue

    return Catalogue(tiny_registry())


def test_tiny_datasets_stand_in_for_the_course_datasets():
    registry = tiny_registry()
    for name in TINY_NAMES:
        assert registry.dataset(name).plugin == "testdata"
    assert registry.dataset("horse_or_human").shape_for({"image_size": [100, 100]}) == (100, 100, 3)
    x, y = load_fashion()["train"]
    assert x.shape == (40, 28, 28, 1) and set(y) == set(range(10))
