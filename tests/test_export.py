"""zoo export: each format's round trip on a tiny real model, the parity check and its failure
path, the inference rows of zoo bench-inference in the history (real TF, real files; the tiny
model of deploy_helpers, trained once for the module by the real zoo train)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from deploy_helpers import CLASSES, ENTRY, pattern, run_zoo, trained_home

from zoo.export import compare


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home, catalogue, data = trained_home(tmp_path_factory.mktemp("export"))
    return {"home": home, "catalogue": catalogue, "data": data}


@pytest.fixture
def home(trained, monkeypatch) -> Path:
    monkeypatch.setenv("ZOO_HOME", str(trained["home"]))
    return trained["home"]


def batch() -> np.ndarray:
    """One raw example of each class, scaled as the loader scales them."""
    return np.stack([pattern(name)[..., None] / 255.0 for name in CLASSES]).astype("float32")


@pytest.mark.parametrize("fmt, quantization", [
    ("saved_model", "none"), ("tflite", "none"), ("tflite", "float16"), ("tflite", "dynamic"), ("onnx", "none"),
])
def test_each_format_round_trips(home, fmt, quantization):
    from zoo.artifacts import load_model
    from zoo.export import export, export_path
    from zoo.predict import open_runtime
    from zoo.runtimes import open_export

    result = export(ENTRY, fmt, quantization)
    path = export_path(ENTRY, fmt, quantization)
    assert Path(result.path) == path and path.exists() and result.size_bytes > 0
    parity = result.parity
    assert parity.passed, parity.line()
    assert parity.split == "test" and parity.examples == 12  # the test folder's 3 × 4 images
    if quantization == "none":
        assert parity.check == "max_abs_diff" and parity.max_abs_diff <= 1e-4
    else:
        assert parity.check == "agreement" and parity.agreement >= 0.98
    manifest = json.loads((path.parent / "exports.json").read_text())
    assert manifest[f"{fmt}:{quantization}"]["parity"]["passed"] is True

    # the exported file, run again on its own, gives the Keras model's answers
    x = batch()
    keras_out = np.asarray(load_model(ENTRY)(x, training=False))
    out = open_export(fmt, path, quantization).run(x)
    assert out.shape == keras_out.shape == (3, 3)
    assert list(out.argmax(1)) == [0, 1, 2] == list(keras_out.argmax(1))
    np.testing.assert_allclose(out, keras_out, atol=1e-4 if quantization == "none" else 0.05)
    if fmt != "saved_model":  # what zoo predict --runtime finds
        found = open_runtime(ENTRY, fmt, quantization)
        assert Path(found.path) == path


def test_int8_export_from_the_command_line_prints_a_passing_parity_line(trained):
    result = run_zoo(trained["home"], "export", ENTRY, "--format", "tflite", "--quantize", "int8")
    assert result.returncode == 0, result.stderr
    first, parity = result.stdout.strip().splitlines()
    assert first.startswith(f"exported {ENTRY} as tflite (int8): ") and " bytes in " in first
    assert parity.strip().startswith("parity on 12 test examples vs Keras: top-1 agreement 100.00% ≥ 98.00%")
    assert parity.endswith(": ok")
    assert result.stderr == ""  # converter and LiteRT notices are not shown
    path = trained["home"] / "models" / ENTRY / "export" / "model-int8.tflite"
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_path=str(path)).get_tensor_details()
    assert any(d["dtype"] == np.int8 for d in details)  # full integer inside, float at the edges


def test_a_tight_tolerance_fails_the_export_with_exit_1(trained):
    result = run_zoo(trained["home"], "export", ENTRY, "--format", "tflite", "--quantize", "dynamic",
                     "-o", str(trained["home"] / "elsewhere.tflite"), "--max-diff", "1e-9")
    assert result.returncode == 1, result.stdout
    assert "FAILED" in result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"zoo: error: parity check failed for {ENTRY} as tflite (dynamic)")
    assert "max |diff|" in line and "> 1e-09" in line and "the file is kept at" in line
    assert (trained["home"] / "elsewhere.tflite").exists()


def test_parity_rules():
    ref = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    assert compare(ref, ref + 5e-5, "multiclass", False, "test", max_diff=None, min_agreement=0.98,
                   max_rel_diff=0.05).passed
    floating = compare(ref, ref + 2e-4, "multiclass", False, "test", max_diff=None, min_agreement=0.98,
                       max_rel_diff=0.05)
    assert not floating.passed and floating.check == "max_abs_diff" and "FAILED" in floating.line()
    flipped = ref.copy()
    flipped[0] = [0.2, 0.7, 0.1]  # the first example's top-1 changes, the second's does not
    quantized = compare(ref, flipped, "multiclass", True, "test", max_diff=None, min_agreement=0.98, max_rel_diff=0.05)
    assert quantized.agreement == 0.5 and not quantized.passed
    assert compare(ref, flipped, "multiclass", True, "test", max_diff=None, min_agreement=0.5, max_rel_diff=0.05).passed
    binary = compare(np.array([[0.4], [0.9]]), np.array([[0.6], [0.9]]), "binary", True, "test", max_diff=None,
                     min_agreement=0.98, max_rel_diff=0.05)
    assert binary.agreement == 0.5 and not binary.passed
    regression = np.array([[10.0], [-20.0]])
    assert compare(regression, regression + 0.9, "regression", True, "test", max_diff=None, min_agreement=0.98,
                   max_rel_diff=0.05).passed  # 0.9 ≤ 5 % of 20
    assert not compare(regression, regression + 1.1, "regression", True, "test", max_diff=None,
                       min_agreement=0.98, max_rel_diff=0.05).passed


@pytest.mark.parametrize("args, message", [
    (["--format", "onnx", "--quantize", "int8"], "--quantize int8 is for --format tflite"),
    (["--format", "tflite"], "entry 'hello-dense' has not been trained yet"),
])
def test_bad_requests_get_one_line(tmp_path, args, message):
    name = ENTRY if "onnx" in args else "hello-dense"
    result = run_zoo(tmp_path, "export", name, *args)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr


def test_a_missing_runtime_package_is_named_with_its_install_line(trained):
    script = ("import sys\nsys.modules['ai_edge_litert'] = None  # as if not installed\n"
              "from zoo.cli import main\n"
              f"main(['export', {ENTRY!r}, '--format', 'tflite'])\n")
    env = {**os.environ, "ZOO_HOME": str(trained["home"]), "ZOO_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip() == ("zoo: error: checking a TFLite export needs ai-edge-litert, which is not "
                                     "installed: pip install 'zoo-models[export]' (or: pip install ai-edge-litert)")


def test_bench_inference_rows_join_the_history(home):
    from zoo.inference_bench import InferenceOptions, run_inference_bench
    from zoo.store import open_existing

    options = InferenceOptions(repeats=5, warmup=1, max_seconds=0.5, min_calls=3, throughput_seconds=0.1)
    run_id, rows = run_inference_bench([ENTRY, "hello-dense"], ["keras", "tflite", "onnx"], options)
    ok = [r for r in rows if r["entry"] == ENTRY]
    assert [r["runtime"] for r in ok] == ["keras model.predict", "keras direct call", "keras tf.function", "litert",
                                          "onnxruntime"]
    for row in ok:
        assert row["status"] == "ok" and row["kind"] == "inference", row.get("error")
        assert row["metrics"] == {"test": {"accuracy": 1.0}} and row["size_bytes"] > 0
        assert 0 < row["latency_p50_ms"] <= row["latency_p99_ms"] and row["latency_calls"] >= 3
        assert row["inference_samples_per_second"] > 0 and row["max_abs_diff"] <= 1e-4
    [untrained] = [r for r in rows if r["entry"] == "hello-dense"]
    assert untrained["status"] == "failed" and "has not been trained yet" in untrained["error"]
    with open_existing() as store:
        assert len(store.rows(run_id)) == 6
    shown = run_zoo(home, "runs", str(run_id))
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.startswith(ENTRY)]
    assert len(lines) == 5 and any("litert" in line and "tflite" in line for line in lines)  # one row each
    report = home / "report.html"
    assert run_zoo(home, "report", str(run_id), "-o", str(report)).returncode == 0
    page = report.read_text()
    assert 'id="inference"' in page and "onnxruntime" in page and "p50 ms" in page
