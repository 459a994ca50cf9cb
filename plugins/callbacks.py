"""Training callbacks as plugins: the course's ``myCallback`` and Keras' standard ones.

Every factory returns a ``keras.callbacks.Callback``. Factories that declare ``run_dir``,
``target`` or ``entry`` get them filled in by zoo for the run (``run_dir`` is
``ZOO_HOME/runs/ENTRY-TIME-PID``, one folder per run). Keras is imported only inside factories.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from zoo.api import hookimpl, improvement_mode, reached

def _mode_for(metric: str, mode: str) -> str:
    if mode == "auto":
        return improvement_mode(metric)
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max', 'min' or 'auto', not {mode!r}")
    return mode


def stop_at_accuracy(metric: str = "accuracy", value: float = 0.99, mode: str = "auto", verbose: bool = True) -> Any:
    """The course's ``myCallback``: stop training at the end of the first epoch where ``metric``
    passes ``value`` (``>=`` for accuracies, ``<=`` for losses), saying which metric and when."""
    import keras

    mode = _mode_for(metric, mode)
    threshold = float(value)

    class StopAtAccuracy(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.stopped_epoch: int | None = None
            self.stopped_value: float | None = None
            self.seconds: float | None = None

        def on_train_begin(self, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            current = (logs or {}).get(metric)
            if current is None or not reached(float(current), threshold, mode):
                return
            self.stopped_epoch, self.stopped_value = epoch + 1, float(current)
            self.seconds = time.perf_counter() - self.start
            self.model.stop_training = True
            if verbose:
                sign = ">=" if mode == "max" else "<="
                # stderr: stdout carries zoo train --json and zoo bench --format json|csv.
                print(f"\nzoo: {metric} = {current:.4f} {sign} {threshold} at epoch {epoch + 1} "
                      f"({self.seconds:.1f}s): stopping training", file=sys.stderr)

    return StopAtAccuracy()


def early_stopping(monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0, mode: str = "auto",
                   restore_best_weights: bool = True, start_from_epoch: int = 0) -> Any:
    """``keras.callbacks.EarlyStopping``: stop when ``monitor`` stops improving for ``patience`` epochs."""
    import keras

    return keras.callbacks.EarlyStopping(
        monitor=monitor, patience=int(patience), min_delta=float(min_delta), mode=mode,
        restore_best_weights=bool(restore_best_weights), start_from_epoch=int(start_from_epoch), verbose=1,
    )


def tensorboard(run_dir: str | None = None, log_dir: str | None = None, histogram_freq: int = 0,
                update_freq: str = "epoch", write_graph: bool = False) -> Any:
    """``keras.callbacks.TensorBoard`` logging into this run's folder (``ZOO_HOME/runs/ENTRY-…``),
    so ``tensorboard --logdir ZOO_HOME/runs`` shows one run per folder."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        # TF's summary ops need the tensorboard package; fail before training, not at epoch end.
        raise ValueError("the tensorboard package is not installed (pip install 'zoo-models[tensorboard]')")
    import keras

    folder = log_dir or run_dir
    if not folder:
        raise ValueError("tensorboard needs a log_dir (zoo passes the run folder)")
    Path(folder).mkdir(parents=True, exist_ok=True)
    return keras.callbacks.TensorBoard(log_dir=str(folder), histogram_freq=int(histogram_freq),
                                       update_freq=update_freq, write_graph=bool(write_graph))


def csv_logger(run_dir: str | None = None, filename: str | None = None, separator: str = ",", append: bool = False) -> Any:
    """``keras.callbacks.CSVLogger``: one row per epoch in ``RUN_DIR/history.csv`` (or ``filename``)."""
    import keras

    path = Path(filename) if filename else Path(run_dir or ".") / "history.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    return keras.callbacks.CSVLogger(str(path), separator=separator, append=bool(append))


def terminate_on_nan() -> Any:
    """``keras.callbacks.TerminateOnNaN``: stop at the first NaN/inf loss."""
    import keras

    return keras.callbacks.TerminateOnNaN()


def time_to_target(target: dict[str, Any] | None = None, run_dir: str | None = None, metric: str | None = None,
                   value: float | None = None, mode: str = "auto") -> Any:
    """Record the wall time (from the start of training) at which the entry's target (or
    ``metric``/``value``) is first reached; written to ``RUN_DIR/time_to_target.json`` at the end
    and kept as ``.seconds``/``.epoch`` on the callback. It never stops training."""
    import keras

    if metric is None:
        if not target:
            raise ValueError("time-to-target needs the entry's target or metric= and value=")
        metric, value = target["metric"], target["value"]
        mode = target.get("mode", mode)
    if value is None:
        raise ValueError("time-to-target needs a value")
    mode = _mode_for(metric, mode)
    threshold = float(value)

    class TimeToTarget(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.metric, self.value, self.mode = metric, threshold, mode
            self.seconds: float | None = None
            self.epoch: int | None = None
            self.reached_value: float | None = None

        def on_train_begin(self, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            current = (logs or {}).get(metric)
            if self.seconds is None and current is not None and not math.isnan(float(current)) \
                    and reached(float(current), threshold, mode):
                self.seconds = time.perf_counter() - self.start
                self.epoch, self.reached_value = epoch + 1, float(current)

        def on_train_end(self, logs: Any = None) -> None:
            if run_dir:
                Path(run_dir).mkdir(parents=True, exist_ok=True)
                record = {"metric": metric, "value": threshold, "mode": mode, "seconds": self.seconds,
                          "epoch": self.epoch, "reached_value": self.reached_value}
                (Path(run_dir) / "time_to_target.json").write_text(json.dumps(record, indent=2), encoding="utf-8")

    return TimeToTarget()


@hookimpl
def register_callbacks(register):
    register("stop-at-accuracy", stop_at_accuracy,
             description="Stop when a metric passes a threshold (the course's myCallback); says which and when.",
             params={"metric": "accuracy", "value": 0.99, "mode": "auto", "verbose": True})
    register("early-stopping", early_stopping,
             description="Keras EarlyStopping: stop when the monitored metric stops improving.",
             params={"monitor": "val_loss", "patience": 3, "min_delta": 0.0, "mode": "auto",
                     "restore_best_weights": True, "start_from_epoch": 0})
    register("tensorboard", tensorboard,
             description="Keras TensorBoard logs in ZOO_HOME/runs/<run> (one folder per run).",
             params={"log_dir": None, "histogram_freq": 0, "update_freq": "epoch", "write_graph": False})
    register("csv-logger", csv_logger,
             description="Keras CSVLogger: one row per epoch in the run folder's history.csv.",
             params={"filename": None, "separator": ",", "append": False})
    register("time-to-target", time_to_target,
             description="Record when the entry's target is first reached (wall seconds); never stops training.",
             params={"metric": None, "value": None, "mode": "auto"})
    register("terminate-on-nan", terminate_on_nan,
             description="Keras TerminateOnNaN: stop at the first NaN loss.", params={})
