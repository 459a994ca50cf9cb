"""``zoo tune``: Ray Tune trials scored on validation only, the best configuration retrained once
and scored on the test split, stored in the history, and written as a variant that runs.

The end-to-end test runs the real CLI (a local Ray, inside a loopback-only network namespace:
see ``test_ray_netns.py``) on a dataset of a test-only plugin whose test split is a generator
that writes down every process that reads it: the trials must never read it, the retrain must.
The rest checks the search space, the metric rule, the variant writer and the test-split guard
without Ray or TensorFlow.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_ray_netns import namespace, require_ray
from zoo.cli.tune_cmds import append_variant, variant_text
from zoo.errors import CatalogueError, ZooError
from zoo.tune import (DEFAULT_VALIDATION_SPLIT, overrides_for, parse_space, point, selection_metric, toml_text,
                      trial_number, without_test)

#: A plugin with one small dataset: 2 blobs in 4-D. Its loader logs each load; its test split is
#: a generator that logs every pass over it, with the reading process's program.
SPY_PLUGIN = '''
import os
import sys

import zoo

LOG = os.environ["TUNE_SPY_LOG"]


def _note(what):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(f"{what} {os.path.basename(sys.argv[0])} {os.getpid()}\\n")


def load_blobs(n=400, seed=0):
    import numpy as np
    import tensorflow as tf

    _note("load")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    test_x, test_y = x[320:], y[320:]

    def test_examples():
        _note("test")
        yield from zip(test_x, test_y)

    test = tf.data.Dataset.from_generator(test_examples, output_signature=(
        tf.TensorSpec((4,), tf.float32), tf.TensorSpec((), tf.int64)))
    return {"train": (x[:320], y[:320]), "test": test}


@zoo.hookimpl
def register_datasets(register):
    register("spy_blobs", load_blobs, task="multiclass", input_shape=(4,), num_classes=2,
             params={"n": 400, "seed": 0}, description="Two blobs; logs who reads its test split.")
'''

CATALOGUE = """
[entries.blobs-mlp]
architecture = { name = "mlp", units = 8 }
dataset = "spy_blobs"
optimizer = "adam"
epochs = 4
batch_size = 32
"""


def _spy_site(root: Path) -> Path:
    """The spy plugin as an installed distribution: a module and its dist-info on a path."""
    site = root / "site"
    (site / "zoo_tune_spy-0.1.dist-info").mkdir(parents=True)
    (site / "zoo_tune_spy.py").write_text(SPY_PLUGIN, encoding="utf-8")
    (site / "zoo_tune_spy-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zoo-tune-spy\nVersion: 0.1\n", encoding="utf-8")
    (site / "zoo_tune_spy-0.1.dist-info" / "entry_points.txt").write_text(
        "[zoo]\ntune_spy = zoo_tune_spy\n", encoding="utf-8")
    return site


@pytest.mark.slow
def test_tune_scores_on_validation_only_then_retrains_once_on_test(tmp_path: Path) -> None:
    require_ray()
    ns = namespace()
    # Short: Ray's session files go under ZOO_HOME/ray, and its socket paths must stay short.
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"zt-{os.getpid()}"
    log = tmp_path / "reads.log"
    catalogue = tmp_path / "entries.toml"
    catalogue.write_text(CATALOGUE, encoding="utf-8")
    variants = tmp_path / "tuned.toml"
    variants.write_text("# my variants\n", encoding="utf-8")
    env = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1", "PYTHONPATH": str(_spy_site(tmp_path)),
           "TUNE_SPY_LOG": str(log)}
    env.pop("ZOO_REGISTRY", None)

    def zoo(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(ns.command([sys.executable, "-m", "zoo", "--registry", str(catalogue), *args]),
                              capture_output=True, text=True, env=env, timeout=timeout)

    try:
        result = zoo("tune", "blobs-mlp", "--space", "learning_rate=loguniform(0.001,0.05)",
                     "--space", "architecture.units=choice(4,8)", "--trials", "4", "--scheduler", "asha",
                     "--write-entry", "blobs-tuned", "--registry", str(variants), "--format", "json")
        assert result.returncode == 0, result.stderr[-5000:]
        out = json.loads(result.stdout)
        reads = [line.split() for line in log.read_text().splitlines()]
        # The trials (Ray workers) loaded the data but never read its test split; the retrain
        # (a bench worker) did, once it had chosen.
        assert sum(1 for what, program, _ in reads if what == "load" and program != "bench_worker.py") >= 4
        test_reads = [program for what, program, _ in reads if what == "test"]
        assert test_reads and set(test_reads) == {"bench_worker.py"}, reads

        # One line per finished trial on stderr, none of Ray Tune's tables.
        assert result.stderr.count("] trial ") == 4 and "Trial status" not in result.stderr
        trials = out["trials"]
        assert len(trials) == 4 and all(t["value"] is not None for t in trials)
        # At least one trial ran to its end (the runner's own last scoring included), so the
        # check above covers a whole run, not only the epochs ASHA let through.
        assert any(t["status"] == "ok" and t["epochs"] == 4 for t in trials), trials
        best = min(trials, key=lambda t: -t["value"])  # val_accuracy: higher is better
        assert out["metric"] == "val_accuracy" and out["best"]["number"] == best["number"]
        # Every result a trial reported: validation metrics, never a test one.
        results = [json.loads(line) for path in Path(out["experiment"]).glob("*/result.json")
                   for line in path.read_text().splitlines() if line.strip()]
        assert results and all("val_accuracy" in r for r in results)
        assert not [k for r in results for k in r if k.startswith("test")]

        # The retrain: trained once with the best config, scored on test, stored with its config.
        retrain = out["retrain"]
        assert retrain["status"] == "ok" and "test" in retrain["metrics"]
        assert retrain["label"] == " ".join(out["best"]["overrides"])
        stored = json.loads(zoo("runs", "last", "--format", "json").stdout)
        assert len(stored) == 1 and stored[0]["metrics"]["test"]["accuracy"] == retrain["metrics"]["test"]["accuracy"]
        config = stored[0]["entry_config"]
        assert config["recipe"]["learning_rate"] == out["best"]["config"]["learning_rate"]
        assert config["architecture"]["params"]["units"] == out["best"]["config"]["architecture.units"]
        assert config["recipe"]["validation_split"] is None  # the retrain trains on the whole train split

        # The variant: appended to the file, shown and benchmarked by zoo.
        text = variants.read_text()
        assert text.startswith("# my variants\n") and "[entries.blobs-tuned]" in text
        assert 'extends = "blobs-mlp"' in text
        shown = zoo("--registry", str(variants), "show", "blobs-tuned", "--format", "json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["recipe"]["learning_rate"] == out["best"]["config"]["learning_rate"]
        benched = zoo("--registry", str(variants), "bench", "blobs-tuned", "--format", "json")
        assert benched.returncode == 0, benched.stderr[-3000:]
        assert json.loads(benched.stdout)[0]["status"] == "ok"
        # Ray's files (its session and its token, Tune's experiment) are under ZOO_HOME.
        assert (home / "ray" / "auth_token").exists() and Path(out["experiment"]).parent == home / "tune"
    finally:
        ns.stop()
        import shutil

        shutil.rmtree(home, ignore_errors=True)


# -- without Ray ----------------------------------------------------------------------------------
def test_the_space_reads_every_kind_of_spec() -> None:
    space = parse_space(["learning_rate=loguniform(1e-4,1e-2)", "batch_size=choice(32,64,128)",
                         "architecture.filters=choice(16, 32)", "dropout=uniform(0, 0.5)", "epochs=randint(1,4)",
                         "dataset.image_size=choice([100,100],[150,150])"])
    assert [(d.key, d.kind, d.args) for d in space] == [
        ("learning_rate", "loguniform", (1e-4, 1e-2)), ("batch_size", "choice", (32, 64, 128)),
        ("architecture.filters", "choice", (16, 32)), ("dropout", "uniform", (0.0, 0.5)),
        ("epochs", "randint", (1, 4)), ("dataset.image_size", "choice", ([100, 100], [150, 150]))]
    config = {"learning_rate": 0.0012345678, "batch_size": 64, "architecture.filters": 16, "dropout": 0.25,
              "epochs": 2, "dataset.image_size": [100, 100]}
    assert point(config, space)["learning_rate"] == 0.001235
    assert overrides_for(config, space) == ["learning_rate=0.001235", "batch_size=64", "architecture.filters=16",
                                            "dropout=0.25", "epochs=2", "dataset.image_size=[100, 100]"]


@pytest.mark.parametrize("bad", ["learning_rate", "learning_rate=0.1", "learning_rate=loguniform(0,1)",
                                 "learning_rate=loguniform(0.1,0.01)", "lr=normal(0,1)", "n=randint(1.5,3)",
                                 "n=choice()"])
def test_a_bad_space_is_one_clear_error(bad: str) -> None:
    with pytest.raises(CatalogueError, match="--space"):
        parse_space([bad])


def test_trials_select_on_validation_never_test() -> None:
    class Recipe:
        metrics = ["accuracy"]

    class Entry:
        recipe = Recipe()

    assert selection_metric(Entry(), None) == ("val_accuracy", "max")
    assert selection_metric(Entry(), "loss") == ("val_loss", "min")
    assert selection_metric(Entry(), "val_mae") == ("val_mae", "min")
    for bad in ("test_accuracy", "train_loss"):
        with pytest.raises(ZooError, match="validation data only"):
            selection_metric(Entry(), bad)
    assert 0 < DEFAULT_VALIDATION_SPLIT < 1
    assert trial_number("b096f_00003") == 4


def test_a_trial_gets_no_test_split_and_the_loader_keeps_its_signature() -> None:
    import inspect

    from zoo.registry import get_registry

    registry = get_registry()
    guarded = without_test(registry, "linear")
    splits = guarded.dataset("linear").loader()
    assert set(splits) == {"train"} and set(registry.dataset("linear").loader()) == {"train", "test"}
    assert inspect.signature(guarded.dataset("linear").loader) == inspect.signature(registry.dataset("linear").loader)


def test_toml_text_reads_back_as_the_same_value() -> None:
    import tomllib

    for value in (True, 3, 0.001235, 1e-05, "a \"b\" c", [1, 2], {"x": 1}):
        assert tomllib.loads(f"v = {toml_text(value)}")["v"] == value


def test_a_variant_is_appended_and_checked_before_it_is_written(tmp_path: Path) -> None:
    text = variant_text("net-tuned", "net", ["epochs=2", "learning_rate=0.001", "architecture.units=16"], "tuned")
    assert text == textwrap.dedent("""\
        # tuned
        [entries.net-tuned]
        extends = "net"
        epochs = 2
        learning_rate = 0.001
        architecture.units = 16
        """)
    path = tmp_path / "mine.toml"
    path.write_text("[entries.other]\nextends = \"net\"", encoding="utf-8")  # no final newline
    checked = []
    append_variant(path, "net-tuned", text, checked.append)
    assert checked and path.read_text().endswith(text) and "[entries.other]\nextends = \"net\"\n" in path.read_text()
    before = path.read_text()
    with pytest.raises(CatalogueError, match="already has an entry"):
        append_variant(path, "net-tuned", text, checked.append)

    def refuse(file: Path) -> None:
        raise CatalogueError("does not resolve")

    with pytest.raises(CatalogueError, match="does not resolve"):
        append_variant(path, "net-tuned-2", text.replace("net-tuned", "net-tuned-2"), refuse)
    assert path.read_text() == before  # nothing written when the check fails
    broken = tmp_path / "broken.toml"
    broken.write_text("[entries.x\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid TOML"):
        append_variant(broken, "net-tuned", text, checked.append)
    with pytest.raises(CatalogueError, match="by hand"):
        variant_text("v", "net", ["callbacks.stop.value=1"], "c")
