"""Benchmark rows as tables (any tabulate format), JSON or CSV; repeats summarised; two runs compared.

Nothing here imports TensorFlow: rows are plain dicts (see :mod:`zoo.bench`).
"""
from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zoo.metrics import ACCURACY_METRICS, ERROR_METRICS, higher_is_better
from zoo.output import MISSING, json_safe, missing, render_records
from zoo.rows import NESTED_FIELDS, NUMERIC_FIELDS, SPREAD_FIELDS, is_ok


EXTRA_FORMATS = ("json", "csv")


def table_formats() -> list[str]:
    """Every ``--format`` value: tabulate's table formats, plus json and csv."""
    from tabulate import tabulate_formats

    return sorted({*tabulate_formats, *EXTRA_FORMATS})


def primary_metric(row: dict[str, Any]) -> tuple[str, dict[str, float | None]]:
    """The metric a row is judged by and its value per split: accuracy when the entry has it,
    else its error metric (mae, …), else the loss."""
    metrics: dict[str, dict[str, float]] = row.get("metrics") or {}
    names = {name for values in metrics.values() for name in values}
    for candidate in ACCURACY_METRICS:
        if candidate in names:
            chosen = candidate
            break
    else:
        others = sorted(n for n in names if n != "loss" and n != "compile_metrics")
        chosen = next((n for n in others if n in ERROR_METRICS), others[0] if others else "loss")
    return chosen, {split: values.get(chosen) for split, values in metrics.items()}


def judged_value(row: dict[str, Any]) -> tuple[str, str | None, float | None]:
    """(metric, split, value) a comparison uses: validation, else test, else train."""
    metric, values = primary_metric(row)
    for split in ("validation", "test", "train"):
        if values.get(split) is not None:
            return metric, split, values[split]
    return metric, None, None


# -- repeats ------------------------------------------------------------------------------------
def _median(values: list[float]) -> float | None:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.median(values) if values else None


def _spread(values: list[float]) -> dict[str, float] | None:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(values) < 2:
        return None
    return {"min": min(values), "max": max(values), "stdev": statistics.stdev(values)}


def row_key(row: dict[str, Any]) -> str:
    """What identifies a row's configuration in a run: the entry, and its sweep label if any;
    for an inference row (``zoo bench-inference``) also its runtime, format and quantization."""
    key = f"{row['entry']} [{row['label']}]" if row.get("label") else row["entry"]
    if row.get("kind") == "inference":
        key += f" ({row.get('runtime')}, {row.get('format')}, {row.get('quantization')})"
    return key


def aggregate(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per entry and sweep point (in first-seen order): the median of every numeric
    field and metric over its successful repeats, with ``repeats``, ``seeds`` and ``spread``
    (min/max/stdev per field). With one repeat the row is returned as it is (plus ``repeats = 1``)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row_key(row), []).append(row)
    out = []
    for entry, group in groups.items():
        if len(group) == 1:
            out.append({**group[0], "repeats": 1, "spread": {}})
            continue
        good = [r for r in group if is_ok(r)]
        base = dict(good[0] if good else group[0])
        base.pop("history", None)
        base["repeats"] = len(group)
        base["seeds"] = [r.get("seed") for r in group]
        base["repeat_rows"] = group
        if not good:
            out.append(base)
            continue
        base["status"] = "ok" if len(good) == len(group) else "partial"
        failed = [r for r in group if not is_ok(r)]
        base["error"] = f"{len(failed)}/{len(group)} repeats failed: {failed[0].get('error')}" if failed else None
        spread = {}
        for key in NUMERIC_FIELDS:
            values = [r.get(key) for r in good]
            base[key] = _median(values)
            if key in SPREAD_FIELDS and (s := _spread(values)):
                spread[key] = s
        reached = [r.get("time_to_target_seconds") for r in good if r.get("time_to_target_seconds") is not None]
        if base.get("target"):
            base["target_reached"] = f"{len(reached)}/{len(good)}"
            if len(reached) < len(good):
                base["time_to_target_seconds"] = None  # not reached every time: not a time to target
        metrics: dict[str, dict[str, float | None]] = {}
        for split in {s for r in good for s in (r.get("metrics") or {})}:
            names = {n for r in good for n in r["metrics"].get(split, {})}
            metrics[split] = {}
            for name in sorted(names):
                values = [r["metrics"].get(split, {}).get(name) for r in good]
                metrics[split][name] = _median(values)
                if (s := _spread(values)):
                    spread[f"{split}_{name}"] = s
        base["metrics"] = {s: metrics[s] for s in ("train", "validation", "test") if s in metrics}
        base["spread"] = spread
        out.append(base)
    return out


# -- tables ---------------------------------------------------------------------------------------
TABLE_COLUMNS = [
    ("entry", "entry"), ("label", "sweep point"), ("node", "node"), ("status", "status"),
    ("runtime", "runtime"), ("format", "format"), ("quantization", "quant"), ("size_bytes", "size"),
    ("params", "params"), ("epochs", "epochs"),
    ("train_seconds", "train s"), ("first_epoch_seconds", "1st epoch s"), ("seconds_per_epoch", "s/epoch"),
    ("samples_per_second", "samples/s"), ("time_to_target_seconds", "to target s"), ("metric", "metric"),
    ("train", "train"), ("validation", "val"), ("test", "test"), ("loss", "val/test loss"),
    ("latency_p50_ms", "p50 ms"), ("latency_p99_ms", "p99 ms"),
    ("inference_samples_per_second", "infer/s"), ("peak_rss_mb", "peak MB"),
]


def number_text(value: Any, digits: int = 3) -> str:
    """A number for a table cell: thousands separated, ``digits`` significant digits."""
    if missing(value):
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1e7:
        return f"{value:.{digits}g}"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def size_text(size: Any) -> str:
    """A size in bytes for a table cell: ``980 KB``, ``91.0 MB``."""
    if missing(size) or not isinstance(size, (int, float)):
        return MISSING
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}" if size < 100 * factor else f"{size / factor:,.0f} {unit}"
    return f"{int(size)} B"


def _with_spread(row: dict[str, Any], key: str) -> str:
    text = number_text(row.get(key))
    spread = (row.get("spread") or {}).get(key)
    if spread and row.get(key) is not None:
        text += f" ±{number_text(spread['stdev'], 2)}"
    return text


def display_row(row: dict[str, Any]) -> dict[str, str]:
    """A benchmark row as the strings of the table's columns."""
    metric, values = primary_metric(row)
    metrics = row.get("metrics") or {}
    status = row.get("status", "ok")
    if status != "ok" and row.get("error"):
        error = str(row["error"]).splitlines()[0]
        status = f"{status}: {error[:60]}{'…' if len(error) > 60 else ''}"
    loss_split = "validation" if "validation" in metrics else "test"
    shown = {
        "entry": row["entry"] + (f" (×{row['repeats']})" if (row.get("repeats") or 1) > 1 else ""),
        "label": row.get("label") or MISSING,
        "node": row.get("node") or MISSING,
        "status": status,
        "params": number_text(row.get("params")),
        "epochs": number_text(row.get("epochs")),
        "metric": metric if metrics else "-",
        "loss": number_text(metrics.get(loss_split, {}).get("loss"), 4),
        "peak_rss_mb": number_text(row.get("peak_rss_mb")),
        "runtime": row.get("runtime") or MISSING,
        "format": row.get("format") or MISSING,
        "quantization": row.get("quantization") or MISSING,
        "size_bytes": size_text(row.get("size_bytes")),
        "latency_p50_ms": number_text(row.get("latency_p50_ms")),
        "latency_p99_ms": number_text(row.get("latency_p99_ms")),
    }
    for key in ("train_seconds", "first_epoch_seconds", "seconds_per_epoch", "samples_per_second",
                "inference_samples_per_second"):
        shown[key] = _with_spread(row, key)
    if row.get("target") and is_ok(row) and row.get("time_to_target_seconds") is None:
        shown["time_to_target_seconds"] = "not reached" + (f" ({row['target_reached']})" if row.get("target_reached") else "")
    else:
        shown["time_to_target_seconds"] = _with_spread(row, "time_to_target_seconds")
    for split in ("train", "validation", "test"):
        value = values.get(split)
        spread = (row.get("spread") or {}).get(f"{split}_{metric}")
        shown[split] = number_text(value, 4) + (f" ±{number_text(spread['stdev'], 2)}" if spread and value is not None else "")
    return shown


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """A row as flat scalar columns (for CSV), metrics prefixed by split as timm does
    (``validation_accuracy``), target and environment prefixed (``target_metric``, ``env_tensorflow``)."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key in NESTED_FIELDS:
            continue
        flat[key] = value
    for split, values in (row.get("metrics") or {}).items():
        for name, value in values.items():
            flat[f"{split}_{name}"] = value
    for key, value in (row.get("target") or {}).items():
        flat[f"target_{key}"] = value
    for key, spread in (row.get("spread") or {}).items():
        flat[f"{key}_stdev"] = spread.get("stdev")
    for key, value in (row.get("environment") or {}).items():
        flat[f"env_{key}"] = json.dumps(value, default=str) if isinstance(value, (list, dict)) else value
    return flat


def render(rows: Sequence[dict[str, Any]], fmt: str = "simple") -> str:
    """Rows as text: ``json`` (full rows), ``csv`` (flattened) or a tabulate table."""
    if fmt in ("json", "csv"):
        return render_records(list(rows) if fmt == "json" else [flatten(r) for r in rows], fmt)
    shown = [display_row(r) for r in rows]
    keys = [k for k, _ in TABLE_COLUMNS]
    # Drop columns no row has a value for (e.g. "to target s" when no entry has a target), and
    # the node column when one node ran every row (the run's host, as `zoo runs` shows).
    if len({r.get("node") for r in rows}) < 2:
        keys.remove("node")
    keep = [k for k in keys if k in ("entry", "status") or any(s.get(k) not in (None, MISSING) for s in shown)]
    return render_records(shown, fmt, columns=keep, headers=[label for key, label in TABLE_COLUMNS if key in keep])


# -- comparison -----------------------------------------------------------------------------------
@dataclass
class NoiseBand:
    """How much worse a candidate may be before it counts as a regression."""

    max_slowdown: float = 0.10        # 10% more time (or 10% less throughput)
    max_accuracy_drop: float = 0.005  # 0.5 accuracy points (absolute, accuracy in 0..1)
    max_error_increase: float = 0.10  # 10% more error (regression tasks: mae, loss)


def _ratio(new: Any, old: Any) -> float | None:
    if not isinstance(new, (int, float)) or not isinstance(old, (int, float)) or not old:
        return None
    return new / old


def compare(baseline: Sequence[dict[str, Any]], candidate: Sequence[dict[str, Any]],
            band: NoiseBand | None = None) -> list[dict[str, Any]]:
    """Compare two runs entry by entry (repeats summarised first). Each result has the ratios
    candidate/baseline, the judged metric's change, ``regression`` (bool) and ``reasons``."""
    band = band or NoiseBand()
    old_rows = {row_key(r): r for r in aggregate(baseline)}
    new_rows = {row_key(r): r for r in aggregate(candidate)}
    results = []
    for entry in [*old_rows, *(e for e in new_rows if e not in old_rows)]:
        old, new = old_rows.get(entry), new_rows.get(entry)
        result: dict[str, Any] = {"entry": entry, "regression": False, "reasons": []}
        results.append(result)
        if old is None or new is None:
            result["verdict"] = "only in baseline" if new is None else "only in candidate"
            continue
        if not is_ok(new):
            result["regression"] = is_ok(old)
            result["reasons"].append(f"failed: {new.get('error')}")
            result["verdict"] = "REGRESSION" if result["regression"] else "failed in both"
            continue
        if not is_ok(old):
            result["verdict"] = "fixed (failed in baseline)"
            continue
        # Times: more is worse.
        for key, label in (("train_seconds", "train time"), ("time_to_target_seconds", "time to target")):
            ratio = _ratio(new.get(key), old.get(key))
            result[f"{key}_ratio"] = ratio
            if ratio is not None and ratio > 1 + band.max_slowdown:
                result["reasons"].append(f"{label} ×{ratio:.2f}")
        # Throughputs: less is worse.
        for key, label in (("samples_per_second", "training throughput"),
                           ("inference_samples_per_second", "inference throughput")):
            ratio = _ratio(new.get(key), old.get(key))
            result[f"{key}_ratio"] = ratio
            if ratio is not None and ratio < 1 / (1 + band.max_slowdown):
                result["reasons"].append(f"{label} ×{ratio:.2f}")
        if old.get("target") and old.get("time_to_target_seconds") is not None and new.get("time_to_target_seconds") is None:
            result["reasons"].append("target no longer reached")
        metric, split, old_value = judged_value(old)
        _, _, new_value = judged_value(new)
        result.update(metric=metric, split=split, baseline_value=old_value, candidate_value=new_value)
        if isinstance(old_value, (int, float)) and isinstance(new_value, (int, float)):
            result["delta"] = new_value - old_value
            if higher_is_better(metric):
                if old_value - new_value > band.max_accuracy_drop:
                    result["reasons"].append(f"{split} {metric} {old_value:.4f} → {new_value:.4f}")
            elif new_value > old_value * (1 + band.max_error_increase) + 1e-9:
                result["reasons"].append(f"{split} {metric} {old_value:.4g} → {new_value:.4g}")
        elif old_value is not None and new_value is None:
            result["reasons"].append(f"{split} {metric} missing")
        result["regression"] = bool(result["reasons"])
        result["verdict"] = "REGRESSION" if result["regression"] else "ok"
    return results


def render_comparison(results: Sequence[dict[str, Any]], fmt: str = "simple") -> str:
    """Comparison results as JSON, CSV or a table."""
    if fmt == "json":
        return json.dumps(json_safe(list(results)), indent=2, default=str)

    def ratio(r: dict[str, Any], key: str) -> str:
        return "-" if r.get(key) is None else f"×{r[key]:.2f}"

    rows = []
    for r in results:
        rows.append({
            "entry": r["entry"],
            "train time": ratio(r, "train_seconds_ratio"),
            "samples/s": ratio(r, "samples_per_second_ratio"),
            "to target": ratio(r, "time_to_target_seconds_ratio"),
            "infer/s": ratio(r, "inference_samples_per_second_ratio"),
            "metric": f"{r['split']} {r['metric']}" if r.get("split") else "-",
            "baseline": number_text(r.get("baseline_value"), 4),
            "candidate": number_text(r.get("candidate_value"), 4),
            "verdict": r["verdict"] + (f": {'; '.join(r['reasons'])}" if r["reasons"] else ""),
        })
    return render_records(rows, fmt)


def environment_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Environment fields that differ between two runs and make timings incomparable."""
    keys = ("tensorflow", "keras", "device", "cpu", "strategy", "replicas", "intra_op_threads",
            "inter_op_threads", "host")
    return [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys if k in a and k in b and a.get(k) != b.get(k)]


def runs_table(runs: Sequence[Any], fmt: str = "simple") -> str:
    """``zoo runs``: one line per stored run."""
    records = []
    for run in runs:
        env = run.environment or {}
        records.append({
            "run": run.id,
            "started": run.started_at.replace("T", " ")[:19],
            "status": run.status,
            "rows": run.rows,
            "failed": run.failed,
            "entries": (", ".join(run.options.get("entries", []))[:50]
                        + (f" × sweep {', '.join(s.partition('=')[0] for s in run.options['sweep'])}"
                           if run.options.get("sweep") else "")),
            "strategy": run.options.get("strategy", env.get("strategy", "default"))
                        + (" (ray)" if run.options.get("executor") == "ray" else ""),
            "device": env.get("device") or env.get("cpu"),
            "commit": (run.git_commit or "")[:10] + ("+" if env.get("git_dirty") else ""),
            "note": run.note,
        })
    if fmt == "json":
        return json.dumps([json_safe(r.to_dict()) for r in runs], indent=2, default=str)
    return render_records(records, fmt)


__all__ = [
    "aggregate", "render", "display_row", "flatten", "compare", "render_comparison", "NoiseBand",
    "primary_metric", "judged_value", "runs_table", "table_formats", "environment_differences", "row_key",
]
