"""Inference per format and runtime, side by side in one run (issue 18): for each entry, train it
(``zoo train``), then ``zoo bench-inference`` it in every format (Keras as ``model.predict``, a
direct call and a ``tf.function``; SavedModel; TFLite float32, float16, dynamic-range and int8;
ONNX), and time the whole command ``zoo predict fashion-cnn shirt.png`` on the TFLite and the
Keras runtime as processes, interleaved. Prints one markdown table per entry, the goals, and a
JSON summary line.

    ZOO_DATA_DIR=../shared/data python benchmarks/inference.py [--entries fashion-cnn,...]
        [--repeats 200] [--predict-repeats 5] [--home DIR] [--quick]

Training (documented in each table): ``fashion-cnn`` 1 epoch; ``horse-human-convnet`` on the
shared 100×100 copy (``dataset.image_size=[100,100]``) for 5 epochs; ``lite0-transfer-cats-dogs``
its catalogue recipe. ``--quick``: ``fashion-cnn`` on a tiny stand-in image folder, few timed
calls: a smoke run of this script, no measurement.

Goals (for ``fashion-cnn``): int8 TFLite ≤ 0.3× the float32 TFLite size, its test accuracy within
0.5 points of Keras, its batch-1 p50 ≤ 1/10 of the fastest Keras path (a direct or compiled
call, not ``model.predict``); ONNX Runtime within 1e-4 of Keras; ``zoo predict ... --runtime
tflite`` imports no TensorFlow and takes ≤ 1/4 of the Keras runtime's wall time.
"""
from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import QUICK_NOTE, add_quick, env, machine, quick_dataset, quick_images, summary

FORMATS = "keras,saved_model,tflite,tflite-float16,tflite-dynamic,tflite-int8,onnx"
TRAINING = {
    "fashion-cnn": ["epochs=1"],
    "horse-human-convnet": ["dataset.image_size=[100,100]", "epochs=5"],
    "lite0-transfer-cats-dogs": [],
}
SHIRT = 6  # Fashion-MNIST's class id of "Shirt"


def zoo(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "zoo", *args], env=env(ZOO_HOME=str(home)), capture_output=True,
                         text=True)
    if check and out.returncode != 0:
        raise SystemExit(f"zoo {' '.join(args)} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return out


def shirt_png(path: Path, data_dir: Path | None) -> Path:
    """The first Shirt of Fashion-MNIST's test split as a 28×28 PNG (a stand-in grey image in
    --quick mode, where the real data may be absent)."""
    import numpy as np
    from PIL import Image

    if data_dir is None:
        pixels = (np.indices((28, 28))[0] * 9 % 256).astype(np.uint8)
    else:
        folder = data_dir / "fashion-mnist"
        images = gzip.open(folder / "t10k-images-idx3-ubyte.gz").read()
        labels = gzip.open(folder / "t10k-labels-idx1-ubyte.gz").read()
        index = list(labels[8:]).index(SHIRT)
        pixels = np.frombuffer(images, np.uint8, count=784, offset=16 + 784 * index).reshape(28, 28)
    Image.fromarray(pixels).save(path)
    return path


def predict_times(home: Path, entry: str, image: Path, repeats: int) -> dict[str, object]:
    """Wall seconds of the whole `zoo predict ENTRY IMAGE --runtime R` process, TFLite and Keras
    interleaved; and whether the TFLite one imported TensorFlow (python -X importtime)."""
    times: dict[str, list[float]] = {"tflite": [], "keras": []}
    outputs: dict[str, str] = {}
    for _ in range(repeats):
        for runtime in ("tflite", "keras"):
            start = time.perf_counter()
            out = zoo(home, "predict", entry, str(image), "--runtime", runtime)
            times[runtime].append(time.perf_counter() - start)
            outputs[runtime] = out.stdout.strip()
    traced = subprocess.run([sys.executable, "-X", "importtime", "-m", "zoo", "predict", entry, str(image), "--runtime",
                             "tflite"], env=env(ZOO_HOME=str(home)), capture_output=True, text=True)
    imported = sorted({line.split("|")[-1].strip().split(".")[0] for line in traced.stderr.splitlines()
                       if line.startswith("import time:") and "|" in line})
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {"seconds": times, "median_seconds": medians, "ratio": medians["tflite"] / medians["keras"],
            "tflite_imports_tensorflow": "tensorflow" in imported or "keras" in imported, "outputs": outputs}


def table(entry: str, rows: list[dict], note: str) -> str:
    keras = next(r for r in rows if r.get("runtime") == "keras tf.function")
    split = keras.get("inference_split", "test")
    base = keras["metrics"][split]["accuracy"]
    lines = [f"**{entry}** ({note}; {split} split, {rows[0].get('threads')} threads for LiteRT/ONNX Runtime)", "",
             f"| format | runtime | size | {split} accuracy | Δ vs Keras (points) | max \\|diff\\| | batch-1 p50 ms | "
             "p99 ms | batch-64 samples/s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r.get('format')} {r.get('quantization')} | {r.get('runtime')} | failed: {r.get('error')} "
                         "| | | | | | |")
            continue
        acc = r["metrics"][split]["accuracy"]
        fmt = r["format"] + ("" if r["quantization"] == "none" else f" {r['quantization']}")
        lines.append(f"| {fmt} | {r['runtime']} | {r['size_bytes'] / 1e3:,.0f} KB | {acc:.4f} | "
                     f"{(acc - base) * 100:+.2f} | {r['max_abs_diff']:.1e} | {r['latency_p50_ms']:.3g} | "
                     f"{r['latency_p99_ms']:.3g} | {r['inference_samples_per_second']:,.0f} |")
    return "\n".join(lines)


def goals(rows: list[dict], predict: dict | None) -> dict[str, object]:
    by = {(r["runtime"], r["format"], r["quantization"]): r for r in rows if r.get("status") == "ok"}
    keras = [r for r in rows if r.get("status") == "ok" and r["runtime"] in ("keras direct call", "keras tf.function")]
    f32, int8 = by.get(("litert", "tflite", "none")), by.get(("litert", "tflite", "int8"))
    onnx = by.get(("onnxruntime", "onnx", "none"))
    split = rows[0].get("inference_split", "test")
    base = by[("keras tf.function", "keras", "none")]["metrics"][split]["accuracy"]
    fastest = min(r["latency_p50_ms"] for r in keras)
    result: dict[str, object] = {}
    if f32 and int8:
        result["int8_size_ratio"] = int8["size_bytes"] / f32["size_bytes"]
        result["int8_accuracy_delta_points"] = (int8["metrics"][split]["accuracy"] - base) * 100
        result["int8_p50_vs_fastest_keras"] = int8["latency_p50_ms"] / fastest
        result["met_int8_size"] = result["int8_size_ratio"] <= 0.3
        result["met_int8_accuracy"] = abs(result["int8_accuracy_delta_points"]) <= 0.5
        result["met_int8_latency"] = result["int8_p50_vs_fastest_keras"] <= 0.1
    if onnx:
        result["onnx_max_abs_diff"] = onnx["max_abs_diff"]
        result["met_onnx_parity"] = onnx["max_abs_diff"] <= 1e-4
    if predict:
        result["predict_tflite_vs_keras_wall"] = predict["ratio"]
        result["met_predict_wall"] = predict["ratio"] <= 0.25
        result["met_predict_no_tensorflow"] = not predict["tflite_imports_tensorflow"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", default=",".join(TRAINING))
    parser.add_argument("--formats", default=FORMATS)
    parser.add_argument("--repeats", type=int, default=200, help="timed batch-1 calls per runtime")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="batch-1 time budget per runtime")
    parser.add_argument("--predict-repeats", type=int, default=5, help="interleaved zoo predict runs per runtime")
    parser.add_argument("--home", help="ZOO_HOME to use (kept afterwards); default a temporary folder")
    add_quick(parser)
    args = parser.parse_args()
    entries = ["fashion-cnn"] if args.quick else [e for e in args.entries.split(",") if e]
    with tempfile.TemporaryDirectory(prefix="zoo-inference-") as tmp:
        home = Path(args.home) if args.home else Path(tmp) / "home"
        data_dir = None if args.quick else Path(env()["ZOO_DATA_DIR"])
        if args.quick:
            print(QUICK_NOTE, flush=True)
            training = {"fashion-cnn": [quick_dataset(quick_images(Path(tmp) / "images")), "epochs=1"]}
            repeats, max_seconds, predict_repeats = ["--repeats", "5", "--max-seconds", "0.5", "--examples", "40"], 0.5, 1
        else:
            training = TRAINING
            repeats, predict_repeats = ["--repeats", str(args.repeats), "--max-seconds", str(args.max_seconds)], \
                args.predict_repeats
        print(f"machine: {machine()}", flush=True)
        results: dict[str, dict] = {}
        for entry in entries:
            sets = [x for item in training.get(entry, []) for x in ("--set", item)]
            started = time.perf_counter()
            zoo(home, "train", entry, *sets, "--quiet")
            trained_in = time.perf_counter() - started
            bench = zoo(home, "bench-inference", entry, "--formats", args.formats, "--format", "json", *repeats,
                        check=False)
            rows = json.loads(bench.stdout)
            note = "trained with " + (" ".join(training.get(entry, [])) or "its catalogue recipe") + \
                f" in {trained_in:.0f} s"
            predict = None
            if entry == "fashion-cnn":
                image = shirt_png(Path(tmp) / "shirt.png", data_dir)
                predict = predict_times(home, entry, image, predict_repeats)
            results[entry] = {"rows": rows, "goals": goals(rows, predict), "predict": predict, "note": note}
            print("\n" + table(entry, rows, note) + "\n", flush=True)
            if predict:
                med = predict["median_seconds"]
                print(f"zoo predict {entry} shirt.png: --runtime tflite {med['tflite']:.2f} s, --runtime keras "
                      f"{med['keras']:.2f} s (medians of {predict_repeats}, interleaved): {predict['ratio']:.3f}×; "
                      f"TFLite imports TensorFlow: {predict['tflite_imports_tensorflow']}; "
                      f"prints: {predict['outputs']['tflite']!r}", flush=True)
            print(f"goals ({entry}): {json.dumps(results[entry]['goals'])}", flush=True)
    summary("inference", args.quick, machine=machine(),
            entries={e: {"goals": r["goals"], "predict_median_seconds": (r["predict"] or {}).get("median_seconds")}
                     for e, r in results.items()})


if __name__ == "__main__":
    main()
