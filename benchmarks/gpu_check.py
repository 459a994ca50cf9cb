"""GPU check: train `fashion-cnn` and `fashion-cnn-fast` on the real Fashion-MNIST on a GPU and
record samples/s (fast entry under mixed_float16 on GPU, as issue 7 asks).

The models are zoo's own: each entry is resolved from the catalogue and built by its plugin's
builder, compiled with its recipe (zoo.runner.make_optimizer, zoo.losses.make_loss), with the data from zoo's
`fashion_mnist` loader. Only the training loop differs from `zoo bench`: it calls Keras's `fit` on
numpy arrays rather than zoo's tf.data pipeline, so the script also runs where TensorFlow is
absent and Keras 3 runs on another backend (KERAS_BACKEND=jax), which is how it ran on the lent
GPU machine (its TensorFlow wheel could not be brought there). One warm-up epoch (tracing,
compilation) is excluded from the timed epochs.

    KERAS_BACKEND=jax ZOO_DATA_DIR=... python benchmarks/gpu_check.py [--epochs 3] [--out rows.json] [--quick]

Without a GPU it runs on the CPU and says so (stderr, and ``"gpu": "no GPU"`` in each row): those
are CPU figures. ``--quick``: 1 timed epoch on the first 256 train and test images, a smoke run of
this script that works on any machine (tests/test_benchmark_scripts.py), no measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from _common import QUICK_NOTE, add_quick, summary


def gpu_name() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip() or "no GPU"
    except (OSError, subprocess.TimeoutExpired):
        return "no GPU"


def run(entry_name: str, epochs: int, policy: str | None, limit: int | None = None) -> dict:
    import keras
    import numpy as np

    from zoo.catalogue import load_catalogue
    from zoo.losses import make_loss
    from zoo.compiling import make_optimizer, total_steps

    catalogue = load_catalogue()
    entry = catalogue.resolve(entry_name)
    registry = catalogue.registry
    keras.utils.set_random_seed(entry.recipe.seed)
    policy = policy or entry.recipe.mixed_precision or "float32"
    keras.mixed_precision.set_global_policy(policy)
    data = registry.dataset(entry.dataset.name)
    splits = data.loader(**{**data.params, **entry.dataset.params})
    (x, y), (xt, yt) = splits["train"], splits["test"]
    if limit:  # a smoke test of the script itself, not a measurement
        x, y, xt, yt = x[:limit], y[:limit], xt[:limit], yt[:limit]
    arch = registry.architecture(entry.architecture.name)
    model = arch.builder(entry.input_shape, entry.num_classes, task=entry.task,
                         **{**arch.params, **entry.architecture.params})
    # The schedule spans the warm-up epoch plus the timed ones, as the recipe's epochs would.
    entry.recipe.epochs = epochs + 1
    steps = total_steps(entry, len(x))
    warmup = (entry.recipe.lr_schedule or {}).get("warmup_steps", 0)
    if limit and warmup >= steps:  # a smoke run shorter than the recipe's warm-up: warm up for half of it
        entry.recipe.lr_schedule = {**entry.recipe.lr_schedule, "warmup_steps": steps // 2}
    model.compile(optimizer=make_optimizer(entry, steps),
                  loss=make_loss(entry.recipe.loss, entry.recipe.label_smoothing),
                  metrics=list(entry.recipe.metrics))
    batch = entry.recipe.batch_size
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # warm-up: tracing and compilation
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    _, accuracy = model.evaluate(xt, yt, batch_size=1024, verbose=0)
    median = sorted(times)[len(times) // 2]
    return {
        "entry": entry_name, "policy": policy, "batch_size": batch, "epochs_timed": epochs,
        "epoch_seconds": [round(t, 3) for t in times], "samples_per_second": round(len(x) / median),
        "test_accuracy_after_warmup_plus_timed_epochs": round(float(accuracy), 4),
        "params": int(model.count_params()), "backend": keras.backend.backend(), "keras": keras.__version__,
        "gpu": gpu_name(), "python": platform.python_version(), "numpy": np.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out")
    parser.add_argument("--limit", type=int, help="train and test on the first N examples only (smoke test)")
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.limit = 1, args.limit or 256
    gpu = gpu_name() != "no GPU"
    if not gpu:
        print("gpu_check: no GPU found (nvidia-smi): running on the CPU; these are CPU figures", file=sys.stderr)
    rows = [run("fashion-cnn", args.epochs, None, args.limit),
            run("fashion-cnn-fast", args.epochs, "mixed_float16" if gpu else None, args.limit)]
    for row in rows:
        print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)
    if args.quick:
        print(QUICK_NOTE)
    summary("gpu_check", args.quick, device=rows[0]["gpu"] if gpu else "CPU", limit=args.limit,
            samples_per_second={row["entry"]: row["samples_per_second"] for row in rows})


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
