"""The course's Fashion-MNIST CNN notebook (course 1, week 3), as a plain script: the baseline.

Numpy arrays, batch 32 (Keras's default), adam, 5 epochs, exactly as the notebook does, with
Keras's own `fashion_mnist.load_data()`. Offline, that loader finds the real files when they
are put in its cache first: this script copies them from `$ZOO_DATA_DIR/fashion-mnist` (default
`../shared/data`) into a private KERAS_HOME, so the notebook code runs unchanged.

Prints one JSON line: train_seconds (the 5 epochs' wall time), epoch_seconds, test_accuracy.

    python benchmarks/course_fashion_cnn.py [--epochs 5] [--batch-size 32] [--limit N]

``--limit N`` keeps the first N train and test images (the benchmark scripts' --quick smoke runs).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def stage_keras_cache(data_dir: Path) -> str:
    home = Path(tempfile.mkdtemp(prefix="keras-home-"))
    target = home / "datasets" / "fashion-mnist"
    target.mkdir(parents=True)
    for name in ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        shutil.copy(data_dir / "fashion-mnist" / name, target / name)
    return str(home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=0, help="only the first N train and test images (smoke runs)")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("ZOO_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
    os.environ["KERAS_HOME"] = stage_keras_cache(data_dir)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    start_process = time.perf_counter()

    # ---- the notebook's code, unchanged but for Keras 3 spellings ----
    import tensorflow as tf

    mnist = tf.keras.datasets.fashion_mnist
    (training_images, training_labels), (test_images, test_labels) = mnist.load_data()
    training_images = training_images.reshape(60000, 28, 28, 1)
    training_images = training_images / 255.0
    test_images = test_images.reshape(10000, 28, 28, 1)
    test_images = test_images / 255.0
    if args.limit:  # not the notebook's: a smoke run of this script
        training_images, training_labels = training_images[:args.limit], training_labels[:args.limit]
        test_images, test_labels = test_images[:args.limit], test_labels[:args.limit]
    model = tf.keras.models.Sequential([
        tf.keras.Input(shape=(28, 28, 1)),
        tf.keras.layers.Conv2D(64, (3, 3), activation="relu"),
        tf.keras.layers.MaxPooling2D(2, 2),
        tf.keras.layers.Conv2D(64, (3, 3), activation="relu"),
        tf.keras.layers.MaxPooling2D(2, 2),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    epoch_seconds: list[float] = []

    class Timer(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.t)

    start = time.perf_counter()
    model.fit(training_images, training_labels, epochs=args.epochs, batch_size=args.batch_size,
              callbacks=[Timer()], verbose=2)
    train_seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(test_images, test_labels, verbose=0)
    # ---- end of the notebook's code ----

    shutil.rmtree(os.environ["KERAS_HOME"], ignore_errors=True)
    print(json.dumps({
        "script": "course_fashion_cnn", "epochs": args.epochs, "batch_size": args.batch_size,
        "train_examples": len(training_images),
        "train_seconds": round(train_seconds, 3), "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "test_accuracy": round(float(test_accuracy), 4), "test_loss": round(float(test_loss), 4),
        "process_seconds": round(time.perf_counter() - start_process, 3),
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
