"""Past the course: small CNNs designed for accuracy per CPU-second.

``compact-cnn`` is stages of 3×3 Conv-ReLU, each followed by an optional max-pool and an optional
BatchNorm (placed after the pool, where it costs a quarter as much), then Flatten, dropout, one
hidden Dense layer and the task's head. The shipped entry (``fashion-compact-cnn``,
registry.toml) uses no BatchNorm: on the 2-core CPU it was measured on, TensorFlow's oneDNN
kernels fuse Conv + bias + ReLU but not Keras's BatchNorm, and the BatchNorm nets tried trained
at about half the speed. How the entry was chosen, on a validation split held out of the training
images, is in docs/benchmarks.md ("Method") and benchmarks/RESULTS.md.

``bn-resnet`` is a stem convolution, then stages of 3×3 convolutions, each followed by
BatchNorm and ReLU, with a max-pool between stages and (optionally) a residual shortcut around
each pair of convolutions, global average pooling, dropout and the task's head. Widths, depths
and the shortcut are params, so its variants are data, not code. At the widths tried it trained
at under half ``compact-cnn``'s speed for less validation accuracy (benchmarks/RESULTS.md).
"""
from __future__ import annotations

from typing import Any

import zoo
from zoo_plugins.model_parts import as_list, output_layer

RESNET_PARAMS: dict[str, Any] = {
    "stem_filters": 32, "stem_pool": True, "filters": [32, 64], "convs_per_stage": 2, "residual": True,
    "head": "gap", "dense_units": 0, "dropout": 0.0,
}


COMPACT_PARAMS: dict[str, Any] = {
    "filters": [32, 64, 128], "padding": ["same", "same", "valid"], "pool": [True, True, False],
    "batch_norm": False, "dropout": 0.3, "dense_units": 128,
}


def build_compact_cnn(input_shape: tuple[int, ...], num_classes: int, task: str = "multiclass", *,
                      filters: Any = (32, 64, 128), padding: Any = ("same", "same", "valid"),
                      pool: Any = (True, True, False), batch_norm: Any = False, dropout: float = 0.3,
                      dense_units: int = 128) -> Any:
    """Per stage: Conv2D(3×3, ReLU, ``padding``) [→ MaxPool(2) where ``pool``] [→ BatchNorm where
    ``batch_norm``] → Flatten → [Dropout] → Dense(``dense_units``, ReLU) → head. ``padding``,
    ``pool`` and ``batch_norm`` are one value for every stage or a list, one per stage."""
    import keras

    widths = [int(f) for f in as_list(filters, len(filters) if isinstance(filters, (list, tuple)) else 1, "filters")]
    paddings = as_list(padding, len(widths), "padding")
    pools = as_list(pool, len(widths), "pool")
    norms = as_list(batch_norm, len(widths), "batch_norm")
    x = inputs = keras.Input(shape=tuple(input_shape), name="image")
    for s, (width, pad, pooled, norm) in enumerate(zip(widths, paddings, pools, norms, strict=True), start=1):
        x = keras.layers.Conv2D(width, 3, padding=str(pad), activation="relu", name=f"conv{s}")(x)
        if pooled:
            x = keras.layers.MaxPooling2D(2, name=f"pool{s}")(x)
        if norm:
            x = keras.layers.BatchNormalization(name=f"bn{s}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    if dense_units:
        x = keras.layers.Dense(int(dense_units), activation="relu", name="hidden")(x)
    return keras.Model(inputs, output_layer(task, num_classes)(x), name="compact_cnn")


def accepts_compact_cnn(input_shape: tuple[int, ...], num_classes: int, task: str, *, filters: Any = (32, 64, 128),
                        padding: Any = ("same", "same", "valid"), pool: Any = (True, True, False),
                        **_: Any) -> str | None:
    """Cheap check: an image that the stages' valid convolutions and pools leave at least 1 pixel."""
    if len(input_shape) != 3:
        return f"needs images (height, width, channels), got shape {tuple(input_shape)}"
    stages = len(filters) if isinstance(filters, (list, tuple)) else 1
    try:
        paddings, pools = as_list(padding, stages, "padding"), as_list(pool, stages, "pool")
    except ValueError as exc:
        return str(exc)
    if any(p not in ("same", "valid") for p in paddings):
        return f"padding must be 'same' or 'valid', got {paddings}"
    size = min(int(input_shape[0]), int(input_shape[1]))
    for pad, pooled in zip(paddings, pools, strict=True):
        size = (size if pad == "same" else size - 2) // (2 if pooled else 1)
        if size < 1:
            return f"a {min(input_shape[:2])}-pixel side is too small for these stages"
    return None


def _conv_bn_relu(x: Any, filters: int, name: str, relu: bool = True) -> Any:
    import keras

    x = keras.layers.Conv2D(int(filters), 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def build_bn_resnet(input_shape: tuple[int, ...], num_classes: int, task: str = "multiclass", *,
                    stem_filters: int = 32, stem_pool: bool = True, filters: Any = (32, 64),
                    convs_per_stage: Any = 2, residual: bool = True, head: str = "gap", dense_units: int = 0,
                    dropout: float = 0.0) -> Any:
    """Conv(``stem_filters``)-BN-ReLU [→ MaxPool] → per stage: [MaxPool between stages →]
    ``convs_per_stage`` × Conv(3×3)-BN-ReLU (with a shortcut around them when ``residual``; a 1×1
    projection where the width changes) → global average pooling (``head = "gap"``) or Flatten →
    [Dense(``dense_units``)] → [Dropout] → head."""
    import keras

    stages = [int(f) for f in (filters if isinstance(filters, (list, tuple)) else [filters])]
    depths = [int(d) for d in as_list(convs_per_stage, len(stages), "convs_per_stage")]
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = _conv_bn_relu(inputs, stem_filters, "stem")
    if stem_pool:
        x = keras.layers.MaxPooling2D(2, name="stem_pool")(x)
    for s, (width, depth) in enumerate(zip(stages, depths), start=1):
        if s > 1:
            x = keras.layers.MaxPooling2D(2, name=f"pool{s}")(x)
        shortcut = x
        for c in range(1, depth + 1):
            last = c == depth
            x = _conv_bn_relu(x, width, f"stage{s}_{c}", relu=not (residual and last))
        if residual and depth:
            if int(shortcut.shape[-1]) != width:
                shortcut = keras.layers.Conv2D(width, 1, use_bias=False, name=f"stage{s}_proj")(shortcut)
                shortcut = keras.layers.BatchNormalization(name=f"stage{s}_proj_bn")(shortcut)
            x = keras.layers.Add(name=f"stage{s}_add")([x, shortcut])
            x = keras.layers.ReLU(name=f"stage{s}_out")(x)
    if head == "gap":
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    elif head == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        raise ValueError(f"head must be 'gap' or 'flatten', got {head!r}")
    if dense_units:
        x = keras.layers.Dense(int(dense_units), activation="relu", name="hidden")(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    outputs = output_layer(task, num_classes)(x)
    return keras.Model(inputs, outputs, name="bn_resnet")


def accepts_bn_resnet(input_shape: tuple[int, ...], num_classes: int, task: str, *, stem_pool: bool = True,
                      filters: Any = (32, 64), convs_per_stage: Any = 2, head: str = "gap", **_: Any) -> str | None:
    """Cheap check: an image, big enough for the max-pools, and one depth per stage."""
    if len(input_shape) != 3:
        return f"needs images (height, width, channels), got shape {tuple(input_shape)}"
    if head not in ("gap", "flatten"):
        return f"head must be 'gap' or 'flatten', got {head!r}"
    stages = len(filters) if isinstance(filters, (list, tuple)) else 1
    if stages < 1:
        return "needs at least one stage"
    if isinstance(convs_per_stage, (list, tuple)) and len(convs_per_stage) != stages:
        return f"convs_per_stage lists {len(convs_per_stage)} values for {stages} stage(s)"
    pools = (stages - 1) + (1 if stem_pool else 0)
    if min(int(input_shape[0]), int(input_shape[1])) >> pools < 1:
        return f"a {min(input_shape[:2])}-pixel side is too small for {pools} max-pool(s)"
    return None


@zoo.hookimpl
def register_architectures(register):
    register(
        "compact-cnn",
        build_compact_cnn,
        description="Stages of 3×3 Conv-ReLU → [MaxPool] → [BatchNorm] (32/64/128, same/same/valid) → Flatten → "
                    "Dropout → Dense(128) → task head: accuracy per CPU-second.",
        params=dict(COMPACT_PARAMS),
        tags=("cnn", "fast"),
        tasks=("binary", "multiclass"),
        accepts=accepts_compact_cnn,
    )
    register(
        "bn-resnet",
        build_bn_resnet,
        description="Conv-BN-ReLU stem → stages of 3×3 Conv-BN-ReLU pairs with residual shortcuts, max-pool "
                    "between stages → global average pooling → task head: accuracy per CPU-second.",
        params=dict(RESNET_PARAMS),
        tags=("cnn", "batchnorm", "residual"),
        tasks=("binary", "multiclass"),
        accepts=accepts_bn_resnet,
    )
