"""The frozen-base convention: ``Input → base → head``, built by :func:`frozen_base_model`.

A model follows it when its only layers besides the input are a nested ``keras.Model`` named
``"base"`` (frozen: no trainable weights, deterministic at inference) and a nested ``keras.Model``
named ``"head"``, called as ``head(base(x, training=False))``. The names survive
``model.save``/``keras.saving.load_model``. Architectures that follow it declare a
:class:`~zoo.phases.TrainHead` phase (and optionally :class:`~zoo.phases.FineTune`); the runner
can then train the head on cached base features (:mod:`zoo.feature_cache`).
"""
from __future__ import annotations

from typing import Any

from zoo.errors import UnknownNameError

BASE_NAME = "base"
HEAD_NAME = "head"


def frozen_base_model(base: Any, head: Any, input_shape: tuple[int, ...], name: str, *,
                      input_name: str = "image") -> Any:
    """``Input → base → head`` with the conventional names: renames nothing, so ``base`` and
    ``head`` must already be named ``"base"`` and ``"head"``. The base is called with
    ``training=False``: BatchNorm stays in inference mode even after fine-tuning unfreezes it
    (its moving statistics would otherwise drift on small batches)."""
    import keras

    if base.name != BASE_NAME or head.name != HEAD_NAME:
        raise ValueError(f"frozen_base_model needs models named {BASE_NAME!r} and {HEAD_NAME!r}, "
                         f"got {base.name!r} and {head.name!r}")
    inputs = keras.Input(shape=tuple(input_shape), name=input_name)
    return keras.Model(inputs, head(base(inputs, training=False)), name=name)


def split_frozen_base(model: Any) -> tuple[Any, Any] | None:
    """``(base, head)`` when ``model`` follows the convention with a frozen base, else ``None``."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if [layer.name for layer in layers] != [BASE_NAME, HEAD_NAME] or not all(isinstance(l, keras.Model) for l in layers):
        return None
    base, head = layers
    return None if base.trainable_weights else (base, head)


def flat_layers(model: Any) -> list[Any]:
    """Every leaf layer of ``model`` in order, nested models expanded."""
    import keras

    out: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        out.extend(flat_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def unfreeze_from(model: Any, from_layer: str) -> int:
    """Make the base's layers from ``from_layer`` on trainable (earlier ones stay frozen);
    returns how many layers were unfrozen."""
    base = model.get_layer(BASE_NAME)
    layers = flat_layers(base)
    names = [layer.name for layer in layers]
    if from_layer not in names:
        raise UnknownNameError("layer of the base", from_layer, names, where="FineTune.from_layer")
    start = names.index(from_layer)
    base.trainable = True  # recursive: nested models and their layers
    for i, layer in enumerate(layers):
        layer.trainable = i >= start
    return len(layers) - start


__all__ = ["BASE_NAME", "HEAD_NAME", "frozen_base_model", "split_frozen_base", "flat_layers", "unfreeze_from"]
