"""Course 1, week 1: "hello world" — one Dense unit learning y = 2x − 1."""
from __future__ import annotations

from typing import Any

import zoo


def load_linear(slope: float = 2.0, intercept: float = -1.0, xs: list[float] | None = None) -> dict[str, Any]:
    """The course's six points: xs −1..4, ys = 2x − 1 (float32 numpy arrays of shape (n, 1))."""
    import numpy as np

    x = np.asarray(xs if xs is not None else [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0], dtype="float32").reshape(-1, 1)
    y = (slope * x + intercept).astype("float32")
    return {"train": (x, y), "test": (x, y)}


def build_dense_linear(input_shape: tuple[int, ...], num_classes: int, task: str = "regression", units: int = 1) -> Any:
    """``Sequential([Dense(units=1, input_shape=[1])])``, the course's first neural network."""
    import keras

    return keras.Sequential(
        [keras.Input(shape=tuple(input_shape)), keras.layers.Dense(units=num_classes if units == 1 else units)],
        name="dense_linear",
    )


@zoo.hookimpl
def register_architectures(register):
    register(
        "dense-linear",
        build_dense_linear,
        description="A single Dense layer: linear regression (course 1, week 1).",
        params={"units": 1},
        tags=("course1", "regression"),
        tasks=("regression",),
    )


@zoo.hookimpl
def register_datasets(register):
    register(
        "linear",
        load_linear,
        task="regression",
        input_shape=(1,),
        num_classes=1,
        description="Six points on y = 2x − 1 (xs −1..4), the course's hello world.",
        params={"slope": 2.0, "intercept": -1.0, "xs": None},
        tags=("course1", "synthetic"),
        source="generated (course 1, week 1)",
        licence="public domain",
        locate=lambda **params: {"path": None, "origin": "generated in memory", "bytes": 0},
        preprocessing=lambda **params: {"kind": "numeric", "scale": 1.0},  # x as it is; no class names
    )
