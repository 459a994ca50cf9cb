"""The part contracts, checked where the parts are used.

One home for the checks of what a builder returns and what a loader yields, so that the runner
(before the first training step), ``zoo data show`` and :mod:`zoo.testing` say the same thing in
the same words. A third-party builder that ignores ``task`` or a loader that yields one-hot labels
then fails with one line naming the plugin, the part and the problem, not a Keras traceback.

- :func:`model_problems`: one input of the entry's shape, one output of shape
  ``(None, num_classes)`` (binary and regression datasets have ``num_classes == 1``), and no
  softmax over a single unit (it outputs 1.0 whatever the input: the model cannot learn).
  Head *activations* otherwise are not refused here: a recipe's loss may expect logits or a
  sigmoid per class, so a multiclass head ending in a sigmoid is allowed; :mod:`zoo.testing`
  flags heads that do not fit zoo's *default* losses by running them.
- :func:`label_problems`: labels fit the task and the loss: class ids ``0..num_classes-1`` of
  shape ``()`` or ``(1,)`` per example (one-hot rows get their own hint), binary 0/1, regression
  finite floats of shape ``()`` or ``(num_classes,)``; with ``loss = "categorical_crossentropy"``
  one-hot rows are what is expected instead. Losses zoo does not know only get the dtype and
  finiteness checks.
- :func:`check_before_training`: both, for an entry, raising :class:`zoo.errors.IncompatibleError`.

TensorFlow and Keras are imported inside the functions that need them.
"""
from __future__ import annotations

from typing import Any, Sequence

from zoo.errors import IncompatibleError

__all__ = [
    "model_problems", "shape_problems", "output_problems", "head_problems", "softmax_one_unit_message",
    "label_problems", "looks_one_hot", "first_examples", "refuse",
    "check_before_training", "DEFAULT_LOSS",
]

#: The loss each task compiles with when the recipe says ``loss = "auto"``.
DEFAULT_LOSS = {
    "regression": "mean_squared_error",
    "binary": "binary_crossentropy",
    "multiclass": "sparse_categorical_crossentropy",
}
#: Losses whose labels are class ids, one-hot rows, 0/1 (the label checks know these).
_ID_LOSSES = {"sparse_categorical_crossentropy"}
_ONE_HOT_LOSSES = {"categorical_crossentropy"}
_BINARY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy"}


def _shape_text(dims: Sequence[Any]) -> str:
    """``(None, 10)``, ``(None,)``: a shape as Python writes a tuple."""
    return str(tuple(None if d is None else int(d) for d in dims))


# -- the model ------------------------------------------------------------------------------------
def _output_operation(tensor: Any) -> Any:
    """The layer (or op) that produced a symbolic Keras tensor, looking inside nested models."""
    import keras

    op = None
    for _ in range(16):  # nested models: a model's output comes from its own last layer
        history = getattr(tensor, "_keras_history", None)
        op = getattr(history, "operation", None) if history is not None else None
        if not isinstance(op, keras.Model):
            return op
        try:
            tensor = op.outputs[0]
        except (AttributeError, IndexError, TypeError, ValueError):
            return op
    return op


def _is_softmax(op: Any) -> bool:
    """Whether ``op`` ends in a softmax over the last axis (a ``Dense(..., activation="softmax")``,
    ``Activation("softmax")``, ``Softmax()`` layer or ``keras.ops.softmax``)."""
    if op is None:
        return False
    activation = getattr(op, "activation", None)
    if getattr(activation, "__name__", None) == "softmax":
        return True
    if type(op).__name__ == "Softmax":
        axis = getattr(op, "axis", -1)
        return axis in (-1, [-1], (-1,)) or axis is None
    return False


def model_problems(model: Any, task: str, num_classes: int,
                   input_shape: Sequence[int] | None = None) -> list[str]:
    """What is wrong with a built model for ``task`` and ``num_classes`` (empty when nothing):
    :func:`shape_problems`, then (when the shapes fit) :func:`head_problems`."""
    return shape_problems(model, task, num_classes, input_shape) or head_problems(model, task)


def _model_tensors(model: Any, attribute: str) -> list[Any] | None:
    """``model.inputs`` / ``model.outputs``, or ``None`` where Keras cannot tell them before the
    model is called (a subclassed model, a Sequential model without an ``Input``)."""
    try:
        tensors = getattr(model, attribute)
    except (AttributeError, ValueError, TypeError):
        return None
    return None if tensors is None else list(tensors)


def shape_problems(model: Any, task: str, num_classes: int,
                   input_shape: Sequence[int] | None = None) -> list[str]:
    """One input (of ``input_shape`` per example when given; ``None`` dimensions match anything)
    and one output of shape ``(None, num_classes)``. Shapes Keras cannot tell before the model is
    called (a subclassed model) pass: check the output of a call with :func:`output_problems`."""
    inputs = _model_tensors(model, "inputs")
    if inputs is not None and len(inputs) != 1:
        return [f"model has {len(inputs)} inputs; zoo feeds exactly one"]
    if input_shape is not None and inputs:
        try:
            got = tuple(inputs[0].shape[1:])
        except (AttributeError, ValueError, TypeError):
            got = None
        want = tuple(int(d) for d in input_shape)
        if got is not None and (len(got) != len(want) or any(a is not None and a != b for a, b in zip(got, want))):
            return [f"model input shape is {got}, expected {want}"]
    outputs = _model_tensors(model, "outputs")
    if outputs is None:
        return []
    if len(outputs) != 1:
        return [f"model has {len(outputs)} outputs; a zoo head has exactly one"]
    return output_problems(tuple(outputs[0].shape[1:]), task, num_classes)


def output_problems(out_shape: Sequence[Any], task: str, num_classes: int) -> list[str]:
    """Whether one example's output shape ``out_shape`` (batch dimension left out) fits."""
    out_shape = tuple(None if d is None else int(d) for d in out_shape)
    if out_shape == (num_classes,):
        return []
    reason = f"for {num_classes} classes" if task == "multiclass" else f"for a {task} task"
    return [f"output shape is {_shape_text((None, *out_shape))}, expected (None, {num_classes}) {reason}"]


def head_problems(model: Any, task: str) -> list[str]:
    """A head that cannot learn: a softmax over one unit (it outputs 1.0 for every input)."""
    outputs = _model_tensors(model, "outputs")
    if not outputs or len(outputs) != 1 or tuple(outputs[0].shape[1:]) != (1,):
        return []
    if _is_softmax(_output_operation(outputs[0])):
        return [softmax_one_unit_message(task)]
    return []


def softmax_one_unit_message(task: str) -> str:
    """The problem of a head that is a softmax over one unit (shared with zoo.testing)."""
    fix = "end with a sigmoid" if task == "binary" else "end with a linear unit (no activation)"
    return (f"the {task} head is a softmax over one unit: it outputs 1.0 for every input, so the "
            f"model cannot learn; {fix}")


# -- labels ---------------------------------------------------------------------------------------
def looks_one_hot(y: Any) -> bool:
    """Whether labels look one-hot (or like class probabilities): rows of two or more
    non-negative values that sum to 1."""
    import numpy as np

    y = np.asarray(y)
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] < 2:
        return False
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        return False
    values = y.astype("float64")
    if not np.all(np.isfinite(values)) or values.min() < 0:
        return False
    return bool(np.allclose(values.sum(axis=1), 1.0, atol=1e-3))


def label_problems(y: Any, task: str, num_classes: int, loss: str | None = None) -> list[str]:
    """What is wrong with a batch (or any leading run) of labels (empty when nothing).

    ``y`` is an array or tensor with one row per example; ``loss`` is the recipe's loss name
    (``None`` or ``"auto"``: the task's default). Messages say "example i" counting from the
    first row of ``y``.
    """
    import numpy as np

    y = np.asarray(y)
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        return [f"labels have dtype {y.dtype}, not a numeric type"]
    if y.ndim == 0 or len(y) == 0:
        return [] if y.ndim else ["labels are a scalar, not one per example"]
    loss = DEFAULT_LOSS.get(task) if loss in (None, "auto") else loss
    if not np.all(np.isfinite(y.astype("float64"))):
        return ["labels hold NaN or infinite values"]
    per_example = tuple(int(d) for d in y.shape[1:])
    rows = y.reshape(len(y), -1)
    if task == "regression":
        if rows.shape[1] != num_classes:
            return [f"labels have shape {per_example} per example, expected () or ({num_classes},) "
                    f"for a {task} dataset"]
        return []
    if loss in _ONE_HOT_LOSSES:
        if rows.shape[1] == num_classes and looks_one_hot(rows):
            return []
        if rows.shape[1] == 1:
            return [f"labels are class ids, but loss {loss!r} expects one-hot rows of {num_classes} "
                    f"(use sparse_categorical_crossentropy)"]
        return [f"labels have shape {per_example} per example; loss {loss!r} expects one-hot rows "
                f"of shape ({num_classes},)"]
    if loss not in _ID_LOSSES and loss not in _BINARY_LOSSES:
        return []  # a loss zoo does not know: its labels are the recipe's business
    if rows.shape[1] != 1:
        if looks_one_hot(rows):
            wanted = "integer class ids" if task == "multiclass" else "0/1 labels"
            return [f"labels look one-hot (shape {per_example} per example); zoo expects {wanted} "
                    f"of shape () (use argmax)"]
        return [f"labels have shape {per_example} per example, expected () or (1,) for a {task} dataset"]
    labels = rows[:, 0]
    if task == "binary" or loss in _BINARY_LOSSES:
        bad = ~np.isin(labels, (0, 1))
        if bad.any():
            i = int(np.argmax(bad))
            return [f"label {labels[i].item()!r} at example {i} is not 0 or 1 (binary dataset)"]
        return []
    values = labels.astype("float64")
    bad = (values < 0) | (values >= num_classes) | (values != np.floor(values))
    if bad.any():
        i = int(np.argmax(bad))
        return [f"label {labels[i].item()!r} at example {i} is outside the class ids 0..{num_classes - 1} "
                f"(num_classes={num_classes})"]
    return []


def first_examples(split: Any, n: int = 256) -> tuple[Any, Any]:
    """The first ``n`` examples of a split (a numpy ``(x, y)`` pair or an unbatched
    ``tf.data.Dataset`` of pairs) as numpy arrays, read straight from the split (no cache,
    shuffle or augmentation). ``(None, None)`` for a split that has no examples."""
    import numpy as np

    if isinstance(split, (tuple, list)):
        x, y = split
        return np.asarray(x[:n]), np.asarray(y[:n])
    xs, ys = [], []
    for x, y in split.take(n).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        return None, None
    return np.stack(xs), np.stack(ys)


# -- refusing -------------------------------------------------------------------------------------
def refuse(problems: Sequence[str], *, plugin: str, part_kind: str, part_name: str,
           entry: str | None = None) -> None:
    """Raise :class:`IncompatibleError` with one line naming the entry, the part, its plugin and
    the problems (``; ``-joined); do nothing when there are none."""
    if not problems:
        return
    where = f"entry {entry!r}: " if entry else ""
    raise IncompatibleError(f"{where}{part_kind} {part_name!r} (plugin {plugin}): {'; '.join(problems)}")


def check_before_training(model: Any, entry: Any, registry: Any, first_batch: Any = None) -> None:
    """Refuse, before the first training step, a model or labels that break the contracts.

    How the runner calls it, in ``zoo.runner.train``, once the model is built (``build_model``)
    and before ``fit``::

        from zoo import contracts

        contracts.check_before_training(
            model, entry, registry, contracts.first_examples(splits["train"], entry.recipe.batch_size))

    - ``model``: the ``keras.Model`` the builder returned (compiled or not; inside or outside a
      strategy scope);
    - ``entry``: the :class:`zoo.specs.Entry` (its ``task``, ``num_classes``, ``input_shape``,
      ``recipe.loss``, and the architecture/dataset names);
    - ``registry``: the :class:`zoo.registry.Registry` it was resolved against (for the parts'
      plugins);
    - ``first_batch``: an ``(x, y)`` pair of arrays or tensors with the first labels, or ``None``
      to check the model only. Pass the loader's *raw* first examples
      (:func:`first_examples` of the train split, as above) rather than a batch of the training
      pipeline: an ``augment`` function may legitimately change labels (mixup makes them soft),
      and reading a cached pipeline part-way makes ``tf.data`` warn.

    Raises :class:`zoo.errors.IncompatibleError` with one line, e.g. ``entry 'x': architecture
    'my-net' (plugin my_plugin): output shape is (None, 10), expected (None, 1) for a binary
    task`` or ``entry 'x': dataset 'my-data' (plugin my_plugin): split 'train': labels look
    one-hot (shape (10,) per example); zoo expects integer class ids of shape () (use argmax)``
    ("example i" counts from the first row of ``first_batch``). The model is checked first, then
    the labels. Costs no forward pass: numpy work on one batch of labels.
    """
    arch = registry.architecture(entry.architecture.name)
    refuse(model_problems(model, entry.task, entry.num_classes, entry.input_shape),
           plugin=arch.plugin, part_kind="architecture", part_name=arch.name, entry=entry.name)
    if first_batch is None:
        return
    _, y = first_batch
    if y is None:
        return
    data = registry.dataset(entry.dataset.name)
    problems = label_problems(y, entry.task, entry.num_classes, getattr(entry.recipe, "loss", None))
    refuse([f"split 'train': {p}" for p in problems],
           plugin=data.plugin, part_kind="dataset", part_name=data.name, entry=entry.name)
