"""benchmarks/recipe_sweep.py: variants of `--set` overrides over seeds, summarised per variant."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def sweep(monkeypatch):
    import importlib

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("recipe_sweep")


def test_variants_split_on_semicolons(sweep):
    assert sweep.parse_variant("") == []
    assert sweep.parse_variant(' label_smoothing=0 ; dataset.normalize="unit"') == ["label_smoothing=0", 'dataset.normalize="unit"']


def test_summary_has_one_row_per_variant_in_order(sweep):
    runs = [{"variant": "", "seed": 0, "score": 0.912, "seconds": 30.0},
            {"variant": "", "seed": 1, "score": 0.905, "seconds": 32.0},
            {"variant": "", "seed": 2, "score": 0.915, "seconds": 31.0},
            {"variant": "epochs=3", "seed": 0, "score": 0.92, "seconds": 45.0}]
    rows = sweep.summarise(runs, target=0.91)
    assert [r["variant"] for r in rows] == ["(as catalogued)", "epochs=3"]
    assert rows[0]["test accuracy per seed"] == "0.9120 / 0.9050 / 0.9150"
    assert (rows[0]["median"], rows[0]["min"], rows[0]["seeds >= 0.91"], rows[0]["median train s"]) == (0.912, 0.905, "2/3", 31.0)
    assert "seeds >= 0.91" not in sweep.summarise(runs, target=None)[0]


@pytest.mark.slow
def test_sweep_runs_zoo_bench_per_variant_and_seed():
    out = subprocess.run([sys.executable, str(BENCHMARKS / "recipe_sweep.py"), "hello-dense", "--seeds", "0", "1",
                          "--variant", "epochs=2", "--variant", "epochs=2; learning_rate=0.0", "--metric", "mae"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    # variants interleave within each seed, so drift falls on both alike
    assert [(r["seed"], r["variant"], r["epochs"]) for r in runs] == [
        (0, "epochs=2", 2), (0, "epochs=2; learning_rate=0.0", 2), (1, "epochs=2", 2), (1, "epochs=2; learning_rate=0.0", 2)]
    assert runs[0]["score"] != runs[1]["score"]  # a zero learning rate leaves the weights untrained
    assert "| epochs=2; learning_rate=0.0 |" in out.stdout
