"""Course 2 week 3: transfer learning from InceptionV3.

InceptionV3 (``include_top=False``) is cut at ``mixed7``, frozen, and topped with
Flatten → Dense(1024, relu) → Dropout(0.2) → the task's head. The model follows zoo's
frozen-base convention (``zoo.api.frozen_base_model``): ``Input → base → head`` with nested models
named ``base`` (input scaling + InceptionV3 up to the cut, frozen) and ``head``. Its plan is
``TrainHead`` (on cached base features with ``feature_cache = true``), then, with
``fine_tune_from`` and ``fine_tune_epochs``, ``FineTune`` of the top of the base.

Weights: ``weights = "imagenet"`` (Keras downloads them, or finds them in its cache
``~/.keras/models``), a path to a weights file (the course's ``local_weights_file``: Keras'
``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`` or any ``.weights.h5`` saved from
``InceptionV3(include_top=False)``), or ``"none"`` (random initialisation).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zoo.api import (BASE_NAME, HEAD_NAME, DataError, FineTune, TrainHead, flat_layers, frozen_base_model, hookimpl,
                     offline)
from zoo_plugins.model_parts import describe_error, load_weights_or_raise, output_layer

IMAGENET_NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
MIN_SIZE = 75  # keras.applications.InceptionV3 with include_top=False

TRANSFER_PARAMS: dict[str, Any] = {
    "weights": "imagenet",
    "cut_layer": "mixed7",
    "dense_units": 1024,
    "dropout": 0.2,
    "input_scaling": "unit",
    "fine_tune_from": None,
    "fine_tune_epochs": 0,
    "fine_tune_learning_rate": 1e-5,
}
SCALINGS = ("unit", "none")


def _keras_cache_file(name: str) -> Path:
    """Where ``keras.utils.get_file(cache_subdir="models")`` keeps a downloaded file."""
    home = os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser()
    return Path(home) / "models" / name


def _inception(input_shape: tuple[int, ...], weights: Any) -> Any:
    """InceptionV3 without its top, with the requested weights loaded (errors name the file)."""
    import keras

    shape = tuple(int(d) for d in input_shape)
    choice = "none" if weights in (None, "", False) else str(weights)
    if choice.lower() == "none":
        return keras.applications.InceptionV3(include_top=False, weights=None, input_shape=shape)
    if choice.lower() == "imagenet":
        cached = _keras_cache_file(IMAGENET_NOTOP_FILE)
        if offline() and not cached.exists():
            raise DataError(
                f"architecture inception-v3: ImageNet weights are not in Keras' cache ({cached}) and "
                f"ZOO_OFFLINE=1 forbids downloading them; use --set architecture.weights=PATH (a local "
                f"{IMAGENET_NOTOP_FILE} or .weights.h5) or architecture.weights=none"
            )
        try:
            return keras.applications.InceptionV3(include_top=False, weights="imagenet", input_shape=shape)
        except Exception as exc:  # network, proxy or checksum failure: say what to do instead
            raise DataError(
                f"architecture inception-v3: cannot get the ImageNet weights ({type(exc).__name__}: {exc}); "
                f"use --set architecture.weights=PATH or architecture.weights=none"
            ) from exc
    path = Path(choice).expanduser()
    if not path.is_file():
        raise DataError(f"architecture inception-v3: weights file {path} not found")
    if not (path.name.endswith(".h5") or path.name.endswith(".hdf5") or path.name.endswith(".keras")):
        raise DataError(f"architecture inception-v3: weights file {path} must be .weights.h5, .h5 or .keras")
    model = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=shape)
    load_weights_or_raise(model, str(path), lambda exc: DataError(
        f"architecture inception-v3: weights file {path} cannot be loaded into InceptionV3 "
        f"(include_top=False): {describe_error(exc)}"))
    return model


def build_inception_transfer(
    input_shape: tuple[int, ...],
    num_classes: int,
    task: str = "binary",
    *,
    weights: Any = "imagenet",
    cut_layer: str = "mixed7",
    dense_units: int = 1024,
    dropout: float = 0.2,
    input_scaling: str = "unit",
    fine_tune_from: str | None = None,
    fine_tune_epochs: int = 0,
    fine_tune_learning_rate: float = 1e-5,
) -> Any:
    """``Input → base (frozen InceptionV3 up to cut_layer) → head (Flatten → Dense → Dropout → task head)``.

    ``input_scaling="unit"`` maps the loaders' [0, 1] pixels to InceptionV3's [-1, 1] inside the
    base (a Rescaling layer, safe to load); ``"none"`` passes pixels through (the course's code).
    ``fine_tune_from`` names a base layer (e.g. ``"mixed6"``): after the head is trained, that
    layer and those after it are unfrozen for ``fine_tune_epochs`` at ``fine_tune_learning_rate``
    (:func:`transfer_plan`); here it is only checked.
    """
    import keras

    if input_scaling not in SCALINGS:
        raise ValueError(f"input_scaling must be one of {', '.join(SCALINGS)}, not {input_scaling!r}")
    inception = _inception(input_shape, weights)
    names = [layer.name for layer in inception.layers]
    if cut_layer not in names:
        mixed = [n for n in names if n.startswith("mixed") and "_" not in n]
        raise ValueError(f"cut_layer {cut_layer!r} is not a layer of InceptionV3; e.g. {', '.join(mixed)}")
    trunk = keras.Model(inception.input, inception.get_layer(cut_layer).output, name=f"inception_v3_{cut_layer}")

    image = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_inception_range")(image) if input_scaling == "unit" else image
    base = keras.Model(image, trunk(x), name=BASE_NAME)
    base.trainable = False  # the course: for layer in pre_trained_model.layers: layer.trainable = False
    if fine_tune_from is not None and fine_tune_from not in [layer.name for layer in flat_layers(base)]:
        raise ValueError(f"fine_tune_from {fine_tune_from!r} is not a layer of the base (cut at {cut_layer!r})")

    head_layers: list[Any] = [keras.Input(shape=tuple(base.output.shape[1:]), name="features"),
                              keras.layers.Flatten(name="flatten"),
                              keras.layers.Dense(int(dense_units), activation="relu", name="hidden")]
    if dropout:
        head_layers.append(keras.layers.Dropout(float(dropout), name="dropout"))
    head_layers.append(output_layer(task, num_classes))
    head = keras.Sequential(head_layers, name=HEAD_NAME)

    return frozen_base_model(base, head, input_shape, name="inception_transfer")


def transfer_plan(*, fine_tune_from: str | None = None, fine_tune_epochs: int = 0,
                  fine_tune_learning_rate: float = 1e-5, **_: Any) -> list[Any]:
    """Train the head (the base frozen); then, when asked, fine-tune the base from a layer on."""
    plan: list[Any] = [TrainHead()]
    if fine_tune_from is not None and int(fine_tune_epochs) > 0:
        plan.append(FineTune(str(fine_tune_from), int(fine_tune_epochs), float(fine_tune_learning_rate)))
    return plan


def accepts_inception(input_shape: tuple[int, ...], num_classes: int, task: str, *, weights: Any = "imagenet",
                      input_scaling: str = "unit", fine_tune_epochs: int = 0, **_: Any) -> str | None:
    """Cheap check: InceptionV3 needs RGB images of at least 75×75."""
    if len(input_shape) != 3 or int(input_shape[2]) != 3:
        return f"InceptionV3 needs RGB images (height, width, 3), got shape {tuple(input_shape)} (set color_mode = \"rgb\")"
    if min(int(input_shape[0]), int(input_shape[1])) < MIN_SIZE:
        return f"InceptionV3 needs images of at least {MIN_SIZE}×{MIN_SIZE}, got {input_shape[0]}×{input_shape[1]}"
    if input_scaling not in SCALINGS:
        return f"input_scaling must be one of {', '.join(SCALINGS)}"
    if int(fine_tune_epochs) < 0:
        return "fine_tune_epochs must be >= 0"
    return None


@hookimpl
def register_architectures(register):
    register(
        "inception-v3",
        build_inception_transfer,
        description="InceptionV3 (no top) frozen and cut at mixed7 → Flatten → Dense(1024) → Dropout(0.2) → task head "
                    "(course 2 week 3); weights: imagenet, a local file, or none.",
        params=dict(TRANSFER_PARAMS),
        tags=("course2", "transfer", "cnn"),
        tasks=("binary", "multiclass"),
        accepts=accepts_inception,
        plan=transfer_plan,
    )
