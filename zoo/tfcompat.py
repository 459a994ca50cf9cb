"""Narrow uses of Keras internals: a workaround for an upstream bug, and one fast path Keras lacks.
Each is applied only where it is asked for, and each steps aside if a Keras release has
restructured what it touches.

**Optimizer-only XLA** (:func:`jit_optimizer_update`, recipe ``jit_compile = "optimizer"``).
Keras compiles either the whole train step with XLA or nothing. On CPU neither is best for a
large dense layer: XLA's matmuls and convolutions are slower than oneDNN's, but without XLA the
optimizer's update runs as a chain of element-wise kernels, each one a pass over every weight
(an RMSprop update of InceptionV3's 38.5 M-weight head is about twice as slow). Compiling only
the update fuses it into one pass and leaves the matmuls to oneDNN.

**Several steps per execution under several replicas** (:func:`steps_per_execution_for_strategy`).
Keras 3.15's multi-step loop (``steps_per_execution > 1``, a ``tf.while_loop`` over optional
inputs) fails under any strategy with more than one replica: "You must feed a value for
placeholder tensor 'while/…/Placeholder'". zoo then runs one step per execution and says so.
"""
from __future__ import annotations

from typing import Any


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
