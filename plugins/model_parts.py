"""Pieces shared by the first-party architecture plugins (not a plugin itself).

The head follows the dataset's task, so one architecture plugs into any compatible dataset
(the course's "binary vs multiclass" table): multiclass → ``Dense(num_classes, softmax)``,
binary → ``Dense(1, sigmoid)``, regression → ``Dense(1)`` linear. Nothing here imports
TensorFlow at module level.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable


def output_layer(task: str, num_classes: int, name: str = "output") -> Any:
    """The last layer for ``task``: the course's softmax / sigmoid / linear output.

    It computes in float32 whatever the mixed-precision policy, so the probabilities and the
    loss keep full precision (Keras's advice for mixed precision).
    """
    import keras

    if task == "multiclass":
        return keras.layers.Dense(int(num_classes), activation="softmax", name=name, dtype="float32")
    if task == "binary":
        return keras.layers.Dense(1, activation="sigmoid", name=name, dtype="float32")
    if task == "regression":
        return keras.layers.Dense(1, name=name, dtype="float32")
    raise ValueError(f"unknown task {task!r}")


def as_list(value: Any, count: int, what: str) -> list[Any]:
    """``value`` repeated ``count`` times, or ``value`` itself when it is a list of that length."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"{what} lists {len(value)} values for {count} layer(s)")
        return list(value)
    return [value] * count


def conv_output_size(size: int, blocks: int, kernel_size: int, pool_size: int) -> int:
    """Spatial size after ``blocks`` × (valid ``kernel_size`` conv → ``pool_size`` max-pool)."""
    for _ in range(blocks):
        size = (size - kernel_size + 1) // pool_size
    return size


def accepts_conv_blocks(input_shape: tuple[int, ...], num_classes: int, task: str, *, filters: Any,
                        conv_blocks: int, kernel_size: int, pool_size: int, **_: Any) -> str | None:
    """The ``accepts`` check of a conv/pool-block architecture: an image big enough for its
    blocks, and a filter count for each block (zoo passes every declared param)."""
    if isinstance(filters, (list, tuple)) and len(filters) < int(conv_blocks):
        return f"filters lists {len(filters)} values for {conv_blocks} conv blocks"
    return check_conv_input(input_shape, int(conv_blocks), int(kernel_size), int(pool_size))


def check_conv_input(input_shape: tuple[int, ...], blocks: int, kernel_size: int, pool_size: int) -> str | None:
    """A reason when ``input_shape`` is not an image big enough for ``blocks`` conv/pool blocks."""
    if len(input_shape) != 3:
        return f"needs images (height, width, channels), got shape {tuple(input_shape)}"
    smallest = min(int(input_shape[0]), int(input_shape[1]))
    if blocks < 1:
        return "needs at least one conv block"
    size = smallest
    for block in range(1, blocks + 1):
        size = (size - kernel_size + 1) // pool_size
        if size < 1:
            return (f"a {smallest}-pixel side is too small for {blocks} conv({kernel_size}) + "
                    f"max-pool({pool_size}) blocks (nothing is left after block {block})")
    return None


def pick_filters(filters: Any, conv_blocks: int) -> list[int]:
    """Per-block filter counts: an int for every block, or the first ``conv_blocks`` of a list."""
    if isinstance(filters, (list, tuple)):
        if len(filters) < conv_blocks:
            raise ValueError(f"filters lists {len(filters)} values for {conv_blocks} conv blocks")
        return [int(f) for f in filters[:conv_blocks]]
    return [int(filters)] * conv_blocks


def build_conv_stack(
    input_shape: tuple[int, ...],
    num_classes: int,
    task: str,
    *,
    filters: list[int],
    kernel_size: int,
    pool_size: int,
    dense_units: int,
    dropout: float,
    name: str,
) -> Any:
    """``len(filters)`` × (Conv2D(f, k, relu) → MaxPool(p)) → Flatten → Dense(relu) → [Dropout] → head."""
    import keras

    layers: list[Any] = [keras.Input(shape=tuple(input_shape), name="image")]
    for i, count in enumerate(filters, start=1):
        layers.append(keras.layers.Conv2D(int(count), int(kernel_size), activation="relu", name=f"conv{i}"))
        layers.append(keras.layers.MaxPooling2D(int(pool_size), name=f"pool{i}"))
    layers.append(keras.layers.Flatten(name="flatten"))
    layers.append(keras.layers.Dense(int(dense_units), activation="relu", name="hidden"))
    if dropout:
        layers.append(keras.layers.Dropout(float(dropout), name="dropout"))
    layers.append(output_layer(task, num_classes))
    return keras.Sequential(layers, name=name)


def load_weights_or_raise(model: Any, path: str, error: Callable[[Exception], Exception]) -> None:
    """``model.load_weights(path)``, raising ``error(exc)`` when it fails.

    On a file that does not fit, Keras warns once per layer group it skips (dozens for
    InceptionV3) before it raises; zoo's own error says what is wrong, so those warnings are
    dropped then. A load that succeeds re-issues whatever Keras warned, so nothing is hidden.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except Exception as exc:  # h5py/keras raise many types for corrupt or foreign files
            raise error(exc) from exc
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def describe_error(exc: Exception) -> str:
    """``Type: first line`` of an exception (Keras's load errors run to many lines)."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}"
