"""Every course entry and the Lite0 transfer entries, exported to every format (issue 18): each
entry is trained briefly (``zoo train``; what is checked is the export, not the accuracy), then
``zoo export`` runs for SavedModel, TFLite (float32, float16, dynamic-range, int8) and ONNX, each
with its parity check against the Keras model. Prints a markdown table (the parity line or the
error of each export) and a JSON summary line.

    ZOO_DATA_DIR=../shared/data python benchmarks/export_matrix.py [--entries a,b] [--home DIR] [--quick]

``--quick``: ``hello-dense`` only (no data needed), a smoke run of this script.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import QUICK_NOTE, add_quick, env, machine, summary

#: entry → the --set overrides it is trained with here (short runs: the export is what is checked)
TRAINING = {
    "hello-dense": [],
    "fashion-dense": ["epochs=1", "steps_per_epoch=200"],
    "fashion-cnn": ["epochs=1", "steps_per_epoch=200"],
    "fashion-cnn-fast": ["epochs=1", "steps_per_epoch=200"],
    "horse-human-convnet": ["dataset.image_size=[100,100]", "epochs=1"],
    "inception-transfer": ["architecture.weights=none", "epochs=1"],
    "lite0-transfer-cats-dogs": ["epochs=1"],
    "lite0-transfer-horses": ["epochs=1"],
}
EXPORTS = [("saved_model", "none"), ("tflite", "none"), ("tflite", "float16"), ("tflite", "dynamic"),
           ("tflite", "int8"), ("onnx", "none")]


def zoo(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo", *args], env=env(ZOO_HOME=str(home)), capture_output=True,
                          text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", default=",".join(TRAINING))
    parser.add_argument("--home", help="ZOO_HOME to use (kept afterwards); default a temporary folder")
    add_quick(parser)
    args = parser.parse_args()
    entries = ["hello-dense"] if args.quick else [e for e in args.entries.split(",") if e]
    if args.quick:
        print(QUICK_NOTE, flush=True)
    print(f"machine: {machine()}", flush=True)
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="zoo-export-matrix-") as tmp:
        home = Path(args.home) if args.home else Path(tmp) / "home"
        for entry in entries:
            sets = [x for item in TRAINING.get(entry, []) for x in ("--set", item)]
            trained = zoo(home, "train", entry, *sets, "--quiet")
            if trained.returncode != 0:
                results[entry] = {"train": "training failed: " + trained.stderr.strip().splitlines()[-1]}
                print(f"{entry}: {results[entry]['train']}", flush=True)
                continue
            results[entry] = {}
            for fmt, quantization in EXPORTS:
                start = time.perf_counter()
                out = zoo(home, "export", entry, "--format", fmt, "--quantize", quantization)
                seconds = time.perf_counter() - start
                lines = out.stdout.strip().splitlines()
                if out.returncode == 0:
                    size = lines[0].rsplit(", ", 1)[1].split(" bytes")[0]
                    text = f"ok, {size} bytes: {lines[-1].strip().split(': ', 1)[1]}"
                else:
                    text = "FAILED: " + (out.stderr.strip().splitlines() or ["?"])[-1]
                results[entry][f"{fmt} {quantization}"] = text
                print(f"{entry} {fmt} {quantization} ({seconds:.0f} s): {text}", flush=True)
    print("\n| entry | trained with | " + " | ".join(f"{f} {q}" for f, q in EXPORTS) + " |")
    print("|---|---|" + "---|" * len(EXPORTS))
    for entry, cells in results.items():
        row = [cells.get(f"{f} {q}", cells.get("train", "")).replace("|", "\\|") for f, q in EXPORTS]
        print(f"| {entry} | {' '.join(TRAINING.get(entry, [])) or 'its recipe'} | " + " | ".join(row) + " |")
    ok = all(not cell.startswith(("FAILED", "training failed")) for cells in results.values() for cell in cells.values())
    summary("export_matrix", args.quick, machine=machine(), all_ok=ok, results=results)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
