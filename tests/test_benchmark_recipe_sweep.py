"""benchmarks/recipe_sweep.py: variants of `--set` overrides over seeds, ranked on a held-out
validation split; the test split is never read during selection."""
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


@pytest.mark.parametrize("variant", ["validation_split=0", "epochs=2; seed=3"])
def test_a_variant_cannot_move_the_holdout_or_the_seeds(sweep, variant):
    with pytest.raises(SystemExit, match="sets validation_split and seed itself"):
        sweep.parse_variant(variant)


def test_rows_are_read_without_their_test_split(sweep):
    row = {"entry": "e", "metrics": {"train": {"accuracy": 0.95}, "validation": {"accuracy": 0.91},
                                     "test": {"accuracy": 0.99}},
           "time_to_target_seconds": 3.0, "target": {"metric": "accuracy", "value": 0.9}, "train_seconds": 2.0}
    clean = sweep.validation_only(row)
    assert clean["metrics"] == {"train": {"accuracy": 0.95}, "validation": {"accuracy": 0.91}}
    assert "time_to_target_seconds" not in clean and clean["train_seconds"] == 2.0
    assert sweep.selection_score(row, "accuracy") == 0.91
    with pytest.raises(SystemExit, match="no validation 'accuracy'"):
        sweep.selection_score({"entry": "e", "metrics": {"test": {"accuracy": 0.99}}}, "accuracy")


def test_summary_ranks_variants_on_the_median_then_the_worst_seed(sweep):
    runs = [{"variant": "", "seed": 0, "score": 0.912, "seconds": 30.0},
            {"variant": "", "seed": 1, "score": 0.905, "seconds": 32.0},
            {"variant": "", "seed": 2, "score": 0.915, "seconds": 31.0},
            {"variant": "epochs=3", "seed": 0, "score": 0.92, "seconds": 45.0},
            {"variant": "lr=1", "seed": 0, "score": 0.912, "seconds": 30.0},
            {"variant": "lr=1", "seed": 1, "score": 0.911, "seconds": 30.0},
            {"variant": "lr=1", "seed": 2, "score": 0.913, "seconds": 30.0}]
    rows = sweep.summarise(runs, target=0.91)
    assert [(r["rank"], r["variant"]) for r in rows] == [(1, "epochs=3"), (2, "lr=1"), (3, "(as catalogued)")]
    last = rows[2]
    assert last["validation accuracy per seed"] == "0.9120 / 0.9050 / 0.9150"
    assert (last["median"], last["worst"], last["seeds reaching 0.91"], last["median train s"]) == (0.912, 0.905, "2/3", 31.0)
    assert "seeds reaching 0.91" not in sweep.summarise(runs, target=None)[0]
    # an error metric ranks lowest first, and its worst seed is its highest
    errors = sweep.summarise([{"variant": "a", "seed": 0, "score": 0.5, "seconds": 1.0},
                              {"variant": "b", "seed": 0, "score": 0.2, "seconds": 1.0}], target=None, metric="mae")
    assert [r["variant"] for r in errors] == ["b", "a"]


def test_the_report_command_uses_fresh_seeds(sweep):
    assert sweep.report_command("fashion-cnn-fast", "label_smoothing=0; epochs=3") == (
        "zoo bench fashion-cnn-fast --repeats 5 --set seed=100 --set 'label_smoothing=0' --set 'epochs=3'")


@pytest.mark.slow
def test_sweep_runs_zoo_bench_per_variant_and_seed_on_validation_only():
    out = subprocess.run([sys.executable, str(BENCHMARKS / "recipe_sweep.py"), "hello-dense", "--seeds", "0", "1",
                          "--variant", "epochs=2", "--variant", "epochs=2; learning_rate=0.0", "--metric", "mae",
                          "--validation-split", "0.34"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    # variants interleave within each seed, so drift falls on both alike
    assert [(r["seed"], r["variant"], r["epochs"]) for r in runs] == [
        (0, "epochs=2", 2), (0, "epochs=2; learning_rate=0.0", 2), (1, "epochs=2", 2), (1, "epochs=2; learning_rate=0.0", 2)]
    # scored on 2 of the 6 points held out of training (validation_split=0.34), never on test
    assert {(r["split"], r["train_examples"]) for r in runs} == {("validation", 4)}
    assert runs[0]["score"] != runs[1]["score"]  # a zero learning rate leaves the weights untrained
    assert "| epochs=2; learning_rate=0.0 |" in out.stdout
    assert "test metrics were not read" in out.stdout and "validation mae per seed" in out.stdout
    chosen = out.stdout.splitlines()[-1]
    assert chosen.startswith("chosen: epochs=2") and "zoo bench hello-dense --repeats 5 --set seed=100" in chosen
