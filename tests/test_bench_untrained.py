"""A bench in which nothing trained (every row failed before an epoch ended: an entry that does not
resolve, a dataset that cannot load) is not kept in the history; one in which a row trained, or
failed while training, is. The decision is made on the rows: ``epochs = 0`` marks a row known to
have failed before training."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.bench import trained_nothing
from zoo.executors import EPOCH_END
from zoo.testing import run_cli

# Two variants of hello-dense: one whose loader raises, one whose loss turns NaN in its first epoch.
CATALOGUE = """
[entries.hello-broken]
extends = "hello-dense"
dataset = { name = "linear", xs = ["a"] }

[entries.hello-nan]
extends = "hello-dense"
learning_rate = 1e6
"""


def test_trained_nothing_reads_the_rows() -> None:
    before = {"status": "failed", "epochs": 0}
    assert trained_nothing([before, before])
    assert not trained_nothing([])
    assert not trained_nothing([before, {"status": "ok", "epochs": 3}])
    assert not trained_nothing([before, {"status": "failed", "epochs": 2}])  # failed while training
    assert not trained_nothing([before, {"status": "failed", "error": "timed out after 5s"}])  # unknown: kept


def test_the_epoch_end_line_is_the_one_the_worker_writes() -> None:
    from zoo.measure import progress_callback

    lines: list[str] = []
    callback = progress_callback("  [hello-dense]", lines.append, every=0.0)
    callback.set_params({"epochs": 3, "steps": 9})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(2)
    callback.on_epoch_end(0, {"loss": 1.5})
    batch, end = lines
    assert "batch 3/9" in batch and not EPOCH_END.search(batch)
    assert EPOCH_END.search(end), end


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "entries.toml"
    path.write_text(CATALOGUE, encoding="utf-8")
    return path


def runs() -> list[dict]:
    result = run_cli(["runs", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_bench_that_fails_before_training_is_not_stored(zoo_env: Path) -> None:
    # An entry that does not resolve with the override (hello-dense's dataset has no data_dir):
    # failed at once, no worker.
    result = run_cli(["bench", "hello-dense", "--set", "dataset.data_dir=/no/such/folder", "--format", "json"])
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)
    assert row["status"] == "failed" and row["epochs"] == 0 and row["run_id"] is None
    assert "zoo: hello-dense: failed: unknown dataset 'linear' param 'data_dir'" in result.stderr, result.stderr
    assert "not kept in the history" in result.stderr
    assert runs() == []


@pytest.mark.slow
def test_a_loader_failure_is_not_stored_but_a_run_that_trained_is(zoo_env: Path, catalogue: Path) -> None:
    # A data folder that is not there: the worker's loader fails before the first epoch, nothing stored.
    result = run_cli(["bench", "fashion-dense", "--set", "dataset.data_dir=/no/such/folder", "--format", "json"])
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)
    assert row["status"] == "failed" and "not found" in row["error"] and row["epochs"] == 0
    assert "zoo: fashion-dense: failed: dataset 'fashion_mnist'" in result.stderr
    assert "not kept in the history" in result.stderr
    assert runs() == []

    # The same broken entry beside one that trains: the run is stored, both rows with it.
    result = run_cli(["--registry", str(catalogue), "bench", "hello-broken", "hello-dense", "--set", "epochs=5"])
    assert result.exit_code == 1, result.output
    (run,) = runs()
    assert run["rows"] == 2 and run["failed"] == 1 and run["status"] == "finished"

    # A run whose only row failed while training (the loss became NaN) is stored too.
    result = run_cli(["--registry", str(catalogue), "bench", "hello-nan", "--set", "epochs=5", "--format", "json"])
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)
    assert row["status"] == "failed" and "loss became" in row["error"] and row["epochs"] >= 1
    assert [r["rows"] for r in runs()] == [1, 2]
