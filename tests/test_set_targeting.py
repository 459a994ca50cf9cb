"""``--set ENTRY:KEY=VALUE`` and ``--sweep ENTRY:KEY=V1,V2``: an override for one entry of a bench.

The parsing, the per-entry plan and the usage errors are checked without TensorFlow; one real
bench of hello-dense checks that its worker trains with its own overrides, prefix dropped, and that
the rows' labels carry no prefix.
"""
from __future__ import annotations

import json

import pytest

from zoo.bench import BenchOptions, parse_sweep, plan_jobs, sweep_points
from zoo.catalogue import load_catalogue
from zoo.errors import CatalogueError
from zoo.targets import TargetError, check_targets, overrides_for, own_overrides, split_target
from zoo.testing import run_cli


@pytest.mark.parametrize("item, expected", [
    ("epochs=1", (None, "epochs=1")),
    ("fashion-cnn:epochs=1", ("fashion-cnn", "epochs=1")),
    (" fashion-cnn : epochs =1", ("fashion-cnn", "epochs=1")),
    # A ':' after the first '=' is the value's (paths, URLs), with or without a prefix.
    ("dataset.data_dir=C:/data", (None, "dataset.data_dir=C:/data")),
    ("dataset.origin=http://host:8000/x", (None, "dataset.origin=http://host:8000/x")),
    ("fashion-cnn:dataset.origin=http://host:8000/x", ("fashion-cnn", "dataset.origin=http://host:8000/x")),
    ("no-equals-sign:here", (None, "no-equals-sign:here")),  # left whole for --set's own parser to reject
])
def test_split_target(item: str, expected: tuple[str | None, str]) -> None:
    assert split_target(item) == expected


@pytest.mark.parametrize("item", [":epochs=1", "fashion-cnn:=1", " : =1"])
def test_an_empty_entry_or_key_is_a_usage_error(item: str) -> None:
    with pytest.raises(TargetError, match="expected ENTRY:KEY=VALUE") as caught:
        split_target(item)
    assert caught.value.exit_code == 2


def test_each_entry_takes_its_own_overrides_in_order() -> None:
    items = ["epochs=2", "b:epochs=1", "a:learning_rate=0.1", "batch_size=4", "b:epochs=3"]
    assert overrides_for("a", items) == ["epochs=2", "learning_rate=0.1", "batch_size=4"]
    assert overrides_for("b", items) == ["epochs=2", "epochs=1", "batch_size=4", "epochs=3"]
    assert overrides_for("c", items) == ["epochs=2", "batch_size=4"]


def test_a_prefix_must_name_an_entry_of_the_command() -> None:
    check_targets(["epochs=1", "hello-dense:epochs=2"], ["hello-dense", "fashion-cnn"])
    with pytest.raises(TargetError) as caught:
        check_targets(["epochs=1", "fashion-cn:epochs=2"], ["hello-dense", "fashion-cnn"])
    assert str(caught.value) == ("--set fashion-cn:epochs=2: entry 'fashion-cn' is not among this command's "
                                 "entries; did you mean 'fashion-cnn'?")
    assert caught.value.exit_code == 2
    with pytest.raises(TargetError, match=r"--sweep zzz:epochs=1,2: .*; they are 'hello-dense'$"):
        check_targets(["zzz:epochs=1,2"], ["hello-dense"], "--sweep")
    assert own_overrides("hello-dense", ["hello-dense:epochs=2", "seed=1"]) == ["epochs=2", "seed=1"]
    with pytest.raises(TargetError, match="did you mean 'hello-dense'"):
        own_overrides("hello-dense", ["hello-dens:epochs=2"])


def test_a_targeted_sweep_multiplies_its_entry_only() -> None:
    sweep = ["a:learning_rate=0.1,0.2", "batch_size=2,4"]
    assert sweep_points(sweep, "a") == [("learning_rate=0.1", "batch_size=2"), ("learning_rate=0.1", "batch_size=4"),
                                        ("learning_rate=0.2", "batch_size=2"), ("learning_rate=0.2", "batch_size=4")]
    assert sweep_points(sweep, "b") == [("batch_size=2",), ("batch_size=4",)]
    assert parse_sweep(["a:epochs=1,2", "b:epochs=3,4"], "b") == [("epochs", ["3", "4"])]
    for twice in (["epochs=1,2", "a:epochs=3"], ["a:epochs=1,2", "epochs=3"], ["a:epochs=1,2", "a:epochs=3"]):
        with pytest.raises(CatalogueError, match="given twice"):
            parse_sweep(twice)


def test_the_plan_gives_each_entry_its_overrides_and_unprefixed_labels() -> None:
    catalogue = load_catalogue()
    options = BenchOptions(overrides=("epochs=2", "fashion-dense:epochs=1", "hello-dense:batch_size=3"))
    jobs, broken = plan_jobs(["hello-dense", "fashion-dense"], catalogue, options,
                             sweep=["hello-dense:learning_rate=0.01,0.05"])
    assert broken == []
    shown = [(j.entry, j.label, j.config["recipe"]["epochs"], j.config["recipe"]["batch_size"],
              j.config["recipe"]["learning_rate"]) for j in jobs]
    fashion_lr = catalogue.resolve("fashion-dense").recipe.learning_rate
    assert shown == [("hello-dense", "learning_rate=0.01", 2, 3, 0.01), ("hello-dense", "learning_rate=0.05", 2, 3, 0.05),
                     ("fashion-dense", None, 1, 32, fashion_lr)]
    assert jobs[0].config["sources"]["batch_size"] == "--set batch_size=3"
    with pytest.raises(TargetError):
        plan_jobs(["hello-dense"], catalogue, BenchOptions(overrides=("fashion-dense:epochs=1",)))


def test_a_wrong_prefix_stops_the_bench_before_anything_runs(zoo_env) -> None:
    for args in (["--set", "hello-dens:epochs=1"], ["--sweep", "hello-dens:learning_rate=0.1,0.2"]):
        result = run_cli(["bench", "hello-dense", "fashion-dense", *args])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert lines == [f"zoo: error: {args[0]} {args[1]}: entry 'hello-dens' is not among this command's "
                         f"entries; did you mean 'hello-dense' or 'fashion-dense'?"], result.stderr
    assert not (zoo_env / "bench.sqlite").exists()  # no run was even started


@pytest.mark.parametrize("command", [["show"], ["train"], ["evaluate"],
                                     ["tune", "--space", "learning_rate=choice(0.1,0.2)"]])
def test_single_entry_commands_take_only_their_own_prefix(command: list[str]) -> None:
    result = run_cli([command[0], "hello-dense", *command[1:], "--set", "fashion-dense:epochs=1"])
    assert result.exit_code == 2, result.output
    assert "zoo: error: --set fashion-dense:epochs=1: entry 'fashion-dense' is not among" in result.stderr


def test_show_applies_its_own_prefixed_override() -> None:
    result = run_cli(["show", "hello-dense", "--format", "json", "--set", "epochs=7",
                      "--set", "hello-dense:epochs=9", "--set", "hello-dense:dataset.xs=[0.5, 1.5]"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["recipe"]["epochs"] == 9 and data["dataset"]["params"]["xs"] == [0.5, 1.5]
    assert data["sources"]["epochs"] == "--set epochs=9"


@pytest.mark.slow
def test_a_bench_trains_each_entry_with_its_own_overrides(zoo_env) -> None:
    result = run_cli(["bench", "hello-dense", "--set", "epochs=2", "--set", "hello-dense:epochs=3",
                      "--sweep", "hello-dense:learning_rate=0.01,0.05", "--format", "json"])
    assert result.exit_code == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)
    # The worker resolved the entry itself: it could only train 3 epochs at these rates if it got
    # the overrides without their prefix (with one, "hello-dense:epochs" is no key).
    assert [(r["label"], r["status"], r["epochs"]) for r in rows] == [
        ("learning_rate=0.01", "ok", 3), ("learning_rate=0.05", "ok", 3)]
    stored = json.loads(run_cli(["runs", "last", "--format", "json"]).stdout)
    assert [(r["label"], r["entry_config"]["recipe"]["learning_rate"]) for r in stored] == [
        ("learning_rate=0.01", 0.01), ("learning_rate=0.05", 0.05)]
    assert "hello-dense [learning_rate=0.05]" in run_cli(["compare", "last", "--against", "last"]).stdout
