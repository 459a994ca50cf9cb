"""Is the input pipeline the bottleneck? Epoch time with the model replaced by an identity step
vs. with a real model, on zoo's own ``tf.data`` pipeline (the runner's cache → shuffle → batch →
augment → prefetch) over the real datasets.

For each dataset: one warm-up pass fills the ``cache()`` (decoding happens there, once), then
``--repeats`` interleaved timed epochs of (a) an identity step that only touches each batch
(``tf.reduce_sum``) and (b) ``model.fit`` of the course's model for that data. The ratio
identity / model is the share of an epoch the input would cost if nothing overlapped; well below
1 means input is not the bottleneck (prefetch overlaps it with training anyway).

    ZOO_DATA_DIR=../shared/data python benchmarks/input_pipeline.py --quick
    python benchmarks/input_pipeline.py --datasets fashion_mnist horse_or_human --repeats 3 --json

``--quick`` times 40 batches per epoch instead of whole epochs (after one full pass that fills
the cache). Each timed epoch starts a new iterator, so it includes refilling the shuffle buffer,
as a training epoch does.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def course_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """The course's network for the dataset: the week-3 Fashion CNN, the week-4 horse-or-human
    CNN (three conv blocks here, sized for the smaller image)."""
    import keras
    from keras import layers

    if name in ("fashion_mnist", "mnist"):
        body = [layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Flatten(), layers.Dense(128, activation="relu"),
                layers.Dense(num_classes, activation="softmax")]
        loss = "sparse_categorical_crossentropy"
    else:
        body = [layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dense(1, activation="sigmoid")]
        loss = "binary_crossentropy"
    model = keras.Sequential([keras.Input(input_shape), *body])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def bench(name: str, params: dict[str, Any], batch_size: int, steps: int | None, repeats: int) -> dict[str, Any]:
    import tensorflow as tf

    from zoo.registry import get_registry
    from zoo.pipeline import count_examples, pipeline

    spec = get_registry().dataset(name)
    params = {**spec.params, **params}
    start = time.perf_counter()
    splits = spec.loader(**params)
    load_seconds = time.perf_counter() - start
    augment = splits.pop("augment", None)
    ds = pipeline(splits["train"], batch_size, training=True, seed=0, cache=True, augment=augment)
    batches = -(-count_examples(splits["train"]) // batch_size)

    def identity_epoch(data: Any) -> float:
        # The identity "model": touch every batch inside the tf.data runtime (no Python loop
        # per batch, which would time the interpreter rather than the input pipeline).
        t = time.perf_counter()
        data.reduce(tf.constant(0.0), lambda acc, batch: acc + tf.reduce_sum(batch[0][:, :1])).numpy()
        return time.perf_counter() - t

    # The first full pass decodes every example and fills the in-memory cache (an epoch's
    # iterator must reach the end for cache() to keep what it read).
    first = identity_epoch(ds)
    if steps:
        batches = min(batches, steps)
    epoch = ds.take(batches)
    model = course_model(name, spec.shape_for(params), spec.classes_for(params))
    model.fit(epoch.take(2), epochs=1, verbose=0, shuffle=False)  # build + trace, untimed
    identity, real = [], []
    for _ in range(repeats):  # interleaved, medians: the machine is noisy
        identity.append(identity_epoch(epoch))
        t = time.perf_counter()
        model.fit(epoch, epochs=1, verbose=0, shuffle=False)
        real.append(time.perf_counter() - t)
    ident, mod = statistics.median(identity), statistics.median(real)
    return {
        "dataset": name, "params": {k: v for k, v in params.items() if k in ("image_size", "augment")},
        "batch_size": batch_size, "batches_per_epoch": batches, "load_seconds": round(load_seconds, 2),
        "first_epoch_seconds": round(first, 3), "identity_epoch_seconds": round(ident, 3),
        "model_epoch_seconds": round(mod, 3), "input_share": round(ident / mod, 3),
        "identity_runs": [round(v, 3) for v in identity], "model_runs": [round(v, 3) for v in real],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["fashion_mnist", "horse_or_human"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="40 batches per epoch, 1 repeat")
    parser.add_argument("--steps", type=int, default=None, help="batches per timed epoch (default: all)")
    parser.add_argument("--image-size", type=int, default=150, help="side of horse_or_human/cats_vs_dogs images")
    parser.add_argument("--augment", action="store_true", help="add the course's augmentation to image datasets")
    parser.add_argument("--json", action="store_true", help="print one JSON object per dataset")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = args.steps or 40, 1
    if not os.environ.get("ZOO_DATA_DIR") and DEFAULT_DATA.is_dir():
        os.environ["ZOO_DATA_DIR"] = str(DEFAULT_DATA)
    from zoo.tfruntime import import_tensorflow

    import_tensorflow()
    rows = []
    for name in args.datasets:
        params: dict[str, Any] = {}
        if name not in ("fashion_mnist", "mnist"):
            params = {"image_size": [args.image_size, args.image_size], "augment": args.augment}
        row = bench(name, params, args.batch_size, args.steps, args.repeats)
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        from tabulate import tabulate

        print(tabulate(
            [[r["dataset"], r["batches_per_epoch"], r["first_epoch_seconds"], r["identity_epoch_seconds"],
              r["model_epoch_seconds"], f"{100 * r['input_share']:.1f}%"] for r in rows],
            headers=["dataset", "batches", "first pass s", "identity s", "model s", "identity/model"],
        ))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
