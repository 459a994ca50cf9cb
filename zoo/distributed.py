"""One model on many workers: zoo's own training loop under ``MultiWorkerMirroredStrategy``.

Keras 3's ``fit`` and ``evaluate`` fail under this strategy (keras-team/keras#20585: they reduce a
distributed batch to build the model, then average scalar step results along an axis they do not
have). zoo does not patch Keras; it trains with its own distributed step, built from public
``tf.distribute`` and Keras pieces:

- **Data.** Each split's ``tf.data`` pipeline yields *global* batches (the recipe's
  ``batch_size``); ``strategy.experimental_distribute_dataset`` splits every global batch between
  the replicas, and the auto-shard policy is set to ``DATA`` explicitly (in-memory data has no
  files to shard by). Every worker sees the same global batches in the same order, and keeps its
  part. Each example carries the size of its global batch, so the last, partial batch of an epoch
  is weighted exactly, with no extra communication.
- **Step.** ``strategy.run`` of a gradient-tape step inside one ``tf.function``: the compiled loss
  (``model.compute_loss``: the recipe's loss, zoo's label smoothing, plus ``model.losses``
  regularisation) as this replica's share of the mean over the *global* batch, the optimizer's
  update (which sums the gradients across replicas), the compiled metrics updated locally
  (``model.compute_metrics``). One all-reduce per step returns the global batch's loss sum and
  example count, so every worker logs, and decides on, the same numbers.
- **Epochs.** Keras callbacks (``CallbackList``) are driven as ``fit`` drives them: train
  begin/end, epoch begin/end, train batch begin/end; epoch logs carry the loss, the compiled
  metrics read across workers, and the ``val_`` metrics of a validation pass run the same way, so
  zoo's epoch timer, time to target, early stopping and ``model.stop_training`` behave as with
  ``fit``; ``steps_per_epoch`` keeps the data iterator across epochs, as ``fit`` does.
- **Failure.** A worker that dies surfaces in the others as a TensorFlow ``UnavailableError``
  (the coordination service's heartbeat times out after 10 s, or a collective loses its peer at
  once); :func:`cluster_errors` turns it into one :class:`zoo.errors.ClusterError` naming the
  lost task. A cluster that never forms fails after ``ZOO_MULTIWORKER_TIMEOUT`` seconds
  (:func:`create_strategy`), instead of waiting forever.

Not supported in this loop: ``steps_per_execution > 1`` (one step per call) and ``jit_compile``
(XLA), both of which the recipe may ask for; they are ignored here.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import weakref
from collections.abc import Iterator
from typing import Any

from zoo.errors import ClusterError

#: TensorFlow errors that mean a peer is gone or unreachable, not a bug in the program.
_LOST_PEER_ERRORS = ("UnavailableError", "DeadlineExceededError", "AbortedError", "CancelledError")
_TASK = re.compile(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)")
_FUNCTIONS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()  # per model


# -- the strategy ---------------------------------------------------------------------------------
def create_strategy(timeout_seconds: float) -> Any:
    """A new ``MultiWorkerMirroredStrategy`` for the cluster in ``TF_CONFIG`` (one local worker
    without it). Must run before TensorFlow initialises its devices (:mod:`zoo.tfruntime` calls it
    at import). Creating it waits until every worker has joined; a worker that does not join
    within ``timeout_seconds`` (a busy port, a typo in ``TF_CONFIG``, a worker never started) makes
    it raise :class:`ClusterError` instead of waiting forever."""
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    spec = resolver.cluster_spec()
    if spec.jobs:
        _bound_cluster_wait(spec, timeout_seconds)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError) as exc:
        raise ClusterError(
            f"the multi-worker cluster did not form within {timeout_seconds:g}s "
            f"(ZOO_MULTIWORKER_TIMEOUT): {_missing_tasks(exc, spec)}; start `zoo … --strategy multiworker` "
            f"on every worker of TF_CONFIG ({', '.join(_workers(spec))}) with free ports"
        ) from exc


def _bound_cluster_wait(spec: Any, timeout_seconds: float) -> None:
    """Configure TensorFlow's coordination service as ``MultiWorkerMirroredStrategy`` does,
    except that tasks must register within ``timeout_seconds`` (TensorFlow's default waits
    forever for a missing task on the leader). Uses TensorFlow-internal modules; if a release has
    moved them, the strategy keeps TensorFlow's defaults."""
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2 as pb
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.eager import context
    except ImportError:
        return
    jobs = [pb.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job)) for job in ("chief", "worker") if job in spec.jobs]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs,
        cluster_register_timeout_in_ms=int(timeout_seconds * 1000),
    )
    config = context.context().coordination_service
    if config is not None and hasattr(config, "cluster_register_with_barrier"):
        config.cluster_register_with_barrier = True  # the leader, too, stops waiting at the timeout


def _workers(spec: Any) -> list[str]:
    return [address for job in ("chief", "worker") if job in spec.jobs for address in spec.job_tasks(job)]


def _missing_tasks(exc: BaseException, spec: Any) -> str:
    """Which tasks TensorFlow said were missing, as ``worker 1 (host:port)``, or its reason."""
    text = str(exc)
    if "timed out task names" in text:
        text = text.split("timed out task names", 1)[1]
    tasks = _tasks(text)
    if tasks:
        return "no answer from " + ", ".join(
            f"{job} {index} ({spec.task_address(job, index)})" for job, index in tasks)
    return _reason(exc)


# -- failures -------------------------------------------------------------------------------------
def _own_task() -> tuple[str, int] | None:
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task") or {}
        return (str(task["type"]), int(task["index"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _tasks(text: str) -> list[tuple[str, int]]:
    """The cluster tasks a TensorFlow message names, in order, this worker's own left out."""
    own, found = _own_task(), []
    for job, index in _TASK.findall(text):
        task = (job, int(index))
        if task != own and task not in found:
            found.append(task)
    return found


def _reason(exc: BaseException) -> str:
    """The line of a TensorFlow error message that says what happened (not "Graph execution error")."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", str(exc))  # TensorFlow's {{function_node …}} prefixes
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    keys = ("unhealthy", "aborted", "socket closed", "connection", "deadline", "timed out", "unavailable")
    for index, line in enumerate(lines):
        if any(key in line.lower() for key in keys) and not line.startswith("File "):
            if line.endswith(":") and index + 1 < len(lines):  # "… unhealthy (…):" then the tasks
                line = f"{line} {lines[index + 1]}"
            return line[:200]
    return (lines[-1] if lines else type(exc).__name__)[:200]


@contextlib.contextmanager
def cluster_errors(what: str) -> Iterator[None]:
    """Turn TensorFlow's lost-peer errors raised inside into one-line :class:`ClusterError`\\ s."""
    try:
        yield
    except Exception as exc:  # only TensorFlow's lost-peer errors are converted
        if type(exc).__name__ not in _LOST_PEER_ERRORS or not type(exc).__module__.startswith("tensorflow"):
            raise
        tasks = _tasks(str(exc))
        lost = ", ".join(f"{job} {index}" for job, index in tasks) or "a worker"
        raise ClusterError(
            f"multi-worker {what}: lost contact with {lost} ({_reason(exc)}); every worker in TF_CONFIG "
            "must run until the end, so this one stops too"
        ) from exc


# -- data -----------------------------------------------------------------------------------------
def is_multiworker(model: Any) -> bool:
    """Whether ``model`` was built under a ``MultiWorkerMirroredStrategy``."""
    import tensorflow as tf

    return isinstance(getattr(model, "distribute_strategy", None), tf.distribute.MultiWorkerMirroredStrategy)


def distribute(strategy: Any, dataset: Any) -> Any:
    """``dataset`` (global batches of ``(x, y[, sample_weight])``) split between the replicas,
    each example carrying the size of its global batch."""
    import tensorflow as tf

    def with_global_count(*element: Any) -> Any:
        size = tf.shape(tf.nest.flatten(element)[0])[0]
        return (*element, tf.fill(tf.reshape(size, [1]), size))

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.map(with_global_count).with_options(options))


# -- the step -------------------------------------------------------------------------------------
def _functions(model: Any) -> dict[str, Any]:
    """The model's distributed train and test steps and its metric read-out, traced once per
    compilation (a fine-tuning phase compiles again, with a new optimizer, and trains more weights)."""
    cached = _FUNCTIONS.get(model)
    state = (model.optimizer, [id(v) for v in model.trainable_variables])
    if cached is None or cached["optimizer"] is not state[0] or cached["trainable"] != state[1]:
        import tensorflow as tf

        cached = _FUNCTIONS[model] = {
            "optimizer": state[0], "trainable": state[1],
            "train": _step_function(model, training=True), "test": _step_function(model, training=False),
            # One call, one graph: the metrics' reads across workers go together.
            "metrics": tf.function(model.get_metrics_result)}
    return cached


def _step_function(model: Any, training: bool) -> Any:
    """A ``tf.function`` running one global batch from an iterator on every replica; it returns
    the global batch's ``[loss × examples, examples]``, summed across workers."""
    import keras
    import tensorflow as tf

    strategy = model.distribute_strategy
    replicas = strategy.num_replicas_in_sync

    def replica_step(batch: Any) -> Any:
        *data, counts = batch
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(tuple(data))
        local = tf.shape(counts)[0]
        global_examples = tf.maximum(tf.reduce_max(counts), 1)  # the same on every replica; 1 if empty
        with tf.GradientTape() as tape:
            y_pred = model(x, training=training)
            # Keras divides the local mean (regularisation included) by the replica count
            # under a strategy; undo that, then take this replica's share of the global mean.
            mean = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
            mean = tf.cast(mean, "float32") * replicas
            share = mean * tf.cast(local, "float32") / tf.cast(global_examples, "float32")
            scaled = model.optimizer.scale_loss(share) if training else share
        if training and model.trainable_variables:
            gradients = tape.gradient(scaled, model.trainable_variables)
            model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        return tf.stack([mean * tf.cast(local, "float32"), tf.cast(local, "float32")])

    @tf.function
    def step(iterator: Any) -> Any:
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        return strategy.reduce("SUM", per_replica, axis=None)

    return step


class _Passes:
    """A split's global batches, distributed, pass after pass. A split whose length TensorFlow
    knows is read through one iterator over its repetitions (making a distributed iterator costs
    a third of a second or more, every epoch), which the step functions run on capture instead of
    taking it as an argument (matching a distributed iterator's type on every call cost about
    0.5 ms a step); others get a new iterator per pass."""

    def __init__(self, strategy: Any, dataset: Any) -> None:
        self.batches = int(dataset.cardinality())
        self.known = self.batches > 0
        self.dataset = distribute(strategy, dataset.repeat() if self.known else dataset)
        self.iterator: Any = None
        self.position = 0  # batches already taken from the current pass (known lengths only)
        self.bound: dict[Any, Any] = {}  # step function -> the same step on this split's iterator

    def _call(self, step: Any) -> Any:
        """``step`` of this split's current batch: a function of no argument."""
        if not self.known:
            return lambda: step(self.iterator)
        if step not in self.bound:
            import tensorflow as tf

            iterator = self.iterator
            self.bound[step] = tf.function(lambda: step.python_function(iterator))
        return self.bound[step]

    def run(self, step: Any, limit: int | None, before: Any = None, after: Any = None) -> tuple[float, float, int]:
        """Run ``step`` on up to ``limit`` batches (None: to the end of the pass), calling
        ``before(batch_index)`` before each and ``after(batch_index, loss_sum, examples)`` after
        each; stop early when ``after`` returns True.
        A pass is never crossed: the epoch ends at its end, as Keras's ``fit`` does. Returns the
        loss sum, the examples and the batches run."""
        import tensorflow as tf

        if self.iterator is None:
            self.iterator = iter(self.dataset)
        if self.known:
            left = self.batches - self.position
            limit = left if limit is None else min(limit, left)
        call = self._call(step)
        loss_sum = examples = 0.0
        done = 0
        while limit is None or done < limit:
            if before is not None:
                before(done)
            try:
                batch_sum, batch_examples = call().numpy()
            except tf.errors.OutOfRangeError:  # an unknown length has run out: a new pass next time
                self.iterator = None
                break
            loss_sum, examples, done = loss_sum + float(batch_sum), examples + float(batch_examples), done + 1
            if after is not None and after(done - 1, loss_sum, examples):
                break
        if self.known:
            self.position = (self.position + done) % self.batches
        return loss_sum, examples, done


def _metric_logs(model: Any, loss_sum: float, examples: float) -> dict[str, float]:
    """The loss averaged over every example seen, and the compiled metrics read across workers
    (every worker must read them: each read is a collective)."""
    logs = {"loss": loss_sum / examples if examples else float("nan")}
    for name, value in _functions(model)["metrics"]().items():
        if name != "loss":  # Keras's own loss tracker, which this loop does not feed
            logs[name] = float(value)
    return logs


# -- fit and evaluate -----------------------------------------------------------------------------
def evaluate_distributed(model: Any, dataset: Any, passes: _Passes | None = None) -> dict[str, float]:
    """``model.evaluate(dataset, return_dict=True)`` for a model under a multi-worker strategy:
    the loss and compiled metrics over one pass of the split, each worker scoring its part."""
    passes = passes or _Passes(model.distribute_strategy, dataset)
    with cluster_errors("evaluation"):
        model.reset_metrics()
        loss_sum, examples, _ = passes.run(_functions(model)["test"], None)
        return _metric_logs(model, loss_sum, examples)


def fit_distributed(model: Any, datasets: dict[str, Any], epochs: int, initial_epoch: int, entry: Any,
                    callbacks: list[Any], verbose: Any) -> dict[str, list[float]]:
    """``model.fit`` for a model compiled under a multi-worker strategy: train ``epochs`` epochs
    on ``datasets["train"]`` (validating on ``datasets["validation"]`` after each, when present),
    driving ``callbacks``; returns the history as ``{metric: [value per epoch]}``."""
    import keras

    strategy = model.distribute_strategy
    steps_per_epoch = entry.recipe.steps_per_epoch
    train = _Passes(strategy, datasets["train"])
    validation = _Passes(strategy, datasets["validation"]) if datasets.get("validation") is not None else None
    step = _functions(model)["train"]
    history = keras.callbacks.History()
    verbose = 1 if verbose == "auto" else int(verbose)
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history], add_history=False,
        add_progbar=bool(verbose) and bool(strategy.extended.should_checkpoint),  # the chief's only
        model=model, verbose=verbose, epochs=initial_epoch + epochs,
        steps=steps_per_epoch or (train.batches if train.known else None))

    def after_batch(batch: int, loss_sum: float, examples: float) -> bool:
        callback_list.on_train_batch_end(batch, {"loss": loss_sum / examples if examples else 0.0})
        return bool(model.stop_training)

    model.stop_training = False
    logs: dict[str, float] = {}
    with cluster_errors(f"training of {entry.name}"):
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, initial_epoch + epochs):
            model.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            loss_sum, examples, _ = train.run(step, steps_per_epoch, callback_list.on_train_batch_begin, after_batch)
            logs = _metric_logs(model, loss_sum, examples)
            if validation is not None:
                logs.update({f"val_{name}": value
                             for name, value in evaluate_distributed(model, None, validation).items()})
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        callback_list.on_train_end(logs)
    return {name: [float(v) for v in values] for name, values in history.history.items()}


__all__ = [
    "cluster_errors",
    "create_strategy",
    "distribute",
    "evaluate_distributed",
    "fit_distributed",
    "is_multiworker",
]
