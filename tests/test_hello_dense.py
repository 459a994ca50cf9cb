"""The first entry end to end, as a user types it: train, predict, evaluate (real TF, real files)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import pytest


def zoo(*args: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, env=dict(os.environ))


@pytest.mark.slow
def test_train_then_predict_ten_gives_nineteen(zoo_env: Path):
    trained = zoo("train", "hello-dense", "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert "trained hello-dense: 500 epoch(s)" in trained.stdout
    # TensorFlow's start-up notices are hidden by default
    assert "oneDNN" not in trained.stderr and "cuda" not in trained.stderr.lower()

    folder = zoo_env / "models" / "hello-dense"
    for name in ("model.keras", "model.weights.h5", "history.json", "metrics.json", "entry.json"):
        assert (folder / name).stat().st_size > 0, name
    with h5py.File(folder / "model.weights.h5") as weights:  # a real HDF5 weights file
        assert len(list(weights.keys())) > 0
    history = json.loads((folder / "history.json").read_text())
    assert len(history["loss"]) == 500 and history["loss"][-1] < history["loss"][0]

    # The six training points are the dataset's test split too, so a loss on them says nothing
    # about y = 2x − 1 elsewhere: predict and evaluate on points the model never saw.
    unseen = [-10.0, -3.0, 5.0, 7.5, 10.0, 20.0]
    predicted = zoo("predict", "hello-dense", "--json", "--", *map(str, unseen))  # "--": -10 is no option
    assert predicted.returncode == 0, predicted.stderr
    values = [row["output"][0] for row in json.loads(predicted.stdout)]
    assert abs(values[unseen.index(10.0)] - 19.0) < 0.1  # the course gets ~18.98
    errors = [v - (2 * x - 1) for v, x in zip(values, unseen, strict=True)]
    assert max(abs(e) for e in errors) < 0.2, errors

    evaluated = zoo("evaluate", "hello-dense", "--set", f"dataset.xs={unseen}", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    held_out = json.loads(evaluated.stdout)["test"]
    assert held_out["loss"] < 0.01
    # scored on those points, not the training ones: the MSE of the predictions above
    assert held_out["loss"] == pytest.approx(sum(e * e for e in errors) / len(errors), rel=1e-3)


def test_runner_api_trains_without_saving_and_reports_plain_data():
    from zoo.catalogue import load_catalogue
    from zoo.runner import train

    catalogue = load_catalogue()
    entry = catalogue.resolve("hello-dense", ["epochs=20"])
    result = train(entry, catalogue.registry, save=False, verbose=0).result
    assert result.model_dir is None and result.epochs == 20 and len(result.epoch_seconds) == 20
    assert result.params_total == 2 and result.params_trainable == 2
    assert set(result.metrics) == {"train", "test"} and "mae" in result.metrics["test"]
    assert result.history["loss"][-1] < result.history["loss"][0] / 2  # 20 epochs of SGD learn
    json.dumps(result.to_dict())  # plain data all the way


def test_predict_rejects_inputs_of_the_wrong_size(zoo_env: Path):
    from zoo.catalogue import load_catalogue
    from zoo.errors import DataError
    from zoo.predict import parse_inputs

    catalogue = load_catalogue()
    entry = catalogue.resolve("hello-dense")
    assert parse_inputs(entry, catalogue.registry, ["1", "2.5"]).shape == (2, 1)
    with pytest.raises(DataError, match="has 2 value"):
        parse_inputs(entry, catalogue.registry, ["1,2"])


def test_a_corrupt_saved_model_is_named(zoo_env: Path):
    from zoo.errors import DataError
    from zoo.artifacts import load_model

    folder = zoo_env / "models" / "hello-dense"
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="cannot load .*model.keras"):
        load_model("hello-dense")
