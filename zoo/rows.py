"""A benchmark row: the typed record that bench writes, the store keeps and report renders.

Rows travel as JSON (worker → parent, parent → SQLite), so the record is a ``TypedDict``: a plain
dict with its keys and types declared once, here. Old rows in a history database may lack keys
added later; readers use ``row.get``.
"""
from __future__ import annotations

from typing import Any, TypedDict


class TargetRecord(TypedDict):
    metric: str
    value: float
    mode: str


class BenchRow(TypedDict, total=False):
    """One entry × repeat (× sweep point) of a benchmark."""

    # identity
    entry: str
    status: str                      # ok | failed (aggregates: partial)
    error: str | None
    repeat: int
    seed: int | None
    label: str | None                # the overrides of a sweep point, when there are any
    strategy: str
    replicas: int | None
    # the model and the recipe
    params: int
    params_trainable: int
    epochs: int
    epochs_planned: int
    batch_size: int
    train_examples: int
    samples_per_epoch: int
    phases: list[dict[str, Any]]
    # training time
    train_seconds: float
    first_epoch_seconds: float | None
    seconds_per_epoch: float | None
    epoch_seconds: list[float]
    samples_per_second: float | None
    target: TargetRecord | None
    time_to_target_seconds: float | None
    # results
    metrics: dict[str, dict[str, float]]
    history: dict[str, list[float]]
    model_dir: str | None
    # inference and cost
    inference_samples_per_second: float | None
    inference_batch_size: int
    inference_split: str
    inference_note: str
    # inference rows (zoo bench-inference): kind "inference", one per entry × runtime × format
    kind: str                        # "inference" (training rows have none)
    runtime: str                     # keras model.predict | keras direct call | keras tf.function | litert | ...
    format: str                      # keras | saved_model | tflite | onnx
    quantization: str                # none | float16 | dynamic | int8
    size_bytes: int | None           # the model file (a SavedModel: its folder)
    latency_p50_ms: float | None     # batch 1, after warm-up
    latency_p99_ms: float | None
    latency_calls: int
    max_abs_diff: float | None       # largest output difference from the Keras model (evaluation split)
    agreement: float | None          # top-1 agreement with the Keras model (classifiers)
    threads: int | None
    export_seconds: float            # when this bench made the export: how long it took,
    parity: str                      # its parity line (zoo export's),
    parity_passed: bool              # and whether it passed
    flops_per_sample: int | None
    gflops_per_second: float | None
    peak_rss_mb: float
    worker_seconds: float
    wall_seconds: float
    node: str | None                 # the host that ran the row
    environment: dict[str, Any]
    # attached after the fact: the history run that holds the row (the CLI's output), and the
    # resolved entry it trained (zoo.store.Store.rows)
    run_id: int
    entry_config: dict[str, Any]


#: Numeric fields summarised over repeats (median, with their spread).
NUMERIC_FIELDS: tuple[str, ...] = (
    "params", "params_trainable", "epochs", "train_seconds", "first_epoch_seconds", "seconds_per_epoch",
    "samples_per_second", "time_to_target_seconds", "inference_samples_per_second", "peak_rss_mb",
    "flops_per_sample", "gflops_per_second", "wall_seconds", "size_bytes", "latency_p50_ms", "latency_p99_ms",
)
#: Fields whose spread is shown in tables when there are repeats.
SPREAD_FIELDS: tuple[str, ...] = ("train_seconds", "seconds_per_epoch", "samples_per_second",
                                  "time_to_target_seconds", "inference_samples_per_second")
#: Fields that are not scalars (CSV flattens or leaves them out).
NESTED_FIELDS: tuple[str, ...] = ("metrics", "environment", "target", "spread", "history", "repeat_rows", "entry_config")


def failed_row(entry: str, error: str, repeat: int = 0, **extra: Any) -> BenchRow:
    """A row for a run that produced no measurements."""
    return BenchRow(entry=entry, status="failed", error=error, repeat=repeat, metrics={}, **extra)  # type: ignore[typeddict-item]


def is_ok(row: BenchRow | dict[str, Any]) -> bool:
    return row.get("status", "ok") == "ok"


assert set(NUMERIC_FIELDS) <= set(BenchRow.__annotations__), "NUMERIC_FIELDS names a key BenchRow lacks"

__all__ = ["BenchRow", "TargetRecord", "NUMERIC_FIELDS", "SPREAD_FIELDS", "NESTED_FIELDS", "failed_row", "is_ok"]
