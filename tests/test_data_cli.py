"""``zoo data list|show|fetch`` through the real CLI (in-process with click's runner, and one
subprocess to prove ``zoo data list`` never imports TensorFlow)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from zoo.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_data_list_is_tensorflow_free(tmp_path):
    code = (
        "import sys; from zoo.cli import main\n"
        "try:\n    main(['data', 'list', '--format', 'json'])\n"
        "except SystemExit:\n    pass\n"
        "bad = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
    )
    env = {**os.environ, "ZOO_HOME": str(tmp_path), "ZOO_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert "IMPORTED []" in out.stdout, out.stdout + out.stderr
    rows = json.loads(out.stdout.split("IMPORTED")[0])
    assert {r["name"] for r in rows} >= {"fashion_mnist", "mnist", "horse_or_human", "cats_vs_dogs", "image_folder"}


def test_data_list_says_missing_without_copies(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    from zoo_plugins import data_sources

    monkeypatch.setattr(data_sources, "SYSTEM_DIRS", [tmp_path / "none"])
    code, out, _ = run("data", "list", "--format", "json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["fashion_mnist"]["status"] == "missing" and rows["fashion_mnist"]["licence"] == "MIT (Zalando SE)"
    assert rows["image_folder"]["status"] == "needs data_dir"


def test_data_list_shows_where_each_copy_was_found(shared_data, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    code, out, _ = run("data", "list", "--format", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["fashion_mnist"]["status"] == "found"
    assert rows["fashion_mnist"]["found_in"] == f"ZOO_DATA_DIR {shared_data / 'fashion-mnist'}"
    assert rows["horse_or_human"]["found_in"].endswith("horse-or-human-100gray")
    assert rows["cats_vs_dogs"]["found_in"].endswith("cats-vs-dogs-128")
    assert rows["mnist"]["status"] == "partial (missing train-images-idx3-ubyte.gz)"
    assert rows["fashion_mnist"]["bytes"] > 30_000_000
    code, table, _ = run("data", "list")
    assert code == 0 and "fashion_mnist" in table and "30.9 MB" in table


def test_fetch_then_show_fashion_mnist(shared_data, monkeypatch, zoo_env):
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    code, out, err = run("data", "fetch", "fashion_mnist")
    assert code == 0, err
    cache = zoo_env / "cache" / "datasets" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
    assert str(cache) in out and "from ZOO_DATA_DIR" in out
    monkeypatch.delenv("ZOO_DATA_DIR")  # from now on, the cache alone
    code, out, err = run("data", "show", "fashion_mnist", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["location"]["origin"] == "cache"
    train, test = data["splits"]["train"], data["splits"]["test"]
    assert train["examples"] == 60000 and test["examples"] == 10000
    assert train["x_shape"] == [28, 28, 1] and train["x_dtype"] == "float32"
    assert set(train["classes"].values()) == {6000} and set(test["classes"].values()) == {1000}
    assert len(train["classes"]) == 10 and "Ankle boot" in train["classes"]


def test_show_image_dataset_with_params(shared_data, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    code, out, err = run("data", "fetch", "horse_or_human")
    assert code == 0 and "copied from ZOO_DATA_DIR" in out, err
    monkeypatch.delenv("ZOO_DATA_DIR")
    code, out, _ = run("data", "list", "--format", "json")
    row = next(r for r in json.loads(out) if r["name"] == "horse_or_human")
    assert row["found_in"].startswith("cache (copy of ") and "horse-or-human-100gray" in row["found_in"]
    code, out, err = run("data", "show", "horse_or_human", "--set", "dataset.image_size=[100,100]",
                         "--set", "augment=true")
    assert code == 0, err
    assert "input (100, 100, 3)" in out and "augmented training batches" in out
    assert "1,027 examples" in out and "256 examples" in out and "horses: 500, humans: 527" in out


def test_fetch_offline_with_nothing_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    from zoo_plugins import data_sources

    monkeypatch.setattr(data_sources, "SYSTEM_DIRS", [tmp_path / "none"])
    code, _, err = run("data", "fetch", "fashion_mnist")
    assert code == 1
    assert err.startswith("zoo: error: dataset 'fashion_mnist':") and err.count("\n") == 1
    assert "ZOO_OFFLINE=1 forbids downloading" in err and "Traceback" not in err


def test_bad_names_and_params(monkeypatch):
    code, _, err = run("data", "show", "fashion_mnis")
    assert code == 1 and "did you mean 'fashion_mnist'" in err
    code, _, err = run("data", "show", "fashion_mnist", "--set", "colour=1")
    assert code == 1 and "unknown dataset 'fashion_mnist' param 'colour'" in err
    code, _, err = run("data", "fetch", "linear")
    assert code == 1 and "nothing to fetch" in err


def test_explicit_data_dir_is_searched_alone(tmp_path):
    code, _, err = run("data", "show", "fashion_mnist", "--set", f"data_dir={tmp_path / 'nowhere'}")
    assert code == 1 and f"Looked in: data_dir {tmp_path / 'nowhere'}," in err and "cache" not in err.split("Looked in:")[1]


@pytest.mark.slow
def test_loader_output_feeds_keras_through_the_runner_pipeline(shared_data, monkeypatch):
    """Fashion-MNIST's numpy splits and horse-or-human's tf.data splits train a Keras model."""
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    import keras

    from zoo.registry import get_registry
    from zoo.pipeline import pipeline

    for name, params, loss in (("fashion_mnist", {}, "sparse_categorical_crossentropy"),
                               ("horse_or_human", {"image_size": [32, 32], "augment": True}, "binary_crossentropy")):
        spec = get_registry().dataset(name)
        params = {**spec.params, **params}
        splits = spec.loader(**params)
        augment = splits.pop("augment", None)
        train = pipeline(splits["train"], 16, training=True, seed=0, shuffle_buffer=64, augment=augment)
        model = keras.Sequential([keras.Input(spec.shape_for(params)), keras.layers.Flatten(),
                                  keras.layers.Dense(spec.classes_for(params) if loss.startswith("sparse") else 1,
                                                     activation="softmax" if loss.startswith("sparse") else "sigmoid")])
        model.compile("adam", loss, metrics=["accuracy"])
        history = model.fit(train, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)
        assert 0.0 <= history.history["accuracy"][0] <= 1.0 and history.history["loss"][0] > 0


def test_data_commands_honour_registry_and_report_broken_plugins_like_every_command(tmp_path, monkeypatch):
    """`zoo data` reads --registry like the other commands (a malformed one is refused with its
    file and line) and names a failed plugin on stderr, once, as `zoo list` does."""
    import zoo.registry as registry_module
    from zoo.plugins import PluginRecord

    bad = tmp_path / "bad.toml"
    bad.write_text("[entries.x\narchitecture = 'mlp'\n", encoding="utf-8")
    code, _, err = run("--registry", str(bad), "data", "list")
    assert code == 1 and f"{bad}:1" in err and "malformed TOML" in err, err

    registry = registry_module.get_registry()
    broken = PluginRecord("broken", "zoo_broken.plugin", status="failed", error="import failed: ImportError: nope")
    monkeypatch.setattr(registry, "plugins", [*registry.plugins, broken])
    code, out, err = run("data", "list", "--format", "json")
    assert code == 0 and json.loads(out)
    assert err.count("plugin 'broken' (zoo_broken.plugin) failed: import failed: ImportError: nope") == 1, err
