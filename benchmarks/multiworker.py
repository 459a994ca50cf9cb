"""Multi-worker training: what two workers cost against one, and zoo's distributed step against
Keras's ``fit``, per step.

(a) ``zoo bench ENTRY --strategy multiworker`` run by one worker, then by two workers on
    127.0.0.1 (``TF_CONFIG`` on free ports), in interleaved rounds: steady seconds per epoch
    (the median of every epoch after the first). Both workers share this machine's cores, so
    this is the cost of the all-reduce and of sharing, not a speed-up. Each run's test accuracy
    is recorded too (the same global batches, so it should barely move).
(b) In one process, under a one-worker ``MultiWorkerMirroredStrategy`` made at start-up: the
    same entry's model twice, one built under the strategy and trained by zoo's loop
    (``zoo.distributed.fit_distributed``), one built outside it and trained by Keras's ``fit``,
    three epochs per call, the two taking turns for ``--rounds`` rounds after a warm-up round;
    per-step time = the median interval between batch ends, and the steady epoch's time per
    step, over every epoch but the first of each call (which traces and sets up). Goal: zoo's
    step ≤ 1.10× Keras's.

    ZOO_DATA_DIR=../shared/data python benchmarks/multiworker.py [--entry fashion-dense]
        [--rounds 3] [--steps 300] [--set K=V ...] [--quick]
    ZOO_MULTIWORKER=1 ZOO_DATA_DIR=../shared/data python benchmarks/multiworker.py --step-compare   # (b) alone

``--quick``: hello-dense (six points in memory), one round of a few steps: a smoke run of this
script (tests/test_benchmark_multiworker.py), no measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from _common import QUICK_NOTE, add_quick, env, machine, median, summary

from zoo.testing import local_tf_configs


def bench_workers(entry: str, overrides: list[str], workers: int, timeout: float = 1800) -> list[dict[str, Any]]:
    """One `zoo bench ENTRY --strategy multiworker` per worker, all at once; their rows."""
    configs = local_tf_configs(workers)
    cmd = [sys.executable, "-m", "zoo", "bench", entry, "--strategy", "multiworker", "--format", "json", "--no-store"]
    for item in overrides:
        cmd += ["--set", item]
    procs = []
    try:
        for index in range(workers):
            extra = {"TF_CONFIG": configs[index]} if workers > 1 else {}
            procs.append(subprocess.Popen(cmd, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        outputs = [proc.communicate(timeout=timeout) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    rows = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"zoo bench {entry} ({workers} worker(s)) failed:\n{err[-2000:]}")
        rows.append(json.loads(out)[0])
    return rows


def step_compare(entry_name: str, overrides: list[str], rounds: int, steps: int) -> dict[str, Any]:
    """Part (b), in this process (started with ZOO_MULTIWORKER=1 and no TF_CONFIG)."""
    from zoo import runner
    from zoo.catalogue import load_catalogue
    from zoo.compiling import compile_model
    from zoo.distributed import fit_distributed
    from zoo.pipeline import prepare_data
    from zoo.tfruntime import multiworker_strategy

    catalogue = load_catalogue()
    entry = catalogue.resolve(entry_name, [*overrides, f"steps_per_epoch={steps}"])
    runner.setup(entry)
    strategy = multiworker_strategy()
    data = prepare_data(entry, catalogue.registry)
    with strategy.scope():
        zoo_model = runner.build_model(entry, catalogue.registry)
        compile_model(zoo_model, entry)
    keras_model = runner.build_model(entry, catalogue.registry)
    compile_model(keras_model, entry)
    import keras

    class BatchClock(keras.callbacks.Callback):
        """Per epoch: its wall time and the intervals between its batch ends."""

        def on_train_begin(self, logs: Any = None) -> None:
            self.epochs: list[tuple[float, list[float]]] = []

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.ends: list[float] = []
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.ends.append(time.perf_counter())

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            intervals = [b - a for a, b in zip(self.ends, self.ends[1:])]
            self.epochs.append((time.perf_counter() - self.start, intervals))

    clock = BatchClock()
    train = {"train": data.datasets["train"]}
    steps_seen: dict[str, list[float]] = {"zoo": [], "keras": []}
    epochs_seen: dict[str, list[float]] = {"zoo": [], "keras": []}
    epochs = 3  # per call: the first traces and sets up, the others are steady
    for round_ in range(rounds + 1):  # round 0 warms both up
        order = ("zoo", "keras") if round_ % 2 == 0 else ("keras", "zoo")
        for name in order:
            first = round_ * epochs
            if name == "zoo":
                fit_distributed(zoo_model, train, epochs, first, entry, [clock], 0)
            else:
                keras_model.fit(train["train"], epochs=first + epochs, initial_epoch=first, steps_per_epoch=steps,
                                callbacks=[clock], verbose=0, shuffle=False)
            if round_:
                for seconds, intervals in clock.epochs[1:]:
                    steps_seen[name] += intervals
                    epochs_seen[name].append(seconds / (len(intervals) + 1))
    step = {name: median(values) for name, values in steps_seen.items()}
    return {"entry": entry.name, "batch_size": entry.recipe.batch_size, "steps_per_epoch": steps,
            "rounds": rounds, "zoo_step_ms": 1000 * step["zoo"], "keras_step_ms": 1000 * step["keras"],
            "step_ratio": step["zoo"] / step["keras"],
            "zoo_epoch_ms_per_step": 1000 * median(epochs_seen["zoo"]),
            "keras_epoch_ms_per_step": 1000 * median(epochs_seen["keras"]),
            "epoch_ratio": median(epochs_seen["zoo"]) / median(epochs_seen["keras"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", default="fashion-dense")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per bench run in part (a)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--step-compare", action="store_true",
                        help="part (b) only, in this process, printing its JSON line (needs ZOO_MULTIWORKER=1: "
                             "the strategy must exist before any other TensorFlow op)")
    add_quick(parser)
    args = parser.parse_args()
    if args.step_compare:
        print(json.dumps(step_compare(args.entry, args.overrides, args.rounds, args.steps)), flush=True)
        return
    if args.quick:
        args.entry, args.rounds, args.steps, args.epochs = "hello-dense", 1, 3, 3
        args.overrides = [*args.overrides, "batch_size=2"]  # six points: three steps per epoch

    overrides = [*args.overrides, f"epochs={args.epochs}", f"steps_per_epoch={args.steps}"]
    rounds = []
    for round_ in range(args.rounds):
        row: dict[str, Any] = {"round": round_}
        for workers in ((1, 2) if round_ % 2 == 0 else (2, 1)):
            results = bench_workers(args.entry, overrides, workers)
            key = f"workers{workers}"
            row[f"{key}_seconds_per_epoch"] = results[0]["seconds_per_epoch"]
            row[f"{key}_replicas"] = results[0]["replicas"]
            row[f"{key}_test_metrics"] = results[0]["metrics"].get("test")
            row[f"{key}_same_metrics_on_every_worker"] = all(r["metrics"] == results[0]["metrics"] for r in results)
        row["ratio_2_over_1"] = row["workers2_seconds_per_epoch"] / row["workers1_seconds_per_epoch"]
        rounds.append(row)
        print(json.dumps(row), flush=True)

    compare = subprocess.run([sys.executable, __file__, "--step-compare", "--entry", args.entry, "--rounds",
                              str(args.rounds), "--steps", str(args.steps),
                              *[f"--set={item}" for item in args.overrides]],
                             env=env(ZOO_MULTIWORKER="1"), capture_output=True, text=True, timeout=3600, check=False)
    if compare.returncode != 0:
        raise SystemExit(f"step comparison failed:\n{compare.stderr[-2000:]}")
    steps = json.loads(compare.stdout.strip().splitlines()[-1])
    print(json.dumps(steps), flush=True)

    one = median([r["workers1_seconds_per_epoch"] for r in rounds])
    two = median([r["workers2_seconds_per_epoch"] for r in rounds])
    ratio = median([r["ratio_2_over_1"] for r in rounds])
    print(f"machine: {machine()}, {os.cpu_count()} cores shared by every worker")
    print(f"(a) {args.entry}, {args.steps} steps/epoch: 1 worker {one:.2f} s/epoch, 2 workers {two:.2f} s/epoch, "
          f"median ratio {ratio:.2f} (the all-reduce and two processes on the same cores)")
    print(f"(b) per step, one worker: zoo's distributed step {steps['zoo_step_ms']:.2f} ms, Keras fit "
          f"{steps['keras_step_ms']:.2f} ms, ratio {steps['step_ratio']:.3f} (goal <= 1.10); steady epochs "
          f"{steps['zoo_epoch_ms_per_step']:.2f} vs {steps['keras_epoch_ms_per_step']:.2f} ms a step, "
          f"ratio {steps['epoch_ratio']:.3f}")
    met = steps["step_ratio"] <= 1.10
    print(QUICK_NOTE if args.quick else "target met" if met else "TARGET MISSED")
    summary("multiworker", args.quick, entry=args.entry, rounds=len(rounds), steps_per_epoch=args.steps,
            workers1_seconds_per_epoch=one, workers2_seconds_per_epoch=two, ratio_2_over_1=ratio,
            zoo_step_ms=steps["zoo_step_ms"], keras_step_ms=steps["keras_step_ms"], step_ratio=steps["step_ratio"],
            zoo_epoch_ms_per_step=steps["zoo_epoch_ms_per_step"],
            keras_epoch_ms_per_step=steps["keras_epoch_ms_per_step"], epoch_ratio=steps["epoch_ratio"],
            target_met=None if args.quick else met)


if __name__ == "__main__":
    main()
