"""Narrow uses of Keras internals: workarounds for upstream bugs, and one fast path Keras lacks.
Each is applied only where it is asked for, and each steps aside if a Keras release has
restructured what it touches.

**Optimizer-only XLA** (:func:`jit_optimizer_update`, recipe ``jit_compile = "optimizer"``).
Keras compiles either the whole train step with XLA or nothing. On CPU neither is best for a
large dense layer: XLA's matmuls and convolutions are slower than oneDNN's, but without XLA the
optimizer's update runs as a chain of element-wise kernels, each one a pass over every weight
(an RMSprop update of InceptionV3's 38.5 M-weight head is about twice as slow). Compiling only
the update fuses it into one pass and leaves the matmuls to oneDNN.

**Multi-worker training** (:func:`patch_keras_multiworker`).

Keras 3's TensorFlow trainer breaks ``model.fit`` under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585, tensorflow/tensorflow#72388), in two places:

1. ``TensorFlowTrainer._maybe_symbolic_build`` builds the model from the first batch of the
   distributed dataset by *reducing that batch across workers* (``strategy.reduce`` on a
   ``PerReplica`` batch), which fails: "Attempt to convert a value (PerReplica…) to a Tensor".
   Building needs only the batch's shapes, so one replica's local batch is enough.
2. ``reduce_per_replica`` averages the per-replica step results of a multi-worker run with
   ``strategy.reduce("MEAN", v, axis=0)``, but the results are scalars (loss, metrics):
   "Invalid reduction dimension 0 for input with 0 dimensions". A scalar is averaged across the
   replicas with ``axis=None``; batched outputs keep ``axis=0``.

:func:`patch_keras_multiworker` replaces exactly those two functions with versions that do the
above for a multi-worker strategy and defer to Keras's own code in every other case. zoo applies
it when it creates a ``MultiWorkerMirroredStrategy`` (:mod:`zoo.tfruntime`), never otherwise.
The test that proves it (two workers on localhost, synchronous weights, a correct mean) is
``tests/test_multiworker.py``; when a Keras release fixes the bugs, that test says whether the
patch can go.

**Several steps per execution under several replicas** (:func:`steps_per_execution_for_strategy`).
Keras 3.15's multi-step loop (``steps_per_execution > 1``, a ``tf.while_loop`` over optional
inputs) fails under any strategy with more than one replica: "You must feed a value for
placeholder tensor 'while/…/Placeholder'". zoo then runs one step per execution and says so.
"""
from __future__ import annotations

from typing import Any


def patch_keras_multiworker() -> bool:
    """Make Keras's TensorFlow trainer work under ``MultiWorkerMirroredStrategy``.

    Idempotent. Returns False, changing nothing, when this Keras lacks the internals the patch
    replaces (a later release has restructured them, and may have fixed the bugs)."""
    try:
        from keras.src import tree
        from keras.src.backend.tensorflow import trainer as tf_trainer

        original_reduce = tf_trainer.reduce_per_replica
        original_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
        is_multiworker = tf_trainer._collective_all_reduce_multi_worker
    except (ImportError, AttributeError):
        return False
    if getattr(original_reduce, "zoo_patch", False):
        return True  # applied already
    import tensorflow as tf

    def local_value(value: Any, strategy: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or not is_multiworker(strategy):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:  # the first batch only, as Keras does
            data_batch = tree.map_structure(lambda v: local_value(v, strategy), next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction not in ("auto", "mean") or not is_multiworker(strategy):
            return original_reduce(values, strategy, reduction)
        return tree.map_structure(
            lambda v: strategy.reduce("MEAN", v, axis=0 if v.shape.rank else None), values)

    reduce_per_replica.zoo_patch = True  # type: ignore[attr-defined]
    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    return True


def jit_optimizer_update(optimizer: Any) -> bool:
    """Run ``optimizer``'s weight update as one XLA computation; the rest of the train step is
    left as it is (this instance only; other optimizers are untouched).

    The update is what Keras computes (its own ``update_step`` code), only fused. Under a
    distribution strategy, whose update goes through cross-replica merge calls that XLA cannot
    hold, it defers to Keras. Returns False, changing nothing, when this Keras lacks the
    internal ``_backend_update_step`` (a later release has restructured it)."""
    original = getattr(optimizer, "_backend_update_step", None)
    if original is None or getattr(original, "zoo_patch", False):
        return original is not None
    import tensorflow as tf

    def backend_update_step(grads: Any, variables: Any, learning_rate: Any) -> Any:
        if tf.distribute.has_strategy():
            return original(grads, variables, learning_rate)
        variables = list(variables)
        # A new function per trace of the train step: the variables are closed over (they are
        # not tensors), the gradients and learning rate (a tensor in that trace) are arguments.
        fused = tf.function(lambda grads, rate: original(grads, variables, rate), jit_compile=True)
        optimizer.zoo_fused_updates = getattr(optimizer, "zoo_fused_updates", 0) + 1
        return fused(list(grads), tf.convert_to_tensor(learning_rate))

    backend_update_step.zoo_patch = True  # type: ignore[attr-defined]
    optimizer._backend_update_step = backend_update_step
    return True


def steps_per_execution_for_strategy(requested: int) -> int:
    """The ``steps_per_execution`` to compile with under the current ``tf.distribute`` strategy:
    ``requested``, or 1 where Keras's multi-step loop fails (more than one replica in sync)."""
    if requested <= 1:
        return requested
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return requested
    import warnings

    from zoo.errors import ZooWarning

    warnings.warn(f"steps_per_execution = {requested} runs as 1 under {replicas} replicas "
                  "(Keras's multi-step loop fails under a multi-replica strategy)", ZooWarning, stacklevel=2)
    return 1
