"""zoo.output: one policy for missing values in every format, and the CLI's JSON is strict JSON."""
from __future__ import annotations

import json
import math

import pytest

from zoo.output import render_records, to_json


def _strict(text: str):
    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_missing_and_non_finite_values_have_one_policy_in_every_format():
    records = [{"entry": "a", "value": float("nan"), "other": None, "ok": 1.5},
               {"entry": "b", "value": math.inf, "other": 2, "ok": None}]
    assert _strict(render_records(records, "json")) == [
        {"entry": "a", "value": None, "other": None, "ok": 1.5}, {"entry": "b", "value": None, "other": 2, "ok": None}]
    assert render_records(records, "csv").splitlines() == ["entry,value,other,ok", "a,,,1.5", "b,,2,"]
    table = render_records(records, "table").splitlines()
    assert table[2].split() == ["a", "-", "-", "1.5"] and table[3].split() == ["b", "-", "2", "-"]


def test_train_json_stays_json_when_the_loss_is_nan(tmp_path, monkeypatch):
    from zoo.testing import run_cli

    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    result = run_cli(["train", "hello-dense", "--json", "--quiet", "--set", "epochs=3", "--set", "learning_rate=1e30"])
    assert result.exit_code == 0, result.stderr
    data = _strict(result.stdout)
    assert data["history"]["loss"][-1] is None  # NaN or inf in training: null, not a bare NaN
    with pytest.raises(ValueError):
        _strict(json.dumps({"loss": float("nan")}))  # what plain json.dumps would have printed
