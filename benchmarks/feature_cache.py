"""Benchmark: training a frozen-base transfer model's head with and without the feature cache.

For each repeat (interleaved, because these machines are noisy) it trains the same entry three
ways and reports wall times and results:

* ``cold``  — ``feature_cache = true`` with an empty cache: one base pass per split + head epochs;
* ``warm``  — ``feature_cache = true`` again: the HDF5 cache is read, only the head trains;
* ``full``  — ``feature_cache = false``: the full forward pass through the base every epoch,
  with the entry's own recipe;
* ``course`` — the same full pass with the course's settings (``jit_compile = false``): the
  baseline of issue 7's target 4.

and checks that they give the same validation loss curve (same seed, same head init).

Usage (from the repository root)::

    # on a folder of images with train/ and validation/ (or test/) class sub-folders:
    python benchmarks/feature_cache.py --images ../shared/data/horse-or-human-100gray \
        --image-size 100 --epochs 3 --repeats 3 --set architecture.weights=none

    # on a registered dataset (once the dataset plugins are installed):
    python benchmarks/feature_cache.py inception-transfer --set dataset.data_dir=PATH \
        --set architecture.weights=PATH --epochs 5

``--quick``: one repeat of 2 epochs on a stand-in folder of 75×75 images (``--images``), base
weights ``none``, cut at ``mixed0``: a smoke run of this script (tests/test_benchmark_scripts.py), no measurement.

``--images`` registers a small ``bench-images`` dataset (``keras.utils.image_dataset_from_directory``,
pixels scaled to [0, 1], binary labels) so that the benchmark runs before any dataset plugin.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import zoo
from _common import QUICK_NOTE, add_quick, quick_images, summary


def _image_shape(data_dir: str = "", image_size: Any = (150, 150), color_mode: str = "rgb", **_: Any) -> tuple[int, ...]:
    return (int(image_size[0]), int(image_size[1]), 1 if color_mode == "grayscale" else 3)


def load_images(data_dir: str = "", image_size: Any = (150, 150), color_mode: str = "rgb", limit: int = 0) -> dict[str, Any]:
    """train / validation (or test) from class sub-folders, pixels in [0, 1], labels 0/1."""
    import keras

    root = Path(data_dir)
    splits = {}
    for name, folder in (("train", "train"), ("validation", "validation"), ("validation", "test")):
        if name in splits or not (root / folder).is_dir():
            continue
        ds = keras.utils.image_dataset_from_directory(
            root / folder, labels="inferred", label_mode="binary", color_mode=color_mode,
            image_size=tuple(image_size), batch_size=None, shuffle=True, seed=0, verbose=False,
        )
        if limit:
            ds = ds.take(int(limit))
        splits[name] = ds.map(lambda x, y: (x / 255.0, y))
    if "train" not in splits:
        raise FileNotFoundError(f"{root} has no train/ folder")
    return splits


class BenchImages:
    @staticmethod
    @zoo.hookimpl
    def register_datasets(register):
        register("bench-images", load_images, task="binary", input_shape=_image_shape, num_classes=1,
                 params={"data_dir": "", "image_size": [150, 150], "color_mode": "rgb", "limit": 0},
                 description="A folder of class sub-folders (benchmark only).")


def _catalogue(with_images: bool) -> Any:
    from zoo.catalogue import Catalogue
    from zoo.plugins import load_plugins
    from zoo.registry import collect, get_registry

    if not with_images:
        return Catalogue(get_registry())
    return Catalogue(collect(*load_plugins(extra=[("bench", BenchImages)])))


MODES = ("cold", "warm", "full", "course")
#: The same modes, full passes first: every other repeat runs in this order, and the summary lists it.
FULL_FIRST = ("course", "full", "cold", "warm")


def run_once(cat: Any, name: str, overrides: list[str], mode: str) -> dict[str, Any]:
    import keras

    from zoo import runner

    keras.backend.clear_session()
    extra = {"full": ["feature_cache=false"], "course": ["feature_cache=false", "jit_compile=false"]}
    entry = cat.resolve(name, [*overrides, *extra.get(mode, ["feature_cache=true"])])
    result = runner.train(entry, cat.registry, verbose=0, save=False).result
    return {
        "mode": mode,
        "train_seconds": result.train_seconds,
        "epoch_seconds": result.epoch_seconds,
        "val_loss": result.history.get("val_loss", []),
        "metrics": result.metrics,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entry", nargs="?", default="inception-transfer")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--images", help="a folder with train/ and validation/ (or test/) class sub-folders")
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--limit", type=int, default=0, help="at most this many images per split (0: all)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"which of {','.join(MODES)} to run (default: all)")
    parser.add_argument("--json", dest="json_out", help="also write the rows as JSON here")
    add_quick(parser)
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if not set(modes) <= set(MODES) or ("warm" in modes and "cold" not in modes):
        parser.error(f"--modes: a comma-separated choice of {','.join(MODES)}; warm needs cold (it reads what "
                     "cold stored)")

    home = Path(tempfile.mkdtemp(prefix="zoo-bench-cache-"))
    os.environ["ZOO_HOME"] = str(home)  # a private cache, so "cold" really starts empty
    if args.quick:  # a stand-in binary image folder at the smallest size inception-v3 takes
        args.images = str(quick_images(home / "quick-images", classes=2, size=75, channels=3))
        args.image_size, args.epochs, args.repeats = 75, 2, 1
        # random base weights, cut early (inception-transfer; a --set given wins)
        args.overrides = ["architecture.weights=none", "architecture.cut_layer=mixed0", *args.overrides]
    overrides = [f"epochs={args.epochs}", *args.overrides]
    if args.images:
        overrides.insert(0, 'dataset={name = "bench-images", data_dir = "%s", image_size = [%d, %d], limit = %d}'
                         % (Path(args.images).resolve(), args.image_size, args.image_size, args.limit))
    cat = _catalogue(bool(args.images))
    rows: list[dict[str, Any]] = []
    try:
        for repeat in range(args.repeats):
            shutil.rmtree(home / "cache", ignore_errors=True)
            order = MODES if repeat % 2 == 0 else FULL_FIRST  # interleaved
            for mode in [m for m in order if m in modes]:
                row = run_once(cat, args.entry, overrides, mode)
                row["repeat"] = repeat
                rows.append(row)
                print(f"repeat {repeat} {mode:<5} train {row['train_seconds']:7.1f}s  "
                      f"val_loss {[round(v, 4) for v in row['val_loss']]}", file=sys.stderr)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in rows if r["mode"] == mode)

    for row in rows:
        # Steady state, as `zoo bench` reports seconds_per_epoch: the first epoch also traces
        # (and, for an XLA head, compiles), which the train totals below still include.
        row["steady_epoch_seconds"] = statistics.median(row["epoch_seconds"][1:] or row["epoch_seconds"])
    ran = [m for m in FULL_FIRST if m in modes]
    print(f"\n{args.entry}, {args.epochs} epoch(s), {args.repeats} repeat(s), medians:")
    print(f"{'mode':<6} {'train s':>9} {'1st epoch s':>12} {'epoch s':>9}")
    for mode in ran:
        first = statistics.median(r["epoch_seconds"][0] for r in rows if r["mode"] == mode)
        print(f"{mode:<6} {median(mode, 'train_seconds'):9.2f} {first:12.2f} {median(mode, 'steady_epoch_seconds'):9.3f}")
    for baseline, what in (("course", "the course's full pass, goal >= 5x"), ("full", "the entry's own full pass")):
        if baseline not in ran or "warm" not in ran:
            continue
        ratios = []
        for repeat in range(args.repeats):
            pair = {r["mode"]: r for r in rows if r["repeat"] == repeat}
            ratios.append(pair[baseline]["steady_epoch_seconds"] / pair["warm"]["steady_epoch_seconds"])
        print(f"per-epoch speed-up of the cached head against {what} ({baseline} / warm, steady epochs), "
              f"per repeat: {[round(r, 2) for r in ratios]}; median {statistics.median(ratios):.2f}x")
    curves = {r["mode"]: r["val_loss"] for r in rows if r["repeat"] == 0}
    diffs = {}
    for baseline in ("course", "full"):
        if curves.get(baseline) and curves.get("warm"):
            diffs[baseline] = max(abs(a - b) for a, b in zip(curves[baseline], curves["warm"]))
            print(f"max |val_loss({baseline}) - val_loss(cached)| over epochs: {diffs[baseline]:.2e}")
    if args.quick:
        print(QUICK_NOTE)
    summary("feature_cache", args.quick, entry=args.entry, epochs=args.epochs, repeats=args.repeats,
            steady_epoch_seconds={mode: median(mode, "steady_epoch_seconds") for mode in ran},
            train_seconds={mode: median(mode, "train_seconds") for mode in ran},
            max_val_loss_difference=diffs)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
