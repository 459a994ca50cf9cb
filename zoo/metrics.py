"""The rules about losses and metrics, written once: which way a metric improves, the default
loss and metrics per task, which losses need which head. No TensorFlow here."""
from __future__ import annotations

#: Metric names where lower is better (regression errors, losses).
ERROR_METRICS: tuple[str, ...] = ("mae", "mse", "mean_absolute_error", "mean_squared_error", "rmse",
                                  "root_mean_squared_error", "loss")
#: Metrics a row is judged by, best first, when the entry has them.
ACCURACY_METRICS: tuple[str, ...] = ("accuracy", "binary_accuracy", "sparse_categorical_accuracy",
                                     "categorical_accuracy")
DEFAULT_LOSS: dict[str, str] = {
    "regression": "mean_squared_error",
    "binary": "binary_crossentropy",
    "multiclass": "sparse_categorical_crossentropy",
}
DEFAULT_METRICS: dict[str, list[str]] = {"regression": ["mae"], "binary": ["accuracy"], "multiclass": ["accuracy"]}
#: Losses that need a one-unit sigmoid head, and those that need a softmax over the classes.
BINARY_LOSSES = frozenset({"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"})
MULTICLASS_LOSSES = frozenset({"sparse_categorical_crossentropy", "categorical_crossentropy"})
#: Losses that take ``label_smoothing`` (zoo.losses builds them; the catalogue checks names only).
LABEL_SMOOTHING_LOSSES: tuple[str, ...] = (
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "binary_focal_crossentropy",
)
MODES: tuple[str, ...] = ("max", "min")


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (accuracy) or worse (losses, errors)."""
    name = metric[4:] if metric.startswith("val_") else metric
    return not (name in ERROR_METRICS or "loss" in name or "error" in name)


def improvement_mode(metric: str) -> str:
    """``"max"`` when ``metric`` improves upwards, else ``"min"`` (Keras's callback ``mode``)."""
    return "max" if higher_is_better(metric) else "min"


def reached(value: float, threshold: float, mode: str) -> bool:
    """Whether ``value`` reaches ``threshold`` in direction ``mode`` (the time-to-target rule)."""
    return value >= threshold if mode == "max" else value <= threshold


__all__ = ["ERROR_METRICS", "ACCURACY_METRICS", "DEFAULT_LOSS", "DEFAULT_METRICS", "BINARY_LOSSES",
           "MULTICLASS_LOSSES", "LABEL_SMOOTHING_LOSSES", "MODES", "higher_is_better", "improvement_mode", "reached"]
