"""zoo predict from the saved model alone: labels, the same preprocessing for files and numbers,
one clear line for a bad input, and --runtime tflite without TensorFlow (real model, real files,
real processes; the tiny model of deploy_helpers, trained once for the module)."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from deploy_helpers import CLASSES, ENTRY, pattern, run_zoo, trained_home, write_png

import zoo
from zoo.plugins import load_plugins
from zoo.registry import collect


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("predict")
    home, catalogue, data = trained_home(base)
    inputs = base / "inputs"
    images = {name: write_png(inputs / f"{name}.png", pattern(name)) for name in CLASSES}
    exported = run_zoo(home, "export", ENTRY, "--format", "tflite")
    assert exported.returncode == 0, exported.stderr
    shutil.rmtree(data)  # from here on only the model's folder is there: no data folder
    return {"home": home, "catalogue": catalogue, "images": images, "inputs": inputs}


def one_error_line(result) -> str:
    """The command failed with exactly one line on stderr, zoo's, and no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), result.stderr
    return lines[0]


def test_png_gets_its_label_from_the_saved_model_alone(trained):
    home, images = trained["home"], trained["images"]
    result = run_zoo(home, "predict", ENTRY, *map(str, images.values()), "--top-k", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for (name, path), line in zip(images.items(), lines, strict=True):
        item, shown = line.split("\t")
        assert item == str(path)
        first, second = shown.split(", ")
        assert first.split(" ")[0] == name, line  # the right class, by its folder name
        assert second.split(" ")[0] in CLASSES and second.split(" ")[0] != name
    saved = json.loads((home / "models" / ENTRY / "inputs.json").read_text())
    assert saved["class_names"] == CLASSES and saved["input_shape"] == [8, 8, 1]
    assert saved["preprocessing"]["scale"] == pytest.approx(1 / 255)


def keras_outputs(trained) -> list[dict]:
    """``zoo predict --json`` on the Keras runtime for the columns PNG, the same pixels as 64
    numbers, as a .npy array, and as numbers already divided by 255 (one process, memoised)."""
    if "keras" not in trained:
        raw = pattern("columns")
        numbers = ",".join(str(int(v)) for v in raw.reshape(-1))  # 64 values: never a file name
        npy = trained["inputs"] / "columns.npy"
        np.save(npy, raw)
        scaled = ",".join(f"{v / 255:.6f}" for v in raw.reshape(-1))
        result = run_zoo(trained["home"], "predict", ENTRY, str(trained["images"]["columns"]), numbers, str(npy),
                         scaled, "--json")
        assert result.returncode == 0, result.stderr
        trained["keras"] = json.loads(result.stdout)
    return trained["keras"]


def test_numbers_and_npy_go_through_the_same_preprocessing_as_a_png(trained):
    png, given, array, scaled = keras_outputs(trained)
    assert png["label"] == "columns" and png["top"][0]["class"] == CLASSES.index("columns")
    assert len(png["output"]) == 3 and sum(png["output"]) == pytest.approx(1.0, abs=1e-5)  # the whole vector
    assert png["top"][0]["probability"] == pytest.approx(max(png["output"]))
    # the PNG became the very example the loader made in training (pixels / 255): the exported
    # float model, run here on that example, gives what zoo predict gave for the file
    from zoo.runtimes import TFLiteRuntime

    example = pattern("columns")[None, ..., None].astype("float32") / 255.0
    expected = TFLiteRuntime(trained["home"] / "models" / ENTRY / "export" / "model.tflite").run(example)[0]
    np.testing.assert_allclose(png["output"], expected, atol=1e-5)
    np.testing.assert_allclose(given["output"], png["output"], atol=1e-6)
    np.testing.assert_allclose(array["output"], png["output"], atol=1e-6)
    # numbers are raw pixels, scaled as in training: pre-scaled ones are another input
    assert np.abs(np.asarray(scaled["output"]) - np.asarray(png["output"])).max() > 1e-3


@pytest.mark.parametrize("case", ["text", "truncated", "npy-shape", "count", "long-count", "missing", "folder"])
def test_a_bad_input_gets_one_clear_line(trained, case):
    home, inputs = trained["home"], trained["inputs"]
    if case == "text":
        (inputs / "notes.png").write_text("not an image at all\n")
        item, expected = str(inputs / "notes.png"), "not a PNG, JPEG, GIF, BMP image or .npy array"
    elif case == "truncated":
        whole = trained["images"]["rows"].read_bytes()
        (inputs / "cut.png").write_bytes(whole[: len(whole) // 2])
        item, expected = str(inputs / "cut.png"), "not a readable image"
    elif case == "npy-shape":
        np.save(inputs / "small.npy", np.zeros((5, 5)))
        item, expected = str(inputs / "small.npy"), "has shape (5, 5) (25 values); entry 'tiny-shapes' takes 64 value(s)"
    elif case == "count":
        item, expected = "1,2,3", "has 3 value(s); entry 'tiny-shapes' takes 64 value(s) (shape (8, 8, 1))"
    elif case == "long-count":  # 300 numbers: once an OSError (file name too long), now a count
        item, expected = ",".join(["128"] * 300), "has 300 value(s); entry 'tiny-shapes' takes 64"
    elif case == "missing":
        item, expected = str(inputs / "absent.png"), "no such file; expected numbers (comma-separated) or a PNG"
    else:
        item, expected = str(inputs), "a folder; expected numbers"
    line = one_error_line(run_zoo(home, "predict", ENTRY, item))
    assert expected in line, line


def test_tflite_runtime_imports_no_tensorflow_and_agrees_with_keras(trained):
    home, image = trained["home"], str(trained["images"]["columns"])
    script = (
        "import json, sys\n"
        "from zoo.cli import main\n"
        f"try:\n    main(['predict', {ENTRY!r}, {image!r}, '--runtime', 'tflite', '--json'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'))\n"
        "print(json.dumps(heavy))\n"
    )
    import os
    import subprocess

    env = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    predicted, heavy = result.stdout.strip().rsplit("\n", 1)
    assert json.loads(heavy) == []  # not even a lazy import
    lite = np.asarray(json.loads(predicted)[0]["output"])
    np.testing.assert_allclose(lite, keras_outputs(trained)[0]["output"], atol=1e-4)
    assert "XNNPACK" not in result.stderr  # LiteRT's notice is not shown


def test_runtime_without_its_export_says_how_to_make_it(trained):
    image = str(trained["images"]["rows"])
    line = one_error_line(run_zoo(trained["home"], "predict", ENTRY, image, "--runtime", "onnx"))
    assert "has no onnx export" in line and f"run `zoo export {ENTRY} --format onnx` first" in line


def test_untrained_and_unknown_entries(tmp_path):
    assert "has not been trained yet" in one_error_line(run_zoo(tmp_path, "predict", "hello-dense", "10"))
    assert "unknown entry 'hello-dens'" in one_error_line(run_zoo(tmp_path, "predict", "hello-dens", "10"))


def test_zoo_show_prints_the_class_names(trained, tmp_path):
    data = tmp_path / "folders"
    for name in CLASSES:
        write_png(data / name / "a.png", pattern(name))
    result = run_zoo(tmp_path, "show", ENTRY, "--set", f"dataset.data_dir={data}", registry=trained["catalogue"])
    assert result.returncode == 0, result.stderr
    assert "classes" in result.stdout and "0=checks, 1=columns, 2=rows" in result.stdout
    fashion = run_zoo(tmp_path, "show", "fashion-cnn", "--format", "json")
    assert json.loads(fashion.stdout)["class_names"][6] == "Shirt"


class NamedData:
    def __init__(self, names, task="multiclass", classes=3):
        self.names, self.task, self.classes = names, task, classes

    @zoo.hookimpl
    def register_datasets(self, register):
        register("named-data", lambda: {}, task=self.task, input_shape=(2,), num_classes=self.classes,
                 class_names=self.names)


@pytest.mark.parametrize("names, task, classes, problem", [
    (["a", "b"], "multiclass", 3, "class_names lists 2 name(s) for 3 class(es)"),
    (["no", "yes", "maybe"], "binary", 1, "a binary dataset names 0 and 1"),
    (["x"], "regression", 1, "a regression dataset has no class names"),
    ("abc", "multiclass", 3, "class_names must be a list of names"),
])
def test_class_names_that_do_not_fit_fail_the_plugin(names, task, classes, problem):
    pm, records = load_plugins(extra=[("named", NamedData(names, task, classes))], strict=False, disabled=set())
    registry = collect(pm, records)
    assert "named-data" not in registry.datasets
    failed = [r for r in registry.plugins if r.status == "failed"]
    assert len(failed) == 1 and problem in failed[0].error


def test_class_names_that_fit_are_kept():
    pm, records = load_plugins(extra=[("named", NamedData(("a", "b", "c")))], strict=False, disabled=set())
    spec = collect(pm, records).dataset("named-data")
    assert spec.names_for({}) == ["a", "b", "c"] and spec.to_dict()["class_names"] == ["a", "b", "c"]


class PreppedData:
    def __init__(self, prep):
        self.prep = prep

    @zoo.hookimpl
    def register_datasets(self, register):
        register("prepped-data", lambda: {}, task="multiclass", input_shape=(4, 4, 1), num_classes=3,
                 preprocessing=lambda **params: self.prep)


@pytest.mark.parametrize("prep, problem", [
    ({"kind": "magic"}, "kind 'image' or 'numeric'"),
    ({"kind": "image", "image_size": [4, 4], "color_mode": "cmyk"}, "color_mode grayscale|rgb|rgba"),
    (None, "must return a dict"),
])
def test_preprocessing_must_be_data_predict_can_apply(prep, problem):
    pm, records = load_plugins(extra=[("prepped", PreppedData(prep))], strict=False, disabled=set())
    spec = collect(pm, records).dataset("prepped-data")
    with pytest.raises(ValueError, match=problem):
        spec.preprocessing_for({})
    good = PreppedData({"kind": "image", "image_size": [4, 4], "color_mode": "grayscale", "scale": 1 / 255})
    pm, records = load_plugins(extra=[("prepped", good)], strict=False, disabled=set())
    assert collect(pm, records).dataset("prepped-data").preprocessing_for({})["scale"] == pytest.approx(1 / 255)
