"""Measuring one entry inside a bench worker: train it (``zoo.runner.train``), then time
inference on the trained model, estimate its FLOPs and read the process's peak memory.

Epoch times (the first, which includes tracing, apart from the rest), steady-state training
throughput, time to the entry's target, final metrics on every split, inference throughput after
a warm-up on the very input timed, training FLOPs per sample, peak RSS, and the environment.
"""
from __future__ import annotations

import logging
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from zoo.environment import tf_environment
from zoo.errors import ZooError
from zoo.rows import BenchRow, TargetRecord
from zoo.splits import REPORT_ORDER

MULTIWORKER_INFERENCE_PASSES = 5
Progress = Callable[[str], None]
log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def inference_throughput(model: Any, entry: Any, registry: Any, max_samples: int = 2048,
                         min_seconds: float = 0.25, passes: int | None = None) -> dict[str, Any]:
    """Samples per second of ``model.predict`` on the entry's evaluation split (test, else
    validation, else train), after a warm-up pass that traces the predict function; repeated
    until ``min_seconds`` have passed so tiny datasets still give a stable figure, or exactly
    ``passes`` times (under a multi-worker strategy every worker must run the same number of
    predict calls, each a collective, so a clock cannot decide when to stop)."""
    import numpy as np

    from zoo.pipeline import AUGMENT, load_splits, pipeline

    splits = load_splits(entry, registry)
    splits.pop(AUGMENT, None)
    split_name = next(s for s in REPORT_ORDER if s in splits)
    batch_size = entry.recipe.batch_size
    ds = pipeline(splits[split_name], batch_size, training=False, seed=entry.recipe.seed, cache=False)
    chunks, total = [], 0
    for x, _ in ds:
        chunks.append(np.asarray(x))
        total += len(chunks[-1])
        if total >= max_samples:
            break
    x = np.concatenate(chunks)[:max_samples]
    if len(x) >= batch_size:  # whole batches only: a ragged last batch would retrace
        x = x[: len(x) // batch_size * batch_size]
    # Warm-up on the very input timed below: with steps_per_execution > 1 a shorter input traces
    # a different function than the timed one, whose tracing would then be timed.
    model.predict(x, batch_size=batch_size, verbose=0)
    samples, start = 0, time.perf_counter()
    while True:
        model.predict(x, batch_size=batch_size, verbose=0)
        samples += len(x)
        elapsed = time.perf_counter() - start
        if passes is not None:
            if samples >= passes * len(x):
                break
        elif elapsed >= min_seconds or samples >= 50 * max_samples:
            break
    return {"inference_samples_per_second": samples / elapsed, "inference_batch_size": batch_size,
            "inference_split": split_name}


def forward_flops(model: Any, input_shape: Sequence[int]) -> int | None:
    """FLOPs of one forward pass for one example, counted by TensorFlow's (v1) profiler on the
    frozen graph of the model's call; ``None`` when the model cannot be frozen or profiled."""
    try:
        import tensorflow as tf
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        from zoo.tfruntime import _captured_stderr

        with _captured_stderr(replay=False):  # the v1 profiler prints deprecation notices
            function = tf.function(lambda inputs: model(inputs, training=False))
            concrete = function.get_concrete_function(tf.TensorSpec([1, *input_shape], model.inputs[0].dtype))
            frozen = convert_variables_to_constants_v2(concrete)
            options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
            options["output"] = "none"
            info = tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(),
                                                 cmd="op", options=options)
        return int(info.total_float_ops) or None
    except Exception:  # an estimate only: never fail a benchmark for it
        return None


def progress_callback(label: str, report: Progress, every: float = 5.0) -> Any:
    """A Keras callback reporting epoch progress through ``report``, at most every ``every``
    seconds (and for the first and last epoch), so long epochs and many tiny ones both stay readable."""
    import keras

    class _Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            self.last = time.perf_counter()
            self.epoch = 0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            if now - self.last >= every:
                self.last = now
                steps = self.params.get("steps")
                report(f"{label} epoch {self.epoch + 1}/{self.params.get('epochs')} "
                       f"batch {batch + 1}/{steps or '?'} ({now - self.epoch_start:.0f}s)")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            epochs = self.params.get("epochs")
            if epoch == 0 or epoch + 1 == epochs or now - self.last >= every:
                self.last = now
                shown = " ".join(f"{k}={float(v):.4g}" for k, v in (logs or {}).items() if k != "learning_rate")
                report(f"{label} epoch {epoch + 1}/{epochs} {now - self.epoch_start:.1f}s {shown}")

    return _Progress()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def measure(entry: Any, registry: Any, *, strategy: str = "default", repeat: int = 0, save: bool = False,
            label: str | None = None, quiet_tf: bool = True, progress: Progress = log.info) -> BenchRow:
    """Train ``entry`` (in this process) and return its benchmark row. Raises ZooError on bad
    input; a NaN/inf loss gives a row with ``status = "failed"``."""
    from zoo.tfruntime import import_tensorflow

    # Quietly, with the recipe's threads, before anything else imports TensorFlow (keras does).
    import_tensorflow(not quiet_tf, entry.recipe.intra_op_threads, entry.recipe.inter_op_threads)
    import keras

    from zoo import runner

    label = label or f"[{entry.name}]"
    callbacks = [progress_callback(label, progress), keras.callbacks.TerminateOnNaN()]
    trained = runner.train(entry, registry, save=save, verbose=0, quiet_tf=quiet_tf,
                           extra_callbacks=callbacks, strategy=strategy)
    result, model = trained.result, trained.model
    recipe = entry.recipe
    epoch_seconds = list(result.epoch_seconds)
    steady = epoch_seconds[1:] or epoch_seconds
    seconds_per_epoch = statistics.median(steady) if steady else None
    samples_per_epoch = result.train_examples
    if recipe.steps_per_epoch:
        samples_per_epoch = min(samples_per_epoch, recipe.steps_per_epoch * recipe.batch_size)
    row = BenchRow(
        entry=entry.name,
        status="ok",
        error=None,
        repeat=repeat,
        seed=recipe.seed,
        strategy=strategy,
        replicas=result.replicas,
        params=result.params_total,
        params_trainable=result.params_trainable,
        epochs=result.epochs,
        epochs_planned=recipe.epochs,
        batch_size=recipe.batch_size,
        train_examples=result.train_examples,
        samples_per_epoch=samples_per_epoch,
        phases=result.phases,
        train_seconds=result.train_seconds,
        first_epoch_seconds=epoch_seconds[0] if epoch_seconds else None,
        seconds_per_epoch=seconds_per_epoch,
        epoch_seconds=epoch_seconds,
        samples_per_second=samples_per_epoch / seconds_per_epoch if seconds_per_epoch else None,
        target=(TargetRecord(metric=entry.target.metric, value=entry.target.value, mode=entry.target.mode)
                if entry.target else None),
        time_to_target_seconds=result.time_to_target_seconds,
        metrics=result.metrics,
        history=result.history,
        model_dir=result.model_dir,
        inference_samples_per_second=None,
        flops_per_sample=None,
        gflops_per_second=None,
    )
    losses = result.history.get("loss", [])
    bad = next((i for i, v in enumerate(losses) if not _finite(v)), None)
    if bad is not None:
        row["status"] = "failed"
        row["error"] = f"loss became {losses[bad]} in epoch {bad + 1}; training stopped (learning rate too high?)"
    if row["status"] == "ok":
        try:
            row.update(inference_throughput(model, entry, registry,
                                            passes=MULTIWORKER_INFERENCE_PASSES if strategy == "multiworker" else None))
        except (ZooError, ValueError, TypeError) as exc:  # a secondary figure: keep the row
            row["inference_note"] = f"not measured: {type(exc).__name__}: {exc}"[:300]
        flops = forward_flops(model, entry.input_shape)
        # Training ≈ forward + backward ≈ 3× the forward pass (the usual rule of thumb).
        row["flops_per_sample"] = 3 * flops if flops else None
        row["gflops_per_second"] = (row["flops_per_sample"] * row["samples_per_second"] / 1e9
                                    if flops and row["samples_per_second"] else None)
    row["peak_rss_mb"] = peak_rss_mb()
    row["environment"] = tf_environment(strategy, result.replicas, recipe.seed)
    return row


__all__ = ["measure", "inference_throughput", "forward_flops", "peak_rss_mb", "progress_callback"]
