"""Losses a recipe can ask for that Keras does not ship in the needed form.

Imported only when a model is compiled or loaded: it imports Keras.
"""
from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="zoo")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing.

    Keras's own ``SparseCategoricalCrossentropy`` has no ``label_smoothing``. This one smooths
    the way ``keras.losses.CategoricalCrossentropy`` does: the one-hot target becomes
    ``(1 - label_smoothing) * one_hot + label_smoothing / classes``. Labels may be shaped
    ``(batch,)`` or ``(batch, 1)``. With ``label_smoothing = 0`` it equals Keras's sparse loss.
    """

    def __init__(self, label_smoothing: float = 0.0, from_logits: bool = False,
                 name: str = "sparse_categorical_crossentropy", reduction: str = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        labels = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
        targets = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            targets, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "from_logits": self.from_logits}


#: The loss class for each loss name that takes ``label_smoothing`` (the names are
#: :data:`zoo.metrics.LABEL_SMOOTHING_LOSSES`, which the catalogue checks without importing Keras).
SMOOTHING_LOSSES: dict[str, type] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "binary_focal_crossentropy": keras.losses.BinaryFocalCrossentropy,
}


def make_loss(name: str, label_smoothing: float = 0.0) -> Any:
    """The loss Keras should compile with: the name itself, or a loss object that smooths labels.

    ``name`` must be in :data:`zoo.metrics.LABEL_SMOOTHING_LOSSES` when ``label_smoothing`` is set
    (the catalogue checks this before anything is built).
    """
    if not label_smoothing:
        return name
    return SMOOTHING_LOSSES[name](label_smoothing=label_smoothing)
