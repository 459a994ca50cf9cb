"""``zoo bench ENTRY --sweep KEY=V1,V2 [--sweep KEY2=…]``: the grid of ``--set`` overrides, one row
per point, labelled with its overrides; ``zoo runs``, ``zoo compare`` and ``--plot`` show the labels.

The end-to-end test trains hello-dense 4 times in worker processes (local executor); the rest
checks the grid and the tables on plain rows, without TensorFlow.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.bench import parse_sweep, split_values, sweep_points
from zoo.errors import CatalogueError
from zoo.report import aggregate, compare, render


def zoo(*args: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1"}
    env.pop("ZOO_REGISTRY", None)
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.mark.slow
def test_a_2x2_sweep_gives_4_labelled_rows_with_their_overrides_applied(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plot = tmp_path / "sweep.png"
    result = zoo("bench", "hello-dense", "--set", "epochs=15", "--sweep", "learning_rate=0.01,0.05",
                 "--sweep", "batch_size=2,3", "--format", "json", "--plot", str(plot), home=home)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["label"] for r in rows] == ["learning_rate=0.01 batch_size=2", "learning_rate=0.01 batch_size=3",
                                          "learning_rate=0.05 batch_size=2", "learning_rate=0.05 batch_size=3"]
    assert all(r["status"] == "ok" and r["epochs"] == 15 for r in rows)
    assert [r["batch_size"] for r in rows] == [2, 3, 2, 3]  # what the worker actually trained with
    assert "1 entry × 4 sweep points" in result.stderr
    assert plot.stat().st_size > 0

    # The history keeps each row with the config it ran.
    stored = json.loads(zoo("runs", "last", "--format", "json", home=home).stdout)
    assert len(stored) == 4
    for row in stored:
        recipe = row["entry_config"]["recipe"]
        assert row["label"] == f"learning_rate={recipe['learning_rate']:g} batch_size={recipe['batch_size']}"
    # Tables show the labels: zoo runs RUN, zoo runs (the sweep's keys), zoo compare.
    table = zoo("runs", "last", home=home).stdout
    assert "sweep point" in table and "learning_rate=0.05 batch_size=3" in table
    assert "hello-dense × sweep learning_rate, batch_size" in zoo("runs", home=home).stdout
    compared = zoo("compare", "last", "--against", "last", home=home)
    assert compared.returncode == 0, compared.stderr
    assert compared.stdout.count("hello-dense [learning_rate=") == 4


def test_the_grid_is_every_combination_the_last_key_fastest() -> None:
    assert sweep_points([]) == [()]
    assert sweep_points(["a=1,2", "b=x,y,z"]) == [
        ("a=1", "b=x"), ("a=1", "b=y"), ("a=1", "b=z"), ("a=2", "b=x"), ("a=2", "b=y"), ("a=2", "b=z")]


def test_values_keep_their_commas_inside_lists_and_strings() -> None:
    assert split_values("[100,100],[150,150]") == ["[100,100]", "[150,150]"]
    assert split_values("'a,b',c") == ["'a,b'", "c"]
    assert parse_sweep(["dataset.image_size=[100,100],[150,150]"]) == [
        ("dataset.image_size", ["[100,100]", "[150,150]"])]


@pytest.mark.parametrize("bad", ["learning_rate", "learning_rate=", "=1,2", "epochs=1,,2"])
def test_a_malformed_sweep_is_one_clear_error(bad: str) -> None:
    with pytest.raises(CatalogueError, match="expected KEY=V1,V2"):
        parse_sweep([bad])


def test_a_key_swept_twice_is_refused() -> None:
    with pytest.raises(CatalogueError, match="given twice"):
        parse_sweep(["epochs=1,2", "epochs=3"])


def _row(label: str | None, accuracy: float, node: str = "host/0000aaaa", seed: int = 0) -> dict:
    return {"entry": "net", "label": label, "status": "ok", "seed": seed, "train_seconds": 10.0, "node": node,
            "metrics": {"validation": {"accuracy": accuracy}}}


def test_repeats_are_summarised_per_sweep_point_not_per_entry() -> None:
    rows = [_row("lr=0.1", 0.8), _row("lr=0.1", 0.9, seed=1), _row("lr=0.2", 0.5), _row("lr=0.2", 0.7, seed=1)]
    summary = aggregate(rows)
    assert [(r["label"], r["repeats"], r["metrics"]["validation"]["accuracy"]) for r in summary] == [
        ("lr=0.1", 2, pytest.approx(0.85)), ("lr=0.2", 2, pytest.approx(0.6))]


def test_compare_matches_sweep_points_by_label() -> None:
    results = {r["entry"]: r for r in compare([_row("lr=0.1", 0.9), _row("lr=0.2", 0.5)],
                                              [_row("lr=0.1", 0.7), _row("lr=0.2", 0.5)])}
    assert results["net [lr=0.1]"]["regression"] and not results["net [lr=0.2]"]["regression"]


def test_tables_show_the_label_and_the_node_only_when_rows_differ_in_it() -> None:
    one_node = render([_row("lr=0.1", 0.9), _row("lr=0.2", 0.5)])
    assert "sweep point" in one_node and "lr=0.2" in one_node and "node" not in one_node.splitlines()[0]
    two_nodes = render([_row(None, 0.9, node="a/00000001"), _row("x=1", 0.5, node="b/00000002")])
    assert "node" in two_nodes.splitlines()[0] and "b/00000002" in two_nodes
    assert "sweep point" not in render([_row(None, 0.9)])


def test_the_html_report_keeps_sweep_points_apart() -> None:
    from zoo.leaderboard import build_groups

    groups = build_groups([{**_row("lr=0.1", 0.9), "run_id": 1}, {**_row("lr=0.2", 0.5), "run_id": 1}])
    assert sorted(r.entry for g in groups for r in g.results) == ["net [lr=0.1]", "net [lr=0.2]"]
