"""benchmarks/multiworker.py runs end to end in its ``--quick`` mode (hello-dense, six points in
memory): one worker and two workers on 127.0.0.1 through ``zoo bench --strategy multiworker``,
then zoo's distributed step against Keras's ``fit`` in one process. Figures are checked for sense,
not speed."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

QUICK_NOTE = "quick mode: a smoke run on tiny inputs; these figures are not measurements"


def test_multiworker_benchmark_quick(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("ZOO_REGISTRY", "TF_CONFIG", "ZOO_MULTIWORKER")}
    environ.update(ZOO_HOME=str(tmp_path / "home"), ZOO_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "multiworker.py"), "--quick"], cwd=REPO,
                         env=environ, capture_output=True, text=True, timeout=500, check=False)
    assert out.returncode == 0, f"{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    lines = out.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["summary"] == "multiworker" and summary["quick"] is True and QUICK_NOTE in lines
    (round_, steps) = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    # Part (a): one worker, then a cluster of two, each a real `zoo bench` row per worker.
    assert round_["workers1_replicas"] == 1 and round_["workers2_replicas"] == 2
    assert round_["workers1_same_metrics_on_every_worker"] and round_["workers2_same_metrics_on_every_worker"]
    # The same global batches, split or not: the same test loss to float rounding.
    assert round_["workers2_test_metrics"]["loss"] == pytest.approx(round_["workers1_test_metrics"]["loss"], rel=1e-4)
    assert summary["ratio_2_over_1"] == pytest.approx(
        summary["workers2_seconds_per_epoch"] / summary["workers1_seconds_per_epoch"])
    # Part (b): both loops timed, the ratio theirs.
    assert steps["entry"] == "hello-dense" and steps["steps_per_epoch"] == 3
    assert steps["step_ratio"] == pytest.approx(steps["zoo_step_ms"] / steps["keras_step_ms"])
    figures = [summary[k] for k in ("workers1_seconds_per_epoch", "workers2_seconds_per_epoch", "zoo_step_ms",
                                    "keras_step_ms")]
    assert all(math.isfinite(v) and v > 0 for v in figures), summary
    assert summary["target_met"] is None
