"""The headline benchmark scripts run end to end in their ``--quick`` mode, so that none rots
between measurements: each as a user runs it (its own process, from the repository root, the real
datasets in ``ZOO_DATA_DIR``), its output parsed and its figures checked for sense, not speed.

Two scripts run at a time (each is mostly single-threaded start-up and tracing), so the file
takes about a minute and a half on two cores.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, missing, shared_data_dir

pytestmark = pytest.mark.slow

BENCHMARKS = REPO / "benchmarks"
QUICK_NOTE = "quick mode: a smoke run on tiny inputs; these figures are not measurements"
#: longest first, so that the two lanes finish together
SCRIPTS = ("feature_cache", "time_to_accuracy", "overhead", "utilization", "gpu_check", "startup")
NEEDS_DATA = {"time_to_accuracy", "overhead", "gpu_check"}  # the course script and gpu_check read Fashion-MNIST
COURSE_CNN_PARAMS = 243_786


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess | None]:
    """Every script's ``--quick`` run (None: not run, the real datasets are absent)."""
    data = shared_data_dir()
    environ = {k: v for k, v in os.environ.items()
               if k not in ("ZOO_REGISTRY", "ZOO_STRICT_PLUGINS", "ZOO_DISABLE_PLUGINS", "ZOO_DATA_DIR")}
    environ.update(ZOO_HOME=str(tmp_path_factory.mktemp("quick-home")), ZOO_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3",
                   ZOO_DATA_DIR=str(data))

    def run(name: str) -> subprocess.CompletedProcess | None:
        if name in NEEDS_DATA and not data.is_dir():
            return None
        return subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), "--quick"], cwd=REPO, env=environ,
                              capture_output=True, text=True, timeout=400)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(SCRIPTS, pool.map(run, SCRIPTS)))


def finished(quick_runs: dict[str, Any], name: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """(summary, the JSON lines before it, stdout) of a run that exited 0 and said it was quick."""
    out = quick_runs[name]
    if out is None:
        missing(f"real datasets not present at {shared_data_dir()} ({name}.py reads Fashion-MNIST)")
    assert out.returncode == 0, f"{name}.py --quick exited {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    lines = out.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["summary"] == name and summary["quick"] is True, summary
    assert QUICK_NOTE in lines, out.stdout
    rows = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    return summary, rows, out.stdout


def numbers(value: Any) -> list[float]:
    """Every number in a JSON value."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    items = value.values() if isinstance(value, dict) else value
    return [n for item in items for n in numbers(item)]


def sane(summary: dict[str, Any]) -> None:
    values = numbers(summary)
    assert values and all(math.isfinite(v) and v >= 0 for v in values), summary


def test_time_to_accuracy_quick(quick_runs) -> None:
    summary, rows, _ = finished(quick_runs, "time_to_accuracy")
    sane(summary)
    (row,) = rows
    assert summary["repeats"] == 1 and summary["entry"] == "fashion-cnn-fast" and summary["target_met"] is None
    assert summary["baseline_seconds"] == row["baseline_seconds"] > 0 and summary["fast_seconds"] == row["fast_seconds"] > 0
    assert summary["ratio"] == pytest.approx(row["fast_seconds"] / row["baseline_seconds"])
    assert 0 <= summary["baseline_test_accuracy"] <= 1
    # the stand-in images' class is a bright band: two epochs learn it well above chance (0.1)
    assert 0.3 <= summary["fast_test_accuracy"] <= 1 and row["fast_epochs"] == 2


def test_overhead_quick(quick_runs) -> None:
    summary, (row,), _ = finished(quick_runs, "overhead")
    sane(summary)
    assert summary["epochs"] == 1 and summary["repeats"] == 1 and summary["targets_met"] is None
    assert summary["ratio"] == pytest.approx(row["zoo_seconds"] / row["script_seconds"])
    assert 100 < summary["peak_rss_mb"] < 4096  # a worker that imported TensorFlow
    assert 0 <= summary["script_test_accuracy"] <= 1 and 0 <= summary["zoo_test_accuracy"] <= 1


def test_startup_quick(quick_runs) -> None:
    from zoo.catalogue import load_catalogue

    summary, _, stdout = finished(quick_runs, "startup")
    sane(summary)
    packaged = len(load_catalogue().names())
    assert summary["entries_listed"] == packaged + summary["entries_generated"] == packaged + 20, summary
    # zoo list never imports TensorFlow: far under the import it is compared with
    assert 0 < summary["zoo_list_seconds"] < summary["import_tensorflow_seconds"]
    assert summary["ratio"] == pytest.approx(summary["zoo_list_seconds"] / summary["import_tensorflow_seconds"])
    assert summary["target_met"] is None and "ratio zoo list / import tf" in stdout


def test_utilization_quick(quick_runs) -> None:
    summary, _, stdout = finished(quick_runs, "utilization")
    sane(summary)
    assert summary["matmul_size"] == 256 and summary["fp32_peak_gflops"] > 1 and summary["bf16_peak_gflops"] > 0
    assert 2e7 < summary["flops_per_sample"] < 5e7  # the course CNN: about 30.6 MFLOP per training sample
    assert summary["gflops_per_second"] == pytest.approx(summary["flops_per_sample"] * summary["samples_per_second"] / 1e9,
                                                         rel=1e-6)
    assert summary["utilisation"] == pytest.approx(summary["gflops_per_second"] / summary["fp32_peak_gflops"])
    assert "% of the fp32 peak" in stdout


def test_feature_cache_quick(quick_runs) -> None:
    summary, _, stdout = finished(quick_runs, "feature_cache")
    sane(summary)
    assert set(summary["steady_epoch_seconds"]) == set(summary["train_seconds"]) == {"course", "full", "cold", "warm"}
    # the same seed and head: the head on cached features follows the full pass's validation losses
    assert set(summary["max_val_loss_difference"]) == {"course", "full"}
    assert max(summary["max_val_loss_difference"].values()) < 1e-4, summary
    assert "per-epoch speed-up of the cached head" in stdout


def test_gpu_check_quick_runs_without_a_gpu(quick_runs) -> None:
    summary, rows, _ = finished(quick_runs, "gpu_check")
    sane(summary)
    assert [row["entry"] for row in rows] == ["fashion-cnn", "fashion-cnn-fast"]
    for row in rows:
        assert row["epochs_timed"] == 1 and row["params"] == COURSE_CNN_PARAMS and row["samples_per_second"] > 0
        assert 0 <= row["test_accuracy_after_warmup_plus_timed_epochs"] <= 1
    assert summary["limit"] == 256
    assert summary["samples_per_second"] == {row["entry"]: row["samples_per_second"] for row in rows}
    if summary["device"] == "CPU":  # no GPU here: it ran on the CPU, and said so
        assert all(row["gpu"] == "no GPU" for row in rows)
        assert "no GPU found" in quick_runs["gpu_check"].stderr
