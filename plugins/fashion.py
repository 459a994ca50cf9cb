"""Course 1, weeks 2–3: the Fashion-MNIST dense network and the small convolutional network.

Both are parametrised so that the course's explorations (512 hidden units, an extra hidden
layer, 32 filters) are catalogue variants, not new code. The head follows the dataset's task
(:func:`zoo_plugins.model_parts.output_layer`), so either plugs into any compatible dataset.
"""
from __future__ import annotations

from typing import Any

import zoo
from zoo_plugins.model_parts import accepts_conv_blocks, as_list, build_conv_stack, output_layer, pick_filters

MLP_PARAMS: dict[str, Any] = {"units": 128, "hidden_layers": 1, "activation": "relu", "dropout": 0.0}
CNN_PARAMS: dict[str, Any] = {
    "filters": 64, "conv_blocks": 2, "kernel_size": 3, "pool_size": 2, "dense_units": 128, "dropout": 0.0,
}


def build_mlp(input_shape: tuple[int, ...], num_classes: int, task: str = "multiclass", *, units: Any = 128,
              hidden_layers: int = 1, activation: str = "relu", dropout: float = 0.0) -> Any:
    """Flatten → ``hidden_layers`` × Dense(``units``, relu) [→ Dropout] → head (course 1 week 2).

    ``units`` is one count for every hidden layer or a list with one per layer.
    """
    import keras

    layers: list[Any] = [keras.Input(shape=tuple(input_shape), name="image"), keras.layers.Flatten(name="flatten")]
    for i, count in enumerate(as_list(units, int(hidden_layers), "units"), start=1):
        layers.append(keras.layers.Dense(int(count), activation=activation, name=f"hidden{i}"))
        if dropout:
            layers.append(keras.layers.Dropout(float(dropout), name=f"dropout{i}"))
    layers.append(output_layer(task, num_classes))
    return keras.Sequential(layers, name="mlp")


def build_cnn(input_shape: tuple[int, ...], num_classes: int, task: str = "multiclass", *, filters: Any = 64,
              conv_blocks: int = 2, kernel_size: int = 3, pool_size: int = 2, dense_units: int = 128,
              dropout: float = 0.0) -> Any:
    """``conv_blocks`` × (Conv2D(``filters``, 3, relu) → MaxPool(2)) → Flatten → Dense(128) → head
    (course 1 week 3)."""
    return build_conv_stack(
        input_shape, num_classes, task, filters=pick_filters(filters, int(conv_blocks)),
        kernel_size=kernel_size, pool_size=pool_size, dense_units=dense_units, dropout=dropout, name="cnn",
    )


def accepts_mlp(input_shape: tuple[int, ...], num_classes: int, task: str, *, units: Any = 128,
                hidden_layers: int = 1, **_: Any) -> str | None:
    """Cheap check: the unit list matches the number of hidden layers."""
    if int(hidden_layers) < 1:
        return "hidden_layers must be at least 1"
    if isinstance(units, (list, tuple)) and len(units) != int(hidden_layers):
        return f"units lists {len(units)} values for {hidden_layers} hidden layer(s)"
    return None


@zoo.hookimpl
def register_architectures(register):
    register(
        "mlp",
        build_mlp,
        description="Flatten → Dense(128, relu) → task head: the Fashion-MNIST dense network (course 1 week 2).",
        params=dict(MLP_PARAMS),
        tags=("course1", "dense"),
        accepts=accepts_mlp,
    )
    register(
        "cnn",
        build_cnn,
        description="2 × (Conv2D(64, 3) → MaxPool(2)) → Flatten → Dense(128) → task head (course 1 week 3).",
        params=dict(CNN_PARAMS),
        tags=("course1", "cnn"),
        tasks=("binary", "multiclass"),
        accepts=accepts_conv_blocks,
    )
