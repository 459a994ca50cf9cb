"""Tables, JSON, CSV, repeats and comparisons of benchmark rows (no TensorFlow needed)."""
from __future__ import annotations

import csv
import io
import json

import pytest

from zoo.report import (NoiseBand, aggregate, compare, environment_differences, flatten, primary_metric,
                        render, render_comparison, table_formats)


def row(entry: str = "net", seconds: float = 10.0, accuracy: float | None = 0.9, seed: int = 0,
        status: str = "ok", ttt: float | None = 5.0, **extra) -> dict:
    metrics = {"train": {"loss": 0.2}, "validation": {"loss": 0.3}}
    if accuracy is not None:
        metrics["train"]["accuracy"] = accuracy + 0.02
        metrics["validation"]["accuracy"] = accuracy
    return {
        "entry": entry, "status": status, "error": None if status == "ok" else "boom", "seed": seed,
        "params": 1000, "epochs": 2, "train_seconds": seconds, "first_epoch_seconds": seconds * 0.6,
        "seconds_per_epoch": seconds * 0.4, "samples_per_second": 1000 / seconds,
        "inference_samples_per_second": 5000.0, "time_to_target_seconds": ttt,
        "target": {"metric": "val_accuracy", "value": 0.85, "mode": "max"},
        "metrics": metrics, "peak_rss_mb": 700.0, "environment": {"tensorflow": "2.21.0", "device": "CPU"},
        **extra,
    }


def test_primary_metric_prefers_accuracy_then_error() -> None:
    assert primary_metric(row())[0] == "accuracy"
    regression = {"entry": "r", "metrics": {"test": {"loss": 0.5, "mae": 0.4}}}
    assert primary_metric(regression) == ("mae", {"test": 0.4})
    assert primary_metric({"entry": "l", "metrics": {"test": {"loss": 0.5}}})[0] == "loss"


def test_aggregate_takes_medians_and_spread_over_repeats() -> None:
    rows = [row(seconds=s, accuracy=a, seed=i) for i, (s, a) in enumerate([(10, 0.90), (30, 0.86), (12, 0.88)])]
    (summary,) = aggregate(rows)
    assert summary["repeats"] == 3 and summary["seeds"] == [0, 1, 2]
    assert summary["train_seconds"] == 12
    assert summary["metrics"]["validation"]["accuracy"] == pytest.approx(0.88)
    assert summary["spread"]["train_seconds"]["min"] == 10 and summary["spread"]["train_seconds"]["max"] == 30
    assert summary["spread"]["validation_accuracy"]["stdev"] == pytest.approx(0.02)
    assert summary["target_reached"] == "3/3"


def test_aggregate_ignores_failed_repeats_and_says_so() -> None:
    rows = [row(seconds=10), row(seconds=1, status="failed"), row(seconds=20, ttt=None)]
    (summary,) = aggregate(rows)
    assert summary["status"] == "partial" and "1/3 repeats failed" in summary["error"]
    assert summary["train_seconds"] == 15
    assert summary["time_to_target_seconds"] is None and summary["target_reached"] == "1/2"


def test_single_repeat_rows_pass_through() -> None:
    (summary,) = aggregate([row(seconds=7)])
    assert summary["train_seconds"] == 7 and summary["repeats"] == 1 and summary["spread"] == {}


def test_json_is_valid_even_with_nan() -> None:
    bad = row("diverged", status="failed")
    bad["metrics"]["train"]["loss"] = float("nan")
    text = render(aggregate([row(), bad]), "json")
    data = json.loads(text)  # strict JSON: NaN would be rejected by most parsers
    assert "NaN" not in text
    assert data[1]["metrics"]["train"]["loss"] is None
    for key in ("entry", "params", "epochs", "train_seconds", "seconds_per_epoch", "samples_per_second",
                "time_to_target_seconds", "metrics", "peak_rss_mb", "environment"):
        assert key in data[0]


def test_csv_flattens_metrics_with_split_prefixes() -> None:
    text = render(aggregate([row(), row("other", seconds=20)]), "csv")
    records = list(csv.DictReader(io.StringIO(text)))
    assert [r["entry"] for r in records] == ["net", "other"]
    assert float(records[0]["validation_accuracy"]) == pytest.approx(0.9)
    assert records[1]["train_seconds"] == "20.0" or float(records[1]["train_seconds"]) == 20
    assert records[0]["env_tensorflow"] == "2.21.0" and records[0]["target_metric"] == "val_accuracy"
    assert flatten(row())["validation_loss"] == 0.3


@pytest.mark.parametrize("fmt", ["github", "plain", "grid", "simple"])
def test_tables_in_tabulate_formats(fmt: str) -> None:
    text = render(aggregate([row(), row("broken", status="failed")]), fmt)
    assert "net" in text and "broken" in text and "failed: boom" in text
    if fmt == "github":
        assert text.splitlines()[1].startswith("|-")
    assert fmt in table_formats()


def test_table_shows_spread_and_not_reached() -> None:
    rows = [row(seconds=10, ttt=None, seed=0), row(seconds=14, ttt=None, seed=1)]
    text = render(aggregate(rows), "plain")
    assert "±" in text and "not reached" in text and "(×2)" in text


def test_compare_same_rows_is_no_regression() -> None:
    results = compare([row()], [row()])
    assert [r["verdict"] for r in results] == ["ok"]
    assert results[0]["train_seconds_ratio"] == 1.0


def test_compare_flags_slowdown_beyond_band_only() -> None:
    assert compare([row(seconds=10)], [row(seconds=10.8)])[0]["regression"] is False
    slow = compare([row(seconds=10)], [row(seconds=12)])[0]
    assert slow["regression"] and any("train time ×1.20" in r for r in slow["reasons"])
    assert compare([row(seconds=10)], [row(seconds=12)], NoiseBand(max_slowdown=0.5))[0]["regression"] is False


def test_compare_flags_accuracy_drop_beyond_half_a_point() -> None:
    assert compare([row(accuracy=0.90)], [row(accuracy=0.897)])[0]["regression"] is False
    drop = compare([row(accuracy=0.90)], [row(accuracy=0.89)])[0]
    assert drop["regression"] and drop["delta"] == pytest.approx(-0.01)
    assert "validation accuracy" in drop["reasons"][0]


def test_compare_flags_error_increase_for_regression_entries() -> None:
    def reg(mae: float) -> dict:
        return {**row(accuracy=None), "metrics": {"test": {"loss": mae * mae, "mae": mae}}}

    assert compare([reg(0.10)], [reg(0.105)])[0]["regression"] is False
    worse = compare([reg(0.10)], [reg(0.2)])[0]
    assert worse["regression"] and worse["metric"] == "mae"
    assert compare([reg(0.2)], [reg(0.1)])[0]["regression"] is False  # better is fine


def test_compare_failures_targets_and_missing_entries() -> None:
    results = {r["entry"]: r for r in compare(
        [row("a"), row("b"), row("c", status="failed"), row("gone")],
        [row("a", status="failed"), row("b", ttt=None), row("c"), row("new")],
    )}
    assert results["a"]["regression"] and results["a"]["reasons"][0].startswith("failed")
    assert results["b"]["regression"] and "target no longer reached" in results["b"]["reasons"]
    assert not results["c"]["regression"] and results["c"]["verdict"].startswith("fixed")
    assert results["gone"]["verdict"] == "only in baseline" and not results["gone"]["regression"]
    assert results["new"]["verdict"] == "only in candidate"
    text = render_comparison(list(results.values()), "github")
    assert "REGRESSION" in text and "only in candidate" in text


def test_environment_differences() -> None:
    assert environment_differences({"tensorflow": "2.21", "cpu": "x"}, {"tensorflow": "2.20", "cpu": "x"}) == [
        "tensorflow: '2.21' vs '2.20'"]
