"""Callback plugins, run through real entries: stop-at-accuracy, early-stopping, tensorboard,
csv-logger, time-to-target, terminate-on-nan."""
from __future__ import annotations

import csv
import json

import pytest

from test_models_tinydata import tiny_catalogue
from zoo.errors import UnknownNameError


def _train(name, overrides, **kwargs):
    import keras

    from zoo import runner

    keras.backend.clear_session()
    cat = tiny_catalogue()
    entry = cat.resolve(name, overrides)
    return entry, runner.train(entry, cat.registry, verbose=0, save=False, **kwargs).result


def test_callbacks_are_registered_by_the_callbacks_plugin():
    registry = tiny_catalogue().registry
    names = {"stop-at-accuracy", "early-stopping", "tensorboard", "csv-logger", "time-to-target", "terminate-on-nan"}
    assert names <= set(registry.callbacks)
    assert {registry.callback(n).plugin for n in names} == {"callbacks"}


def test_stop_at_accuracy_stops_and_says_which_metric_and_when(capsys):
    _, result = _train("fashion-dense", ["epochs=5", 'callbacks=[{name = "stop-at-accuracy", value = 0.0}]'])
    assert result.epochs == 1
    out, err = capsys.readouterr()
    assert "accuracy" in err and ">= 0.0 at epoch 1" in err and "stopping training" in err
    assert "stopping training" not in out  # stdout is for --json


def test_stop_at_accuracy_on_a_loss_waits_for_it_to_fall_below(capsys):
    _, result = _train("fashion-dense", ["epochs=3", 'callbacks=[{name = "stop-at-accuracy", metric = "loss", value = 0.0}]'])
    assert result.epochs == 3  # a loss of 0 is never reached: all epochs run
    assert "stopping training" not in capsys.readouterr().err


def test_unknown_callback_param_is_reported_before_training():
    with pytest.raises(UnknownNameError, match="threshold"):
        tiny_catalogue().resolve("fashion-dense", ['callbacks=[{name = "stop-at-accuracy", threshold = 0.9}]'])


def test_early_stopping_stops_when_the_monitored_metric_stalls():
    _, result = _train("fashion-dense", [
        "epochs=6", 'callbacks=[{name = "early-stopping", monitor = "loss", patience = 0, min_delta = 1000.0}]'])
    assert result.epochs == 2  # epoch 2 does not improve the loss by 1000


def test_tensorboard_and_csv_logger_write_one_folder_per_run(zoo_env):
    from conftest import require_module

    require_module("tensorboard", "the tensorboard extra is not installed")
    for _ in range(2):
        _train("fashion-dense", ["epochs=2", 'callbacks=["tensorboard", "csv-logger"]'])
    runs = sorted(p for p in (zoo_env / "runs").iterdir() if p.is_dir())
    assert len(runs) == 2 and all(r.name.startswith("fashion-dense-") for r in runs)
    for run in runs:
        assert list((run / "train").glob("events.out.tfevents.*")), "TensorBoard event file"
        rows = list(csv.DictReader((run / "history.csv").open()))
        assert [int(r["epoch"]) for r in rows] == [0, 1] and "accuracy" in rows[0]


def test_time_to_target_records_when_the_entry_target_is_reached(zoo_env):
    _, reached = _train("fashion-dense", ["epochs=2", "target={metric = \"accuracy\", value = 0.0}",
                                         'callbacks=["time-to-target"]'])
    (run,) = list((zoo_env / "runs").iterdir())
    record = json.loads((run / "time_to_target.json").read_text())
    assert record["metric"] == "accuracy" and record["epoch"] == 1 and record["seconds"] > 0
    assert reached.epochs == 2  # it never stops training
    assert record["seconds"] <= reached.train_seconds


def test_time_to_target_records_none_when_never_reached(zoo_env):
    _train("fashion-dense", ["epochs=1", 'callbacks=[{name = "time-to-target", metric = "accuracy", value = 1.5}]'])
    (run,) = list((zoo_env / "runs").iterdir())
    record = json.loads((run / "time_to_target.json").read_text())
    assert record["seconds"] is None and record["value"] == 1.5


def test_time_to_target_without_a_target_is_a_clear_error():
    import keras

    from zoo import runner
    from zoo.errors import IncompatibleError

    keras.backend.clear_session()
    cat = tiny_catalogue()
    entry = cat.resolve("fashion-dense", ["epochs=1", 'callbacks=["time-to-target"]'])
    assert entry.target is not None  # fashion-dense has one; take it away
    entry.target = None
    with pytest.raises(IncompatibleError, match="time-to-target needs the entry's target"):
        runner.train(entry, cat.registry, verbose=0, save=False).result


def test_terminate_on_nan_stops_a_diverging_run():
    _, result = _train("hello-dense", ["epochs=200", "learning_rate=1e30", 'callbacks=["terminate-on-nan"]'])
    assert result.epochs < 200


def test_tensorboard_without_its_package_is_a_clear_error(monkeypatch):
    import importlib.util

    from zoo.errors import IncompatibleError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(IncompatibleError, match=r"callback 'tensorboard'.*pip install 'zoo-models\[tensorboard\]'"):
        _train("fashion-dense", ["epochs=1", 'callbacks=["tensorboard"]'])


def test_runs_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    """Run folders are named to the second; a second run in that second must not share one."""
    import time

    from zoo.run_context import reserve_run_dir

    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "20261127-120000")  # one second for all
    folders = [reserve_run_dir(tmp_path / "runs", "fashion-dense") for _ in range(3)]
    assert len(set(folders)) == 3 and all(f.is_dir() and not any(f.iterdir()) for f in folders)
    assert [f.name.rsplit("-", 1)[-1] for f in folders[1:]] == ["2", "3"]


def test_a_run_without_folder_callbacks_leaves_no_run_folder(zoo_env):
    _train("fashion-dense", ["epochs=1", 'callbacks=[{name = "stop-at-accuracy", value = 2.0}]'])
    assert not (zoo_env / "runs").exists()
