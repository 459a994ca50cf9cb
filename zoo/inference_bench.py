"""``zoo bench-inference``: a trained entry's inference, per format and runtime, side by side.

For each entry and each format (:data:`FORMATS`) one row (``kind = "inference"``): the model
file's size, the evaluation split's accuracy (test, else validation) through that runtime, its
largest output difference from the Keras model and its top-1 agreement, batch-1 latency (p50 and
p99 over timed calls after a warm-up) and batch-64 throughput. ``keras`` gives three rows: the
same model through ``model.predict``, a direct call and a ``tf.function``-compiled call. Exports
are made (``zoo export``, with its parity check) when missing or older than the model. Rows go
to the benchmark history (:mod:`zoo.store`) like training rows, so ``zoo runs``, ``zoo compare``
and ``zoo report`` show them.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from zoo.artifacts import MODEL_FILE, model_dir
from zoo.errors import ZooError
from zoo.rows import BenchRow

log = logging.getLogger(__name__)

#: format name → (export format, quantization); "keras" is the model itself
FORMATS: dict[str, tuple[str, str]] = {
    "keras": ("keras", "none"),
    "saved_model": ("saved_model", "none"),
    "tflite": ("tflite", "none"),
    "tflite-float16": ("tflite", "float16"),
    "tflite-dynamic": ("tflite", "dynamic"),
    "tflite-int8": ("tflite", "int8"),
    "onnx": ("onnx", "none"),
}
DEFAULT_FORMATS = ("keras", "saved_model", "tflite", "tflite-int8", "onnx")
KERAS_MODES = ("predict", "call", "function")


@dataclass
class InferenceOptions:
    """How long to measure: ``repeats`` rounds of timed batch-1 calls (one call of each runtime
    per round) after ``warmup`` rounds, or fewer when ``max_seconds`` (for all runtimes together)
    runs out first, but at least ``min_calls``; batch-``batch_size`` calls for at least
    ``throughput_seconds`` per runtime; ``examples`` of the evaluation split for accuracy (None: all)."""

    repeats: int = 200
    warmup: int = 10
    max_seconds: float = 30.0
    min_calls: int = 20
    batch_size: int = 64
    throughput_seconds: float = 2.0
    examples: int | None = None
    threads: int | None = None


def parse_formats(text: str | list[str]) -> list[str]:
    names = [f.strip() for f in (text.split(",") if isinstance(text, str) else text) if f.strip()]
    unknown = [f for f in names if f not in FORMATS]
    if unknown:
        from zoo.errors import UnknownNameError

        raise UnknownNameError("format", unknown[0], FORMATS)
    return names


# -- measurements -------------------------------------------------------------------------------
def _interleaved(runs: list[Callable[[Any], Any]], x: Any, rounds: int, min_rounds: int, seconds: float,
                 failed: dict[int, str]) -> list[list[float]]:
    """Seconds of each call of every run on ``x``, in rounds (one call of each per round), so that
    a machine busy for a while slows every runtime alike; stops after ``rounds``, or at
    ``seconds`` once ``min_rounds`` are done. A run that raises is left out of later rounds
    (its error in ``failed``)."""
    times: list[list[float]] = [[] for _ in runs]
    deadline = time.perf_counter() + seconds
    done = 0
    while done < rounds and (done < min_rounds or time.perf_counter() < deadline):
        for i, run in enumerate(runs):
            if i in failed:
                continue
            start = time.perf_counter()
            try:
                run(x)
            except Exception as exc:  # noqa: BLE001  one runtime's failure is its row's, not the bench's
                failed[i] = f"{type(exc).__name__}: {exc}"[:500]
                continue
            times[i].append(time.perf_counter() - start)
        done += 1
    return times


def latencies(runs: list[Callable[[Any], Any]], example: Any, options: InferenceOptions,
              failed: dict[int, str]) -> list[tuple[float, float, int] | None]:
    """(p50 ms, p99 ms, timed calls) of each run on one example, after ``warmup`` calls each,
    the runs interleaved; ``repeats`` rounds or ``max_seconds`` for all of them."""
    import numpy as np

    _interleaved(runs, example, options.warmup, options.warmup, 0.0, failed)
    times = _interleaved(runs, example, options.repeats, options.min_calls, options.max_seconds, failed)
    out: list[tuple[float, float, int] | None] = []
    for calls in times:
        ms = np.asarray(calls) * 1000.0
        out.append((float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(calls)) if len(calls) else None)
    return out


def throughputs(runs: list[Callable[[Any], Any]], batch: Any, options: InferenceOptions,
                failed: dict[int, str]) -> list[float | None]:
    """Examples per second of each run on ``batch`` (two warm-up calls each), interleaved, over
    at least ``throughput_seconds`` per run (3 calls)."""
    _interleaved(runs, batch, 2, 2, 0.0, failed)
    times = _interleaved(runs, batch, 10**9, 3, options.throughput_seconds * len(runs), failed)
    return [len(calls) * len(batch) / sum(calls) if calls else None for calls in times]


def outputs_of(run: Callable[[Any], Any], x: Any, batch_size: int) -> Any:
    import numpy as np

    return np.concatenate([np.asarray(run(x[i:i + batch_size])).reshape(len(x[i:i + batch_size]), -1)
                           for i in range(0, len(x), batch_size)])


def score(outputs: Any, y: Any, task: str) -> dict[str, float]:
    """Accuracy (classifiers) or mean absolute error (regression) of outputs against labels."""
    import numpy as np

    y = np.asarray(y)
    if task == "multiclass":
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(-1)
        return {"accuracy": float(np.mean(outputs.argmax(axis=1) == labels))}
    if task == "binary":
        return {"accuracy": float(np.mean((outputs[:, 0] >= 0.5) == (y.reshape(-1) >= 0.5)))}
    return {"mae": float(np.mean(np.abs(outputs - y.reshape(len(y), -1))))}


# -- one entry ------------------------------------------------------------------------------------
def _runtimes(name: str, fmt: str, model: Any, splits: dict[str, Any], options: InferenceOptions,
              quiet_tf: bool) -> list[tuple[Any, dict[str, Any]]]:
    """The runtime(s) of one format, exported first when needed, with facts for the row."""
    from zoo.export import export, export_path
    from zoo.runtimes import KerasRuntime, open_export

    kind, quantization = FORMATS[fmt]
    if kind == "keras":
        path = model_dir(name) / MODEL_FILE
        return [(KerasRuntime(model, mode, path), {}) for mode in KERAS_MODES]
    path = export_path(name, kind, quantization)
    facts: dict[str, Any] = {}
    if not path.exists() or path.stat().st_mtime < (model_dir(name) / MODEL_FILE).stat().st_mtime:
        result = export(name, kind, quantization, model=model, splits=splits, quiet_tf=quiet_tf)
        facts = {"export_seconds": result.seconds, "parity": result.parity.line(),
                 "parity_passed": result.parity.passed}
    return [(open_export(kind, path, quantization, options.threads), facts)]


def bench_entry(name: str, formats: list[str], options: InferenceOptions | None = None, quiet_tf: bool = True,
                on_row: Callable[[BenchRow], None] | None = None) -> list[BenchRow]:
    """Rows for entry ``name``'s trained model in each format; a format that fails gives a
    ``failed`` row naming why (a missing package with its install line), the others go on.
    Every runtime is opened (exported when needed) and scored first; then batch-1 latency and
    batch-64 throughput are measured with the runtimes interleaved, call by call."""
    import numpy as np

    from zoo.export import load_for_export, saved_entry, take_examples
    from zoo.runtimes import KerasRuntime, usable_cpus
    from zoo.splits import TEST, VALIDATION

    options = options or InferenceOptions()
    entry = saved_entry(name)
    model, splits = load_for_export(entry, quiet_tf)
    split = TEST if TEST in splits else VALIDATION if VALIDATION in splits else None
    if split is None:
        raise ZooError(f"entry {name!r}: its dataset has no test or validation split to score inference on")
    x, y = take_examples(splits[split], options.examples or 10**9)
    x = x.astype(np.float32)
    reference = outputs_of(KerasRuntime(model, "function").run, x, options.batch_size)
    batch = np.resize(x, (options.batch_size, *x.shape[1:])) if len(x) < options.batch_size else x[:options.batch_size]
    rows: list[BenchRow] = []
    opened: list[tuple[dict[str, Any], Any, dict[str, Any]]] = []  # (row base, runtime, facts)
    for fmt in formats:
        kind, quantization = FORMATS[fmt]
        base: dict[str, Any] = {"kind": "inference", "entry": name, "format": kind, "quantization": quantization,
                                "repeat": 0, "seed": entry.recipe.seed, "inference_split": split,
                                "inference_batch_size": options.batch_size, "params": int(model.count_params()),
                                "threads": options.threads or usable_cpus()}
        try:
            opened += [(base, runtime, facts) for runtime, facts in _runtimes(name, fmt, model, splits, options, quiet_tf)]
        except (ZooError, OSError, ValueError, RuntimeError) as exc:
            rows.append(BenchRow(**base, runtime=fmt, status="failed", error=f"{type(exc).__name__}: {exc}"[:500],
                                 metrics={}))  # type: ignore[typeddict-item]
    failed: dict[int, str] = {}
    outputs: list[Any] = []
    for i, (_, runtime, _) in enumerate(opened):
        try:
            outputs.append(reference if getattr(runtime, "mode", None) == "function" else
                           outputs_of(runtime.run, x, options.batch_size))
        except Exception as exc:  # noqa: BLE001  a runtime's own failure: a failed row, not a crash
            failed[i] = f"{type(exc).__name__}: {exc}"[:500]
            outputs.append(None)
    runs = [runtime.run for _, runtime, _ in opened]
    timed = latencies(runs, x[:1], options, failed)
    per_second = throughputs(runs, batch, options, failed)
    for i, (base, runtime, facts) in enumerate(opened):
        if i in failed:
            rows.append(BenchRow(**base, runtime=runtime.runtime, status="failed", metrics={},  # type: ignore[typeddict-item]
                                 error=failed[i]))
            continue
        out = outputs[i]
        agreement = None
        if entry.task == "multiclass":
            agreement = float(np.mean(out.argmax(1) == reference.argmax(1)))
        elif entry.task == "binary":
            agreement = float(np.mean((out[:, 0] >= 0.5) == (reference[:, 0] >= 0.5)))
        p50, p99, calls = timed[i]  # type: ignore[misc]
        rows.append(BenchRow(**base, **facts, runtime=runtime.runtime, status="ok", error=None,  # type: ignore[typeddict-item]
                             size_bytes=runtime.size_bytes, metrics={split: score(out, y, entry.task)},
                             latency_p50_ms=p50, latency_p99_ms=p99, latency_calls=calls,
                             inference_samples_per_second=per_second[i],
                             max_abs_diff=float(np.abs(out - reference).max()), agreement=agreement,
                             model_dir=str(runtime.path)))
    if on_row:
        for row in rows:
            on_row(row)
    return rows


def run_inference_bench(names: list[str], formats: list[str], options: InferenceOptions | None = None, *,
                        store: bool = True, command: str = "", quiet_tf: bool = True,
                        on_row: Callable[[BenchRow], None] | None = None) -> tuple[int | None, list[BenchRow]]:
    """Bench every entry in ``names`` (one after the other, in this process); rows are stored
    in the history as they come when ``store``. Returns ``(run id, rows)``."""
    from zoo.environment import base_environment

    rows: list[BenchRow] = []
    history = None
    run_id = None
    if store:
        from zoo.store import open_store

        history = open_store()
        run_id = history.start_run(command, {"entries": list(names), "kind": "inference", "formats": list(formats)},
                                   base_environment())
    status, environment_kept = "failed", False
    try:
        for name in names:
            def keep(row: BenchRow, name: str = name) -> None:
                if history is not None:
                    history.add_row(run_id, dict(row), entry_config=_entry_config(name))
                if on_row:
                    on_row(row)

            try:
                rows += bench_entry(name, formats, options, quiet_tf, keep)
            except ZooError as exc:
                row = BenchRow(kind="inference", entry=name, status="failed", error=str(exc), metrics={},  # type: ignore[typeddict-item]
                               repeat=0)
                rows.append(row)
                keep(row)
            if "keras" in sys.modules:  # a model was loaded
                if history is not None and not environment_kept:
                    from zoo.environment import tf_environment

                    history.update_environment(run_id, tf_environment("default", 1, None))
                    environment_kept = True
                sys.modules["keras"].backend.clear_session()
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if history is not None:
            history.finish_run(run_id, status)
            history.close()
    return run_id, rows


def _entry_config(name: str) -> dict[str, Any]:
    import json

    try:
        return json.loads((model_dir(name) / "entry.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


__all__ = ["FORMATS", "DEFAULT_FORMATS", "InferenceOptions", "parse_formats", "latencies", "throughputs", "score",
           "bench_entry", "run_inference_bench"]
