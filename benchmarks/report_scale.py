"""How `zoo report` scales: a history of 500 rows, rendered to HTML, timed and weighed.

Fills a temporary ZOO_HOME through the real `zoo.store.Store` API (start_run, add_row with an
entry config, update_environment, finish_run) with synthetic but realistic rows: the catalogue's
entry names, their parameter counts, full per-epoch histories (500 epochs for hello-dense), the
worker environment, repeats, a few failed rows with errors. Then runs `zoo report -o FILE` as a
fresh process (start-up included) and prints the wall time and the page's size.

    python benchmarks/report_scale.py [--rows 500] [--repeats 3] [--quick] [--keep DIR]

Goal (issue 19): at most 2 s and 5 MB for 500 rows.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: name, params, epochs, base test accuracy (None: regression), seconds per epoch, train examples
ENTRIES = (
    ("hello-dense", 2, 500, None, 0.004, 6),
    ("fashion-dense", 101_770, 5, 0.873, 9.5, 60_000),
    ("fashion-dense-512", 407_050, 5, 0.884, 21.0, 60_000),
    ("fashion-dense-2layer", 118_282, 5, 0.876, 10.8, 60_000),
    ("fashion-cnn", 243_786, 5, 0.913, 16.8, 60_000),
    ("fashion-cnn-32", 225_034, 5, 0.905, 9.9, 60_000),
    ("fashion-cnn-fast", 243_786, 4, 0.911, 6.2, 60_000),
    ("horse-human-convnet", 1_704_097, 15, 0.926, 7.4, 1_027),
    ("horse-human-convnet-augmented", 1_704_097, 15, 0.87, 9.1, 1_027),
    ("inception-transfer", 47_512_481, 5, 0.96, 3.2, 1_027),
    ("lite0-transfer-horses", 4_924_577, 5, 0.99, 2.4, 1_027),
    ("lite0-transfer-cats-dogs", 4_924_577, 5, 0.93, 6.1, 2_000),
)
ERRORS = (
    "loss became nan in epoch 3; training stopped (learning rate too high?)",
    "out of memory (ResourceExhaustedError): OOM when allocating tensor with shape[64,300,300,16]",
    "dataset 'cats_vs_dogs': cats_and_dogs_filtered.zip not found (ZOO_OFFLINE=1 forbids downloading)",
)


def environment(rng: random.Random, commit: str) -> dict[str, Any]:
    return {
        "zoo_version": "0.1.0", "git_commit": commit, "git_dirty": rng.random() < 0.2, "python": "3.11.2",
        "platform": "Linux-6.1.0-x86_64-with-glibc2.36", "host": f"bench-{rng.randint(1, 3)}",
        "cpu": "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "cpu_count": 2, "cpus_usable": 2,
        "tensorflow": "2.21.0", "keras": "3.15.1", "gpus": [],
        "device": "CPU: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "intra_op_threads": 2,
        "inter_op_threads": 2, "logical_cpu_devices": 1, "seed": 0, "strategy": "default", "replicas": 1,
        "mixed_precision": "float32",
    }


def curve(rng: random.Random, start: float, end: float, epochs: int) -> list[float]:
    return [(end + (start - end) * (0.55 ** i)) * rng.uniform(0.98, 1.02) for i in range(epochs)]


def make_row(rng: random.Random, spec: tuple, repeat: int, env: dict[str, Any]) -> dict[str, Any]:
    name, params, epochs, accuracy, per_epoch, examples = spec
    seconds_per_epoch = per_epoch * rng.uniform(0.9, 1.15)
    epoch_seconds = [seconds_per_epoch * 1.3] + [seconds_per_epoch * rng.uniform(0.97, 1.03) for _ in range(epochs - 1)]
    train_seconds = sum(epoch_seconds)
    if accuracy is None:
        mae = abs(rng.gauss(0.004, 0.002))
        metrics = {"train": {"loss": mae ** 2, "mae": mae}, "test": {"loss": mae ** 2, "mae": mae}}
        history = {"loss": curve(rng, 14.0, mae ** 2, epochs), "mae": curve(rng, 3.2, mae, epochs)}
        target = {"metric": "loss", "value": 0.001, "mode": "max"}
    else:
        test = min(0.999, accuracy + rng.gauss(0, 0.004))
        metrics = {"train": {"accuracy": min(0.999, test + 0.02), "loss": 0.3},
                   "validation": {"accuracy": test + rng.gauss(0, 0.003), "loss": 0.33},
                   "test": {"accuracy": test, "loss": 0.34}}
        history = {"accuracy": curve(rng, test - 0.1, test + 0.02, epochs), "loss": curve(rng, 0.6, 0.3, epochs),
                   "val_accuracy": curve(rng, test - 0.07, test, epochs), "val_loss": curve(rng, 0.5, 0.33, epochs)}
        target = {"metric": "val_accuracy", "value": accuracy - 0.01, "mode": "min"}
    reached = train_seconds * rng.uniform(0.4, 0.9) if rng.random() < 0.7 else None
    return {
        "entry": name, "status": "ok", "error": None, "repeat": repeat, "seed": repeat, "strategy": "default",
        "replicas": 1, "params": params, "params_trainable": params, "epochs": epochs, "epochs_planned": epochs,
        "batch_size": 32, "train_examples": examples, "samples_per_epoch": examples,
        "train_seconds": train_seconds, "first_epoch_seconds": epoch_seconds[0],
        "seconds_per_epoch": statistics.median(epoch_seconds[1:] or epoch_seconds), "epoch_seconds": epoch_seconds,
        "samples_per_second": examples / seconds_per_epoch, "target": target, "time_to_target_seconds": reached,
        "metrics": metrics, "history": history, "model_dir": None,
        "inference_samples_per_second": rng.uniform(2_000, 40_000), "flops_per_sample": params * 6.0,
        "gflops_per_second": params * 6.0 * examples / seconds_per_epoch / 1e9,
        "peak_rss_mb": rng.uniform(600, 1_600), "environment": env, "wall_seconds": train_seconds + 4.0,
        "worker_seconds": train_seconds + 3.5,
    }


def entry_config(spec: tuple) -> dict[str, Any]:
    name, _, epochs, accuracy, _, _ = spec
    return {"name": name, "architecture": {"name": "cnn", "params": {"filters": 64}},
            "dataset": {"name": "fashion_mnist", "params": {}},
            "recipe": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "epochs": epochs,
                       "batch_size": 32, "seed": 0, "cache": True},
            "sources": {"recipe.epochs": "registry.toml:30", "architecture": "registry.toml:28"},
            "tags": ["course1", "regression" if accuracy is None else "multiclass"]}


def fill(home: Path, rows: int, seed: int = 0) -> tuple[int, int]:
    """Write about ``rows`` rows in runs of 2–8 entries × 1–3 repeats; return (runs, rows)."""
    os.environ["ZOO_HOME"] = str(home)
    from zoo.store import open_store

    rng = random.Random(seed)
    written = runs = 0
    with open_store() as store:
        while written < rows:
            commit = f"{rng.getrandbits(160):040x}"
            env = environment(rng, commit)
            chosen = rng.sample(ENTRIES, rng.randint(2, 8))
            repeats = rng.choice((1, 1, 1, 2, 3))
            run = store.start_run(f"zoo bench {' '.join(s[0] for s in chosen)}" + (f" --repeats {repeats}" if repeats > 1 else ""),
                                  options={"entries": [s[0] for s in chosen], "repeats": repeats},
                                  environment={k: env[k] for k in ("zoo_version", "git_commit", "git_dirty", "python",
                                                                   "platform", "host", "cpu", "cpu_count")})
            runs += 1
            for spec in chosen:
                for repeat in range(repeats):
                    if written >= rows:
                        break
                    row = make_row(rng, spec, repeat, env)
                    if rng.random() < 0.04:
                        row = {"entry": spec[0], "repeat": repeat, "seed": repeat, "strategy": "default",
                               "status": "failed", "error": rng.choice(ERRORS), "peak_rss_mb": rng.uniform(300, 900)}
                    store.add_row(run, row, entry_config(spec))
                    written += 1
            store.update_environment(run, env)
            store.finish_run(run)
    return runs, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="times `zoo report` is run; the median is printed")
    parser.add_argument("--quick", action="store_true", help="50 rows, one timing (a smoke test)")
    parser.add_argument("--keep", type=Path, default=None, help="use (and keep) this ZOO_HOME instead of a temp one")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = 50, 1
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp) / "zoo-home"
        if home.exists() and (home / "bench.sqlite").exists():
            raise SystemExit(f"{home} already holds a history; pick an empty folder")
        started = time.perf_counter()
        runs, rows = fill(home, args.rows)
        fill_seconds = time.perf_counter() - started
        out = Path(tmp) / "report.html"
        env = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "zoo", "report", "-o", str(out)]
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
        size = out.stat().st_size
        if args.keep:
            (home / "report.html").write_bytes(out.read_bytes())
    print(f"history: {rows} rows in {runs} runs (written through Store in {fill_seconds:.2f} s)")
    print(f"zoo report: {statistics.median(times):.3f} s (median of {len(times)}: "
          f"{', '.join(f'{t:.3f}' for t in times)}), {size:,} bytes ({size / 1e6:.2f} MB)")
    if rows == 500:
        ok = statistics.median(times) <= 2.0 and size <= 5e6
        print("goal (<= 2 s, <= 5 MB for 500 rows):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
