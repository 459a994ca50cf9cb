"""Benchmarking entries: each entry × repeat trains in its own subprocess and returns one row.

The parent (``zoo bench``) never imports TensorFlow. For every entry and repeat it starts
``python -m zoo.bench ENTRY --out FILE ...`` (a *worker*), forwards the worker's progress to
stderr, reads the row the worker wrote, and hands it to the caller (which stores it at once).
One process per run means:

- an entry that fails (bad data, NaN loss, out of memory, a crash in native code) becomes a row
  with ``status = "failed"`` and its error, and the other entries still run;
- every run starts from the same state (no graph, memory or thread settings left over from the
  previous model), and peak memory is that run's own (``wait4``'s rusage of the child);
- ``ZOO_CPU_DEVICES`` (logical CPU devices for ``MirroredStrategy``) and thread counts, which
  TensorFlow accepts only before its first op, can differ per run.

A worker measures, after training with the entry's recipe (``zoo.runner.train``): epoch times
(the first, which includes tracing, apart from the rest), steady-state training throughput,
time to the entry's target, final metrics on every split, inference throughput after a warm-up
batch, an estimate of training FLOPs per sample, its peak RSS, and the environment.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.tfruntime import STRATEGIES, distribution_env

MULTIWORKER_INFERENCE_PASSES = 5
#: Exit codes of a worker: the row file says what happened in every case but a crash.
EXIT_OK, EXIT_FAILED_ROW = 0, 3

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- environment (cheap part: no TensorFlow) ------------------------------------------------------
@lru_cache(maxsize=1)
def git_commit() -> tuple[str | None, bool | None]:
    """The git commit of zoo's source tree and whether it has uncommitted changes, when zoo runs
    from a git checkout (``(None, None)`` otherwise, e.g. from a wheel)."""
    source = Path(__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(dirty)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def base_environment() -> dict[str, Any]:
    """What the parent knows without TensorFlow: host, Python, CPU, zoo version, git commit."""
    import zoo

    commit, dirty = git_commit()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "zoo_version": zoo.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
    }


def tf_environment(strategy: str, replicas: int | None, seed: int | None) -> dict[str, Any]:
    """The full environment of a worker: :func:`base_environment` plus TF/Keras versions, GPUs,
    thread settings, seed and distribution strategy."""
    import keras
    import tensorflow as tf

    from zoo.tfruntime import thread_settings

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(device)
        except (ValueError, RuntimeError):
            details = {}
        gpus.append({"device": device.name, "name": details.get("device_name", device.name),
                     "compute_capability": details.get("compute_capability")})
    env = base_environment()
    env.update({
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": gpus,
        "device": gpus[0]["name"] if gpus else f"CPU: {env['cpu']}",
        **thread_settings(),
        "logical_cpu_devices": len(tf.config.list_logical_devices("CPU")),
        "seed": seed,
        "strategy": strategy,
        "replicas": replicas,
        "mixed_precision": keras.mixed_precision.global_policy().name,
    })
    if strategy == "multiworker" and os.environ.get("TF_CONFIG"):
        try:
            env["tf_config_task"] = json.loads(os.environ["TF_CONFIG"]).get("task")
        except ValueError:
            env["tf_config_task"] = "unreadable TF_CONFIG"
    return env


# -- measurements inside the worker ----------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def inference_throughput(model: Any, entry: Any, registry: Any, max_samples: int = 2048,
                         min_seconds: float = 0.25, passes: int | None = None) -> dict[str, Any]:
    """Samples per second of ``model.predict`` on the entry's evaluation split (test, else
    validation, else train), after a warm-up pass that traces the predict function; repeated
    until ``min_seconds`` have passed so tiny datasets still give a stable figure, or exactly
    ``passes`` times (under a multi-worker strategy every worker must run the same number of
    predict calls, each a collective, so a clock cannot decide when to stop)."""
    import numpy as np

    from zoo import runner

    splits = runner.load_splits(entry, registry)
    splits.pop("augment", None)
    split_name = next(s for s in ("test", "validation", "train") if s in splits)
    batch_size = entry.recipe.batch_size
    ds = runner.pipeline(splits[split_name], batch_size, training=False, seed=entry.recipe.seed, cache=False)
    chunks, total = [], 0
    for x, _ in ds:
        chunks.append(np.asarray(x))
        total += len(chunks[-1])
        if total >= max_samples:
            break
    x = np.concatenate(chunks)[:max_samples]
    if len(x) >= batch_size:  # whole batches only: a ragged last batch would retrace
        x = x[: len(x) // batch_size * batch_size]
    # Warm-up on the very input timed below: with steps_per_execution > 1 a shorter input traces
    # a different function than the timed one, whose tracing would then be timed.
    model.predict(x, batch_size=batch_size, verbose=0)
    samples, start = 0, time.perf_counter()
    while True:
        model.predict(x, batch_size=batch_size, verbose=0)
        samples += len(x)
        elapsed = time.perf_counter() - start
        if passes is not None:
            if samples >= passes * len(x):
                break
        elif elapsed >= min_seconds or samples >= 50 * max_samples:
            break
    return {"inference_samples_per_second": samples / elapsed, "inference_batch_size": batch_size,
            "inference_split": split_name}


def forward_flops(model: Any, input_shape: Sequence[int]) -> int | None:
    """FLOPs of one forward pass for one example, counted by TensorFlow's (v1) profiler on the
    frozen graph of the model's call; ``None`` when the model cannot be frozen or profiled."""
    try:
        import tensorflow as tf
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        from zoo.tfruntime import _captured_stderr

        with _captured_stderr(replay=False):  # the v1 profiler prints deprecation notices
            function = tf.function(lambda inputs: model(inputs, training=False))
            concrete = function.get_concrete_function(tf.TensorSpec([1, *input_shape], model.inputs[0].dtype))
            frozen = convert_variables_to_constants_v2(concrete)
            options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
            options["output"] = "none"
            info = tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(),
                                                 cmd="op", options=options)
        return int(info.total_float_ops) or None
    except Exception:  # an estimate only: never fail a benchmark for it
        return None


def _progress_callback(label: str, every: float = 5.0) -> Any:
    """A Keras callback printing epoch progress on stderr, at most every ``every`` seconds
    (and for the first and last epoch), so long epochs and many tiny ones both stay readable."""
    import keras

    class _Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            self.last = time.perf_counter()
            self.epoch = 0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            if now - self.last >= every:
                self.last = now
                steps = self.params.get("steps")
                _stderr(f"{label} epoch {self.epoch + 1}/{self.params.get('epochs')} "
                        f"batch {batch + 1}/{steps or '?'} ({now - self.epoch_start:.0f}s)")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            epochs = self.params.get("epochs")
            if epoch == 0 or epoch + 1 == epochs or now - self.last >= every:
                self.last = now
                shown = " ".join(f"{k}={float(v):.4g}" for k, v in (logs or {}).items() if k != "learning_rate")
                _stderr(f"{label} epoch {epoch + 1}/{epochs} {now - self.epoch_start:.1f}s {shown}")

    return _Progress()


def _model_keeper() -> Any:
    """A callback that keeps a reference to the trained model (``runner.train`` returns plain
    data) and the number of replicas its distribution strategy ran."""
    import keras

    class _Keeper(keras.callbacks.Callback):
        model_ref: Any = None
        replicas: int | None = None

        def on_train_end(self, logs: Any = None) -> None:
            self.model_ref = self.model
            strategy = getattr(self.model, "distribute_strategy", None)
            self.replicas = getattr(strategy, "num_replicas_in_sync", None)

    return _Keeper()


def _input_shape(model: Any) -> tuple[Any, ...] | None:
    """A model's input shape without the batch axis (None when it has no symbolic inputs)."""
    try:
        return tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _shape_fits(takes: Sequence[Any], shape: Sequence[int]) -> bool:
    return len(takes) == len(shape) and all(t is None or int(t) == int(s) for t, s in zip(takes, shape, strict=True))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def measure(entry: Any, registry: Any, *, strategy: str = "default", repeat: int = 0, save: bool = False,
            label: str | None = None, quiet_tf: bool = True) -> dict[str, Any]:
    """Train ``entry`` (in this process) and return its benchmark row. Raises ZooError on bad
    input; a NaN/inf loss gives a row with ``status = "failed"``."""
    from zoo.tfruntime import import_tensorflow

    # Quietly, with the recipe's threads, before anything else imports TensorFlow (keras does).
    import_tensorflow(not quiet_tf, entry.recipe.intra_op_threads, entry.recipe.inter_op_threads)
    import keras

    from zoo import runner

    label = label or f"[{entry.name}]"
    keeper = _model_keeper()
    callbacks = [_progress_callback(label), keras.callbacks.TerminateOnNaN(), keeper]
    result = runner.train(entry, registry, save=save, verbose=0, quiet_tf=quiet_tf,
                          extra_callbacks=callbacks, strategy=strategy)
    recipe = entry.recipe
    epoch_seconds = list(result.epoch_seconds)
    steady = epoch_seconds[1:] or epoch_seconds
    seconds_per_epoch = statistics.median(steady) if steady else None
    samples_per_epoch = result.train_examples
    if recipe.steps_per_epoch:
        samples_per_epoch = min(samples_per_epoch, recipe.steps_per_epoch * recipe.batch_size)
    row: dict[str, Any] = {
        "entry": entry.name,
        "status": "ok",
        "error": None,
        "repeat": repeat,
        "seed": recipe.seed,
        "strategy": strategy,
        "replicas": keeper.replicas,
        "params": result.params_total,
        "params_trainable": result.params_trainable,
        "epochs": result.epochs,
        "epochs_planned": recipe.epochs,
        "batch_size": recipe.batch_size,
        "train_examples": result.train_examples,
        "samples_per_epoch": samples_per_epoch,
        "train_seconds": result.train_seconds,
        "first_epoch_seconds": epoch_seconds[0] if epoch_seconds else None,
        "seconds_per_epoch": seconds_per_epoch,
        "epoch_seconds": epoch_seconds,
        "samples_per_second": samples_per_epoch / seconds_per_epoch if seconds_per_epoch else None,
        "target": ({"metric": entry.target.metric, "value": entry.target.value, "mode": entry.target.mode}
                   if entry.target else None),
        "time_to_target_seconds": result.time_to_target_seconds,
        "metrics": result.metrics,
        "history": result.history,
        "model_dir": result.model_dir,
    }
    losses = result.history.get("loss", [])
    bad = next((i for i, v in enumerate(losses) if not _finite(v)), None)
    if bad is not None:
        row["status"] = "failed"
        row["error"] = f"loss became {losses[bad]} in epoch {bad + 1}; training stopped (learning rate too high?)"
    model = keeper.model_ref
    row.update(inference_samples_per_second=None, flops_per_sample=None, gflops_per_second=None)
    takes = _input_shape(model)
    if takes is not None and not _shape_fits(takes, entry.input_shape):
        # e.g. a feature-cache recipe fitted only the head on cached features: the model that
        # ran fit() does not take the entry's inputs, so it is not the one to time.
        row["inference_note"] = f"not measured: the fitted model takes {takes}, not the entry's {tuple(entry.input_shape)}"
        model = None
    if model is not None and row["status"] == "ok":
        try:
            row.update(inference_throughput(model, entry, registry,
                                            passes=MULTIWORKER_INFERENCE_PASSES if strategy == "multiworker" else None))
        except (ZooError, ValueError, TypeError) as exc:  # a secondary figure: keep the row
            row["inference_note"] = f"not measured: {type(exc).__name__}: {exc}"[:300]
        flops = forward_flops(model, entry.input_shape)
        # Training ≈ forward + backward ≈ 3× the forward pass (the usual rule of thumb).
        row["flops_per_sample"] = 3 * flops if flops else None
        row["gflops_per_second"] = (row["flops_per_sample"] * row["samples_per_second"] / 1e9
                                    if flops and row["samples_per_second"] else None)
    row["peak_rss_mb"] = peak_rss_mb()
    row["environment"] = tf_environment(strategy, keeper.replicas, recipe.seed)
    return row


# -- the worker process -------------------------------------------------------------------------
def _watch_parent() -> None:
    """Exit when the parent bench dies (e.g. ``kill -9``): nobody would read our row."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(130)

    threading.Thread(target=watch, daemon=True, name="zoo-parent-watch").start()


def _write_row(path: str, row: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(row, handle, default=str)
    os.replace(tmp, path)


def worker_main(argv: Sequence[str] | None = None) -> int:
    """``python -m zoo.bench ENTRY --out FILE [--registry F] [--set K=V] [--strategy S]``:
    benchmark one entry in this process and write its row as JSON to FILE."""
    parser = argparse.ArgumentParser(prog="python -m zoo.bench", description=worker_main.__doc__)
    parser.add_argument("entry")
    parser.add_argument("--out", required=True)
    parser.add_argument("--registry", action="append", default=[])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--strategy", default="default", choices=STRATEGIES)
    parser.add_argument("--repeat", type=int, default=0)
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--label", default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    _watch_parent()
    sys.stdout = sys.stderr  # anything printed is progress; the row goes to --out
    started = time.perf_counter()
    row: dict[str, Any] = {"entry": args.entry, "repeat": args.repeat, "strategy": args.strategy}
    code = EXIT_OK
    try:
        from zoo.catalogue import load_catalogue

        catalogue = load_catalogue(None, args.registry)
        entry = catalogue.resolve(args.entry, args.overrides)
        row["seed"] = entry.recipe.seed
        row = measure(entry, catalogue.registry, strategy=args.strategy, repeat=args.repeat, save=args.save,
                      label=args.label, quiet_tf=not args.verbose)
    except ZooError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a row says what went wrong; the traceback goes to stderr
        import traceback

        traceback.print_exc()
        name = type(exc).__name__
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "ResourceExhausted" in name or isinstance(exc, MemoryError):
            name = f"out of memory ({name})"
        row.update(status="failed", error=f"{name}: {message}"[:500])
    if row.get("status") != "ok":
        code = EXIT_FAILED_ROW
        row.setdefault("peak_rss_mb", peak_rss_mb())
    row["worker_seconds"] = time.perf_counter() - started
    _write_row(args.out, row)
    return code


# -- the parent: running workers ---------------------------------------------------------------------
@dataclass
class BenchOptions:
    """How ``zoo bench`` runs its entries."""

    overrides: Sequence[str] = ()
    registries: Sequence[str] = ()
    repeats: int = 1
    strategy: str = "default"
    cpu_devices: int | None = None
    timeout: float | None = None
    save: bool = False
    verbose: bool = False
    env: dict[str, str] = field(default_factory=dict)


def failed_row(entry: str, error: str, repeat: int = 0, **extra: Any) -> dict[str, Any]:
    """A row for a run that produced no measurements."""
    return {"entry": entry, "status": "failed", "error": error, "repeat": repeat, "metrics": {}, **extra}


def _signal_description(code: int) -> str:
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
    return f"worker killed by {name}{hint}"


def run_worker(entry: str, options: BenchOptions, repeat: int = 0, overrides: Sequence[str] = (),
               progress: Progress = _stderr, label: str | None = None) -> dict[str, Any]:
    """Benchmark one entry in a fresh ``python -m zoo.bench`` process and return its row.

    Never raises for a failure of the entry itself (that is a row); KeyboardInterrupt stops
    the worker and propagates.
    """
    label = label or f"[{entry}]"
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        out = os.path.join(tmp, "row.json")
        command = [sys.executable, "-m", "zoo.bench", entry, "--out", out, "--repeat", str(repeat),
                   "--strategy", options.strategy, "--label", label]
        for path in options.registries:
            command += ["--registry", str(path)]
        for item in [*options.overrides, *overrides]:
            command += ["--set", item]
        if options.save:
            command.append("--save")
        if options.verbose:
            command.append("--verbose")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **options.env,
               **distribution_env(options.strategy, options.cpu_devices)}
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                text=True, errors="replace", bufsize=1)
        tail: collections.deque[str] = collections.deque(maxlen=20)

        def forward() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                progress(line if line.startswith(label) else f"{label} | {line}")

        reader = threading.Thread(target=forward, daemon=True)
        reader.start()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(options.timeout, on_timeout) if options.timeout else None
        if timer:
            timer.start()
        try:
            # wait4, not wait: it gives this child's own rusage (peak RSS even when it was killed).
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        except BaseException:  # Ctrl-C / SIGTERM while waiting: stop the worker, then propagate
            proc.kill()
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        reader.join(timeout=5)
        wall = time.perf_counter() - start
        child_peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        row: dict[str, Any] | None = None
        if os.path.exists(out):
            try:
                with open(out, encoding="utf-8") as handle:
                    row = json.load(handle)
            except ValueError:
                row = None
        if row is None:
            if timed_out.is_set():
                error = f"timed out after {options.timeout:g}s"
            elif proc.returncode < 0:
                error = _signal_description(proc.returncode)
            else:
                last = next((l for l in reversed(tail) if l.strip()), "")
                error = f"worker exited with status {proc.returncode}" + (f": {last.strip()}" if last else "")
            row = failed_row(entry, error, repeat)
        row["wall_seconds"] = wall
        row.setdefault("peak_rss_mb", child_peak)
        if not row.get("peak_rss_mb"):
            row["peak_rss_mb"] = child_peak
        return row


def seeds_for(base_seed: int, repeats: int) -> list[int]:
    """Seeds of ``repeats`` runs: the entry's own seed, then the next ones."""
    return [base_seed + i for i in range(repeats)]


def bench(names: Sequence[str], catalogue: Any, options: BenchOptions,
          on_row: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
          progress: Progress = _stderr) -> list[dict[str, Any]]:
    """Benchmark every entry ``options.repeats`` times, one worker process each, and return the
    rows in order. ``on_row(row, entry_config)`` is called as soon as each row is finished (the
    CLI stores it there, so an interrupted bench keeps what had finished)."""
    rows = []
    total = len(names) * options.repeats
    done = 0
    for name in names:
        try:
            entry = catalogue.resolve(name, options.overrides)
        except ZooError as exc:
            # An entry that does not resolve fails here, cheaply, once per repeat slot.
            for repeat in range(options.repeats):
                done += 1
                row = failed_row(name, str(exc), repeat)
                progress(f"[{done}/{total}] {name}: failed: {exc}")
                rows.append(row)
                if on_row:
                    on_row(row, {"name": name})
            continue
        seeds = seeds_for(entry.recipe.seed, options.repeats)
        for repeat, seed in enumerate(seeds):
            done += 1
            extra = [f"seed={seed}"] if options.repeats > 1 else []
            config = catalogue.resolve(name, [*options.overrides, *extra]).to_dict() if extra else entry.to_dict()
            which = f" repeat {repeat + 1}/{options.repeats} (seed {seed})" if options.repeats > 1 else ""
            progress(f"[{done}/{total}] {name}{which}: training {entry.recipe.epochs} epoch(s), "
                     f"batch {entry.recipe.batch_size}, strategy {options.strategy}")
            label = f"  [{name}{'#' + str(repeat + 1) if options.repeats > 1 else ''}]"
            row = run_worker(name, options, repeat, extra, progress, label=label)
            row.setdefault("seed", seed)
            if row.get("status") == "ok":
                summary = describe(row)
                progress(f"[{done}/{total}] {name}{which}: done in {row.get('wall_seconds', 0):.1f}s{summary}")
            else:
                progress(f"[{done}/{total}] {name}{which}: FAILED: {row.get('error')}")
            rows.append(row)
            if on_row:
                on_row(row, config)
    return rows


def describe(row: dict[str, Any]) -> str:
    """A short progress summary of a finished row: primary metric and time to target."""
    from zoo.report import primary_metric

    metric, values = primary_metric(row)
    parts = []
    for split in ("validation", "test"):
        if values.get(split) is not None:
            parts.append(f"{split} {metric} {values[split]:.4g}")
            break
    if row.get("target"):
        ttt = row.get("time_to_target_seconds")
        parts.append(f"target reached after {ttt:.1f}s" if ttt is not None else "target not reached")
    return (": " + ", ".join(parts)) if parts else ""


def _sigterm_as_interrupt() -> Any:
    """Make SIGTERM (``kill PID``) raise KeyboardInterrupt, so a killed bench marks its run
    interrupted and stops its worker; returns the previous handler (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


__all__ = [
    "BenchOptions", "bench", "run_worker", "measure", "worker_main", "base_environment", "tf_environment",
    "inference_throughput", "forward_flops", "peak_rss_mb", "failed_row", "seeds_for", "STRATEGIES",
]

if __name__ == "__main__":
    sys.exit(worker_main())
