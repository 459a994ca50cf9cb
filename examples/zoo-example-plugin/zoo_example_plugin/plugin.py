"""The example plugin: one of each part zoo knows, and a command.

Nothing here imports TensorFlow, Keras or NumPy at module level: zoo calls the hooks whenever
it lists its catalogue, so they must be cheap. Builders, loaders and factories import what they
need when they are called.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any

import zoo

# Part names are global across all plugins: prefix them with the plugin's name.
ARCHITECTURE = "example-mlp"
DATASET = "example-spirals"
CALLBACK = "example-time-limit"
ENTRY = "example-spirals-mlp"
COMMAND = "example-spirals-preview"  # commands are global too, and may not shadow zoo's own


# -- architecture -------------------------------------------------------------------------------
def build_mlp(input_shape: tuple[int, ...], num_classes: int, task: str = "multiclass",
              units: tuple[int, ...] | list[int] = (64, 64), dropout: float = 0.0) -> Any:
    """Dense ReLU layers, then the head the task needs (zoo's contract: the head is included)."""
    import keras

    layers: list[Any] = [keras.Input(shape=tuple(input_shape))]
    for width in units:
        layers.append(keras.layers.Dense(int(width), activation="relu"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    if task == "multiclass":
        layers.append(keras.layers.Dense(num_classes, activation="softmax"))
    elif task == "binary":
        layers.append(keras.layers.Dense(1, activation="sigmoid"))
    else:  # regression
        layers.append(keras.layers.Dense(num_classes))
    return keras.Sequential(layers, name="example_mlp")


def mlp_accepts(input_shape: tuple[int, ...], num_classes: int, task: str, **params: Any) -> str | None:
    """Cheap and TensorFlow-free: zoo asks before building, and reports the reason."""
    if len(input_shape) != 1:
        return f"takes flat feature vectors, not inputs of shape {tuple(input_shape)} (flatten them first)"
    return None


# -- dataset ------------------------------------------------------------------------------------
def load_spirals(arms: int = 3, points_per_arm: int = 300, noise: float = 0.15, turns: float = 1.0,
                 seed: int = 0) -> dict[str, Any]:
    """``arms`` interleaved spirals in the plane, one class per arm, shuffled and split
    70/15/15 into train/validation/test (float32 features, int32 class ids)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for arm in range(arms):
        radius = np.linspace(0.05, 1.0, points_per_arm)
        angle = 2 * math.pi * (turns * radius + arm / arms)
        points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
        xs.append(points + rng.normal(scale=noise * 0.1, size=points.shape))
        ys.append(np.full(points_per_arm, arm))
    x = np.concatenate(xs).astype("float32")
    y = np.concatenate(ys).astype("int32")
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    a, b = int(len(x) * 0.7), int(len(x) * 0.85)
    return {
        "train": (x[:a], y[:a]),
        "validation": (x[a:b], y[a:b]),
        "test": (x[b:], y[b:]),
        "augment": jitter,
    }


def jitter(x_batch: Any, y_batch: Any) -> tuple[Any, Any]:
    """Training-batch augmentation: a little Gaussian noise on every point (zoo maps it over
    training batches only, after caching, so every epoch sees new noise)."""
    import tensorflow as tf

    return x_batch + tf.random.normal(tf.shape(x_batch), stddev=0.01), y_batch


def spiral_classes(arms: int = 3, **params: Any) -> int:
    """The number of classes depends on a param: num_classes may be a callable."""
    return int(arms)


def spiral_names(arms: int = 3, **params: Any) -> list[str]:
    """One label per class id, saved with a trained model and printed by ``zoo predict``; like
    num_classes it may follow the params."""
    return [f"arm-{arm}" for arm in range(int(arms))]


def spiral_preprocessing(**params: Any) -> dict[str, Any]:
    """What the loader does to a raw input, as plain data saved with a trained model, so that
    ``zoo predict`` needs neither this plugin nor TensorFlow: the coordinates as they are."""
    return {"kind": "numeric", "scale": 1.0}


def spirals_where(**params: Any) -> dict[str, Any]:
    """For ``zoo data list``: generated in memory, nothing on disk."""
    return {"path": None, "origin": "generated in memory", "bytes": 0}


# -- callback -----------------------------------------------------------------------------------
def time_limit(seconds: float = 120.0, entry: str | None = None) -> Any:
    """A callback that stops training once ``seconds`` of wall time have passed (checked after
    each epoch). ``entry`` is filled in by zoo with the entry's name."""
    import keras

    class TimeLimit(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.stopped_epoch: int | None = None

        def on_train_begin(self, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if time.perf_counter() - self.start > seconds:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print(f"{entry or 'training'}: time limit of {seconds:g}s reached after epoch {epoch + 1}")

    return TimeLimit()


# -- command ------------------------------------------------------------------------------------
def spirals_summary(arms: int = 3, **params: Any) -> list[dict[str, Any]]:
    """Per split: examples, examples per class and the range of each coordinate (NumPy only)."""
    import numpy as np

    splits = load_spirals(arms=arms, **params)
    rows = []
    for split in ("train", "validation", "test"):
        x, y = splits[split]
        rows.append({
            "split": split,
            "examples": int(len(x)),
            "per_class": [int(n) for n in np.bincount(y, minlength=arms)],
            "x_range": [round(float(x[:, 0].min()), 3), round(float(x[:, 0].max()), 3)],
            "y_range": [round(float(x[:, 1].min()), 3), round(float(x[:, 1].max()), 3)],
        })
    return rows


# -- hooks --------------------------------------------------------------------------------------
@zoo.hookimpl
def register_architectures(register):
    register(
        ARCHITECTURE,
        build_mlp,
        description="Multilayer perceptron for flat feature vectors (example plugin).",
        params={"units": [64, 64], "dropout": 0.0},
        tags=("example", "mlp"),
        accepts=mlp_accepts,
    )


@zoo.hookimpl
def register_datasets(register):
    register(
        DATASET,
        load_spirals,
        task="multiclass",
        input_shape=(2,),
        num_classes=spiral_classes,
        class_names=spiral_names,
        preprocessing=spiral_preprocessing,
        description="Interleaved 2-D spiral arms, one class per arm, generated from a seed.",
        params={"arms": 3, "points_per_arm": 300, "noise": 0.15, "turns": 1.0, "seed": 0},
        tags=("example", "synthetic"),
        source="generated (zoo-example-plugin)",
        licence="public domain",
        locate=spirals_where,
    )


@zoo.hookimpl
def register_callbacks(register):
    register(
        CALLBACK,
        time_limit,
        description="Stop training after a wall-clock budget (seconds).",
        params={"seconds": 120.0},
    )


@zoo.hookimpl
def register_entries(register):
    register(
        ENTRY,
        architecture=ARCHITECTURE,
        dataset=DATASET,
        callbacks=[{"name": CALLBACK, "seconds": 300}],
        description="An MLP separating three spiral arms (example plugin).",
        optimizer="adam",
        learning_rate=0.01,
        epochs=40,
        batch_size=32,
        target={"metric": "val_accuracy", "value": 0.9},
        tags=["example"],
    )


@zoo.hookimpl
def register_commands(cli):
    """``zoo example-spirals-preview``: look at the generated data without TensorFlow.

    Only click is imported here (zoo depends on it); NumPy is imported when the command runs,
    so ``zoo --help`` stays fast.
    """
    import click

    @cli.command(COMMAND)
    @click.option("--points", type=click.IntRange(10), default=300, show_default=True,
                  help="Points per spiral arm.")
    @click.option("--arms", type=click.IntRange(2), default=3, show_default=True, help="Spiral arms (classes).")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    def preview(points: int, arms: int, seed: int, as_json: bool) -> None:
        """Summarise the example-spirals dataset: examples per split and class, coordinate ranges."""
        rows = spirals_summary(arms=arms, points_per_arm=points, seed=seed)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        click.echo(f"{DATASET}: {arms} arms x {points} points, seed {seed}")
        for row in rows:
            click.echo(f"  {row['split']:<10} {row['examples']:>6} examples  per class {row['per_class']}  "
                       f"x in {row['x_range']}  y in {row['y_range']}")
