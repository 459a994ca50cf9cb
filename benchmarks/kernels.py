"""Where one training step's time goes: oneDNN's own per-primitive timings for an entry.

Builds ENTRY's model and compiles it with its recipe (as ``zoo bench`` does), trains a few warm-up
steps on random inputs of the entry's shape, then times STEPS more with oneDNN's verbose log on
(``ONEDNN_VERBOSE=1``, in a child process) and prints each primitive's milliseconds per step and,
for convolutions and matmuls, the GFLOP/s it reached. Compare with the machine's matmul peak
(``benchmarks/utilization.py``) to see which kernels hold a model back.

    python benchmarks/kernels.py fashion-cnn-fast [--batch-size 256] [--steps 30]
    python benchmarks/kernels.py fashion-cnn-fast --set mixed_precision='"mixed_bfloat16"'

Only what runs through oneDNN shows up (TensorFlow's CPU build sends convolutions, matmuls,
pooling and some element-wise ops there); the wall time per step is printed next to the sum.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

MARK = "=== zoo kernels: timed steps ==="


def flops(kind: str, shape: str) -> float | None:
    """FLOPs of one call of a primitive, from the problem descriptor oneDNN logs."""
    dims = {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", shape)}
    if kind == "convolution":
        out_h, out_w = dims.get("oh", 1), dims.get("ow", 1)
        per_group_ic = dims["ic"] / dims.get("g", 1)  # grouped and depthwise convolutions
        return 2.0 * dims["mb"] * dims["oc"] * per_group_ic * dims.get("kh", 1) * dims.get("kw", 1) * out_h * out_w
    if kind == "inner_product":
        return 2.0 * dims["mb"] * dims["ic"] * dims["oc"]
    if kind in ("gemm_api", "matmul") and ":" in shape:
        (m, k), (_, n) = (tuple(int(v) for v in side.split("x")[-2:]) for side in shape.split(":")[:2])
        return 2.0 * m * k * n
    return None


def summarise(lines: list[str], steps: int) -> list[dict[str, Any]]:
    """Aggregate ``onednn_verbose,...,exec,...`` lines per (primitive, implementation, pass, shape)."""
    total: dict[tuple[str, ...], float] = defaultdict(float)
    calls: dict[tuple[str, ...], int] = defaultdict(int)
    for line in lines:
        fields = line.strip().split(",")
        if not fields[0].endswith("onednn_verbose") or "exec" not in fields:
            continue
        i = fields.index("exec")
        try:
            ms = float(fields[-1])
        except ValueError:
            continue
        key = (fields[i + 2], fields[i + 3], fields[i + 4], fields[-2])
        total[key] += ms
        calls[key] += 1
    rows = []
    for key, ms in sorted(total.items(), key=lambda kv: -kv[1]):
        kind, impl, prop, shape = key
        work = flops(kind, shape)
        rows.append({"ms/step": ms / steps, "calls/step": calls[key] / steps, "primitive": kind,
                     "pass": prop, "implementation": impl, "shape": shape,
                     "GFLOP/s": work * calls[key] / (ms / 1e3) / 1e9 if work and ms else None})
    return rows


def child(entry_name: str, overrides: list[str], batch_size: int | None, steps: int, warmup: int) -> None:
    """Runs under ONEDNN_VERBOSE=1: train warm-up steps, print MARK, train the timed steps."""
    import numpy as np

    from zoo import compiling, runner
    from zoo.catalogue import load_catalogue

    catalogue = load_catalogue()
    entry = catalogue.resolve(entry_name, overrides)
    tf = runner.setup(entry)
    batch = batch_size or entry.recipe.batch_size
    model = runner.build_model(entry, catalogue.registry)
    compiling.compile_model(model, entry, steps=warmup + steps)
    rng = np.random.default_rng(0)
    x = rng.random((batch, *entry.input_shape), dtype=np.float32)
    classes = max(entry.num_classes, 2)
    y = rng.integers(0, classes if entry.task == "multiclass" else 2, size=(batch,)).astype("float32")
    if entry.task == "regression":
        y = rng.random((batch, entry.num_classes), dtype=np.float32)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    import keras

    class StepClock(keras.callbacks.Callback):
        """From the start of the first timed step to the end of the last: fit's own set-up
        (iterator, callbacks) is not a training step."""

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if batch == 0:
                self.start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.end = time.perf_counter()

    model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0)
    clock = StepClock()
    sys.stdout.flush()
    print(MARK, flush=True)
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
    sys.stdout.flush()
    print(f"{MARK} wall {clock.end - clock.start:.6f} batch {batch}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entry", nargs="?", default="fashion-cnn-fast")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--batch-size", type=int, help="default: the entry's")
    parser.add_argument("--steps", type=int, default=30, help="timed steps (default 30)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    parser.add_argument("--top", type=int, default=15, help="show this many rows (default 15)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.entry, args.overrides, args.batch_size, args.steps, args.warmup)
        return 0

    from tabulate import tabulate

    from _common import machine

    cmd = [sys.executable, __file__, args.entry, "--child", "--steps", str(args.steps), "--warmup", str(args.warmup)]
    cmd += [f"--set={item}" for item in args.overrides]
    if args.batch_size:
        cmd += ["--batch-size", str(args.batch_size)]
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return out.returncode
    lines = out.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(MARK)]
    if len(starts) != 2:
        print("no timed section in the child's output", file=sys.stderr)
        return 1
    wall, batch = (float(v) for v in lines[starts[1]].split()[-3::2])
    rows = summarise(lines[starts[0] + 1:starts[1]], args.steps)
    if not rows:
        print("oneDNN logged nothing: is this TensorFlow built with oneDNN (TF_ENABLE_ONEDNN_OPTS=1)?",
              file=sys.stderr)
        return 1
    summed = sum(r["ms/step"] for r in rows)
    print(f"machine: {machine()}")
    print(f"{args.entry}, batch {int(batch)}, {args.steps} timed steps {' '.join(args.overrides)}".rstrip())
    print(f"wall {wall / args.steps * 1e3:.1f} ms/step (verbose logging on); oneDNN primitives sum "
          f"{summed:.1f} ms/step over {len(rows)} distinct primitives (independent ones may overlap: "
          f"TensorFlow runs them in parallel when it can)\n")
    shown = [{**r, "GFLOP/s": None if r["GFLOP/s"] is None or math.isnan(r["GFLOP/s"]) else round(r["GFLOP/s"])}
             for r in rows[:args.top]]
    print(tabulate(shown, headers="keys", floatfmt=".2f", missingval="-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
