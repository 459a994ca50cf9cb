"""The runner: the one stage that holds Keras objects.

dataset → ``tf.data`` pipeline → builder → ``compile(recipe)`` → ``fit(callbacks)`` → evaluate →
save, and back to plain data (:class:`TrainResult`). Everything before it (registry, catalogue,
CLI) works without TensorFlow.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from zoo import settings
from zoo.errors import DataError, IncompatibleError, NotTrainedError, ZooError
from zoo.registry import Registry, accepts_keyword
from zoo.specs import DatasetSpec, Entry

MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"
SPLITS = ("train", "validation", "test")


@dataclass
class TrainResult:
    """What one training run produced, as plain data."""

    entry: str
    model_dir: str | None
    epochs: int
    history: dict[str, list[float]]
    metrics: dict[str, dict[str, float]]
    train_seconds: float
    epoch_seconds: list[float]
    train_examples: int
    params_total: int
    params_trainable: int
    time_to_target_seconds: float | None = None
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- TensorFlow set-up --------------------------------------------------------------------------
def setup(entry: Entry, verbose: bool = False) -> Any:
    """Import TensorFlow with the entry's thread settings, seed, precision policy."""
    from zoo.tfruntime import import_tensorflow

    tf = import_tensorflow(verbose, entry.recipe.intra_op_threads, entry.recipe.inter_op_threads)
    import keras

    keras.utils.set_random_seed(entry.recipe.seed)
    keras.mixed_precision.set_global_policy(entry.recipe.mixed_precision or "float32")
    return tf


# -- data ---------------------------------------------------------------------------------------
def load_splits(entry: Entry, registry: Registry) -> dict[str, Any]:
    """Call the entry's dataset loader and check that it returned usable splits."""
    spec = registry.dataset(entry.dataset.name)
    return call_loader(spec, {**spec.params, **entry.dataset.params})


def call_loader(spec: DatasetSpec, params: dict[str, Any]) -> dict[str, Any]:
    """``spec.loader(**params)``, its failures as one-line :class:`DataError`s, its result checked."""
    try:
        splits = spec.loader(**params)
    except ZooError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"dataset {spec.name!r} (plugin {spec.plugin}) could not load: {exc}") from exc
    if not isinstance(splits, dict) or "train" not in splits and "test" not in splits:
        raise DataError(f"dataset {spec.name!r}'s loader must return a dict with a 'train' split")
    unknown = set(splits) - {*SPLITS, "augment"}
    if unknown:
        raise DataError(f"dataset {spec.name!r} returned unknown split(s) {sorted(unknown)}; use {SPLITS}")
    return {k: v for k, v in splits.items() if v is not None}


def as_dataset(split: Any) -> Any:
    """A split (``tf.data.Dataset`` or ``(x, y)`` numpy tuple) as an unbatched ``tf.data.Dataset``."""
    import tensorflow as tf

    if isinstance(split, tf.data.Dataset):
        return split
    if isinstance(split, (tuple, list)) and len(split) == 2:
        return tf.data.Dataset.from_tensor_slices((split[0], split[1]))
    raise DataError(f"a split must be a tf.data.Dataset or an (x, y) tuple, not {type(split).__name__}")


def count_examples(split: Any) -> int:
    """Examples in a split: exact for arrays, from the dataset's cardinality when TF knows it."""
    if isinstance(split, (tuple, list)):
        return len(split[0])
    cardinality = int(split.cardinality())
    if cardinality >= 0:
        return cardinality
    return sum(1 for _ in split)  # unknown cardinality (e.g. a filter): count once


def carve_validation(train: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """Split ``fraction`` of ``train`` off as validation, reproducibly (seeded permutation)."""
    import numpy as np

    if isinstance(train, (tuple, list)):
        x, y = train
        order = np.random.default_rng(seed).permutation(len(x))
        cut = len(x) - int(round(len(x) * fraction))
        return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])
    n = count_examples(train)
    cut = n - int(round(n * fraction))
    return train.take(cut), train.skip(cut)


def pipeline(split: Any, batch_size: int, training: bool, seed: int, cache: bool = True,
             shuffle_buffer: int = 10_000, augment: Callable[[Any, Any], Any] | None = None,
             autotune: bool = False) -> Any:
    """``tf.data`` end to end: shuffle (seeded), batch, augment (training only), prefetch.

    In-memory ``(x, y)`` arrays take the path Keras itself takes for arrays: shuffle the *indices*
    (a full permutation each epoch) and gather whole batches, instead of shuffling examples one by
    one through a buffer. Other datasets are cached after their first pass (decoded once).

    tf.data's autotuner is off unless ``autotune`` (the recipe's ``data_autotune``): on the 2-core
    CPUs here it stalled a training step for 1–7 s in many epochs (benchmarks/RESULTS.md), up to
    a third of an epoch's time. Without it, ``AUTOTUNE`` parallelism falls back to the core count.
    """
    import tensorflow as tf

    if isinstance(split, (tuple, list)) and len(split) == 2:
        x, y = (tf.convert_to_tensor(part) for part in split)
        indices = tf.data.Dataset.range(int(x.shape[0]))
        if training:
            indices = indices.shuffle(int(x.shape[0]), seed=seed, reshuffle_each_iteration=True)
        ds = indices.batch(batch_size).map(lambda i: (tf.gather(x, i), tf.gather(y, i)),
                                           num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = as_dataset(split)
        if cache:
            ds = ds.cache()
        if training:
            ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=False)
    if training and augment is not None:
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    if not autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        ds = ds.with_options(options)
    return ds


# -- model --------------------------------------------------------------------------------------
def build_model(entry: Entry, registry: Registry) -> Any:
    """Call the architecture's builder for the entry's input shape, classes and task."""
    spec = registry.architecture(entry.architecture.name)
    params = {**spec.params, **entry.architecture.params}
    try:
        model = spec.builder(tuple(entry.input_shape), entry.num_classes, task=entry.task, **params)
    except ZooError:
        raise
    except (ValueError, TypeError) as exc:
        raise IncompatibleError(
            f"entry {entry.name!r} ({entry.sources.get('architecture', '?')}): architecture "
            f"{spec.name!r} (plugin {spec.plugin}) cannot be built for input {entry.input_shape}, "
            f"{entry.num_classes} output(s): {exc}"
        ) from exc
    import keras

    if not isinstance(model, keras.Model):
        raise IncompatibleError(f"architecture {spec.name!r}'s builder returned {type(model).__name__}, not a keras.Model")
    return model


def make_optimizer(entry: Entry, total_steps: int | None = None) -> Any:
    """The recipe's optimizer, with its learning rate or schedule.

    ``lr_schedule = { name = "cosine" | "exponential", ... }`` takes the Keras schedule's own
    arguments; a cosine schedule without ``decay_steps`` decays over the whole run
    (``total_steps``), so changing ``epochs`` or ``batch_size`` keeps its shape. With
    ``warmup_steps`` alone, ``learning_rate`` is the peak: the rate rises linearly from 0 to it,
    then decays (Keras's ``warmup_target``, which may also be given explicitly).
    """
    import keras

    recipe = entry.recipe
    config: dict[str, Any] = dict(recipe.optimizer_params)
    learning_rate: Any = recipe.learning_rate
    if recipe.lr_schedule:
        schedule = dict(recipe.lr_schedule)
        kind = schedule.pop("name", "cosine")
        peak = recipe.learning_rate or 1e-3
        if kind == "cosine" and schedule.get("warmup_steps") and "warmup_target" not in schedule:
            schedule.setdefault("initial_learning_rate", 0.0)
            schedule["warmup_target"] = peak
        schedule.setdefault("initial_learning_rate", peak)
        if kind == "cosine":
            if "decay_steps" not in schedule:
                if not total_steps:
                    raise IncompatibleError(f"entry {entry.name!r}: lr_schedule needs decay_steps here")
                schedule["decay_steps"] = int(total_steps) - int(schedule.get("warmup_steps", 0))
            learning_rate = keras.optimizers.schedules.CosineDecay(**schedule)
        elif kind == "exponential":
            learning_rate = keras.optimizers.schedules.ExponentialDecay(**schedule)
        else:
            raise IncompatibleError(f"entry {entry.name!r}: unknown lr_schedule {kind!r}; use cosine or exponential")
    if learning_rate is not None:
        config["learning_rate"] = learning_rate
    try:
        optimizer = keras.optimizers.get(recipe.optimizer)
        return optimizer.__class__(**{**optimizer.get_config(), **config}) if config else optimizer
    except (ValueError, TypeError) as exc:
        raise IncompatibleError(f"entry {entry.name!r}: optimizer {recipe.optimizer!r}: {exc}") from exc


def total_steps(entry: Entry, train_examples: int) -> int:
    """Optimizer steps in a whole run: epochs × batches per epoch."""
    per_epoch = entry.recipe.steps_per_epoch or -(-train_examples // entry.recipe.batch_size)
    return entry.recipe.epochs * per_epoch


def compile_model(model: Any, entry: Entry, steps: int | None = None, *, head_only: bool = False,
                  optimizer: Any = None) -> None:
    """Compile with the recipe. ``jit_compile = "head"`` asks XLA only for a head trained on
    cached features (``head_only``): XLA speeds up dense layers but slows convolutions on CPU.
    ``jit_compile = "optimizer"`` asks XLA only for the optimizer's weight update (fused into one
    pass over the weights), in any training, leaving matmuls and convolutions to oneDNN.
    ``optimizer`` reuses an optimizer instead of making the recipe's (see zoo.feature_cache)."""
    from zoo.losses import make_loss
    from zoo.tfcompat import jit_optimizer_update, steps_per_execution_for_strategy

    recipe = entry.recipe
    jit = recipe.jit_compile
    if optimizer is None:
        optimizer = make_optimizer(entry, steps)
    if jit == "head":
        jit = head_only
    elif jit == "optimizer":
        jit = False
        if not jit_optimizer_update(optimizer):
            print("zoo: note: jit_compile = \"optimizer\" is not available with this Keras (no "
                  "_backend_update_step); the optimizer's update runs without XLA", file=sys.stderr)
    model.compile(
        optimizer=optimizer,
        loss=make_loss(recipe.loss, recipe.label_smoothing),
        metrics=list(recipe.metrics),
        jit_compile=jit,
        steps_per_execution=steps_per_execution_for_strategy(recipe.steps_per_execution),
    )


def reserve_run_dir(runs_dir: Path, entry_name: str) -> Path:
    """Create and return a new, empty folder for one run: ENTRY-YYYYmmdd-HHMMSS-PID[-N].

    Two runs of one entry in one process within the same second (a test, a sweep) get
    different folders: mkdir without exist_ok is the atomic claim, and a taken name gets -2, -3...
    """
    base = f"{entry_name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    candidate, n = runs_dir / base, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = runs_dir / f"{base}-{n}"


def fill_callback_context(factory: Callable[..., Any], params: dict[str, Any],
                          context: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """``params`` plus every run-context key (``run_dir``, ``target``, ``entry``) that ``factory``
    declares and ``params`` leave unset. Each value is made only when a factory asks for it."""
    for key, make in context.items():
        if key not in params and accepts_keyword(factory, key):
            params[key] = make()
    return params


def make_callbacks(entry: Entry, registry: Registry, runs_dir: Path) -> list[Any]:
    """Instantiate the entry's callbacks, filling in the run context each factory asks for.

    The run's folder under ``runs_dir`` is created only when a callback asks for ``run_dir``
    (then once, shared by the run's callbacks), so other runs leave no empty folders behind.
    """
    target = asdict(entry.target) if entry.target else None
    context: dict[str, Callable[[], Any]] = {
        "run_dir": functools.cache(lambda: str(reserve_run_dir(runs_dir, entry.name))),
        "target": lambda: target,
        "entry": lambda: entry.name,
    }
    callbacks = []
    for ref in entry.callbacks:
        spec = registry.callback(ref.name)
        params = fill_callback_context(spec.factory, {**spec.params, **ref.params}, context)
        try:
            callbacks.append(spec.factory(**params))
        except (TypeError, ValueError) as exc:
            raise IncompatibleError(f"entry {entry.name!r}: callback {spec.name!r} (plugin {spec.plugin}): {exc}") from exc
    return callbacks


class EpochTimer:
    """Wall time of every epoch and the first time the entry's target was reached."""

    def __new__(cls, target: Any = None) -> Any:  # a keras Callback built lazily (no TF at import)
        import keras

        class _EpochTimer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.epoch_seconds: list[float] = []
                self.time_to_target: float | None = None

            def on_train_begin(self, logs: Any = None) -> None:
                self.start = time.perf_counter()

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.epoch_start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                now = time.perf_counter()
                self.epoch_seconds.append(now - self.epoch_start)
                value = (logs or {}).get(target.metric) if target else None
                if self.time_to_target is None and value is not None and target.reached(float(value)):
                    self.time_to_target = now - self.start

        return _EpochTimer()


# -- saving -------------------------------------------------------------------------------------
def model_dir(entry_name: str) -> Path:
    return settings.models_dir() / entry_name


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def save_artifacts(model: Any, entry: Entry, history: dict[str, list[float]], metrics: dict[str, Any]) -> Path:
    """Write model, weights, history and metrics to a fresh folder, then swap it in atomically,
    so an interrupted run never leaves a half-written model where a good one was."""
    final = model_dir(entry.name)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{entry.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    model.save(staging / MODEL_FILE)
    model.save_weights(staging / WEIGHTS_FILE)
    _write_json(staging / "history.json", history)
    _write_json(staging / "metrics.json", metrics)
    _write_json(staging / "entry.json", entry.to_dict())
    try:
        from zoo.plots import plot_history

        plot_history(history, staging / "curves.png", title=entry.name)
    except ImportError:
        print("zoo: note: matplotlib is not installed, so no curves.png (pip install 'zoo-models[plot]')", file=sys.stderr)
    old = final.parent / f".{entry.name}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_model(entry_name: str) -> Any:
    """Load a trained entry's model in Keras safe mode (no arbitrary code from the file)."""
    path = model_dir(entry_name) / MODEL_FILE
    if not path.exists():
        raise NotTrainedError(f"entry {entry_name!r} has not been trained yet (no {path}); run `zoo train {entry_name}` first")
    import keras

    import zoo.losses  # noqa: F401  registers zoo's losses, which a saved compile config may name

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # corrupt or foreign file: name it
        raise DataError(f"cannot load {path}: {type(exc).__name__}: {exc}") from exc


# -- the stages ---------------------------------------------------------------------------------
def _evaluate(model: Any, datasets: dict[str, Any]) -> dict[str, dict[str, float]]:
    metrics = {}
    for name, ds in datasets.items():
        values = model.evaluate(ds, verbose=0, return_dict=True)
        metrics[name] = {k: float(v) for k, v in values.items()}
    return metrics


def make_strategy(name: str | None) -> Any:
    """A ``tf.distribute`` strategy by name: default (one device), mirrored (every local
    device), multiworker (machines listed in ``TF_CONFIG``)."""
    import tensorflow as tf

    if name in (None, "", "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":  # created once, at TensorFlow start-up (zoo.tfruntime)
        from zoo.tfruntime import multiworker_strategy

        return multiworker_strategy()
    from zoo.tfruntime import STRATEGIES

    raise IncompatibleError(f"unknown strategy {name!r}; use one of: {', '.join(STRATEGIES)}")


def is_chief(model: Any) -> bool:
    """Whether this process is the one that writes results: always, except for the non-chief
    workers of a multi-worker strategy (chief = task ``chief``, else ``worker`` 0), which is
    what the strategy's own ``extended.should_checkpoint`` says."""
    strategy = getattr(model, "distribute_strategy", None)
    return strategy is None or bool(strategy.extended.should_checkpoint)


def train(entry: Entry, registry: Registry, *, save: bool = True, verbose: int | str = "auto",
          quiet_tf: bool = True, extra_callbacks: list[Any] | None = None,
          strategy: str | None = None) -> TrainResult:
    """Train one entry with its recipe, evaluate every split, save the model.

    With ``strategy``, the model is built and compiled under that ``tf.distribute`` strategy;
    ``batch_size`` stays global (Keras splits each batch across the replicas).
    """
    setup(entry, verbose=not quiet_tf)
    recipe = entry.recipe
    splits = load_splits(entry, registry)
    # Optional, not a split: a batch-level augmentation the loader asks for, applied to
    # training batches after cache() so every epoch sees fresh transformations.
    augment = splits.pop("augment", None)
    if "train" not in splits:
        raise DataError(f"dataset {entry.dataset.name!r} has no train split")
    if "validation" not in splits and recipe.validation_split:
        splits["train"], splits["validation"] = carve_validation(splits["train"], recipe.validation_split, recipe.seed)
    train_examples = count_examples(splits["train"])

    with make_strategy(strategy).scope():
        model = build_model(entry, registry)
        compile_model(model, entry, total_steps(entry, train_examples))
    timer = EpochTimer(entry.target)
    callbacks = [timer, *make_callbacks(entry, registry, settings.runs_dir()), *(extra_callbacks or [])]

    datasets = {
        name: pipeline(split, recipe.batch_size, training=(name == "train"), seed=recipe.seed,
                       cache=recipe.cache, shuffle_buffer=recipe.shuffle_buffer,
                       augment=augment if name == "train" else None, autotune=recipe.data_autotune)
        for name, split in splits.items()
    }
    start = time.perf_counter()
    fit_model, fit_datasets = model, datasets
    if recipe.feature_cache:  # frozen base: train the head on cached base features (zoo/feature_cache.py)
        from zoo import feature_cache

        cached = feature_cache.prepare(model, entry, registry, splits, augment)
        if cached is not None:
            fit_model, fit_datasets, _ = cached
    history = fit_model.fit(
        fit_datasets["train"],
        validation_data=fit_datasets.get("validation"),
        epochs=recipe.epochs,
        steps_per_epoch=recipe.steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the tf.data pipeline shuffles (Keras warns otherwise)
    )
    history_data = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    fine_tune_plan = getattr(model, "zoo_fine_tune", None)
    if fine_tune_plan is not None:  # second phase on raw inputs, top of the base unfrozen
        from zoo import feature_cache

        history_data = feature_cache.fine_tune(model, entry, fine_tune_plan, datasets, callbacks, history_data, verbose)
        fit_model, fit_datasets = model, datasets
    train_seconds = time.perf_counter() - start
    eval_datasets = dict(fit_datasets)
    if augment is not None and fit_datasets is datasets:
        # Score the train split as it is, not through the augmenting training pipeline.
        eval_datasets["train"] = pipeline(splits["train"], recipe.batch_size, training=False,
                                          seed=recipe.seed, cache=False)
    metrics = _evaluate(fit_model, eval_datasets)
    # Under a multi-worker strategy every worker holds the same weights: only the chief writes
    # them, so that workers sharing a file system never race on the same folder.
    saved = save_artifacts(model, entry, history_data, metrics) if save and is_chief(model) else None
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    return TrainResult(
        entry=entry.name,
        model_dir=str(saved) if saved else None,
        epochs=len(timer.epoch_seconds),
        history=history_data,
        metrics=metrics,
        train_seconds=train_seconds,
        epoch_seconds=timer.epoch_seconds,
        train_examples=train_examples,
        params_total=int(model.count_params()),
        params_trainable=trainable,
        time_to_target_seconds=timer.time_to_target,
    )


def evaluate(entry: Entry, registry: Registry, quiet_tf: bool = True) -> dict[str, dict[str, float]]:
    """Evaluate the saved model of an entry on every split its dataset provides."""
    setup(entry, verbose=not quiet_tf)
    model = load_model(entry.name)
    splits = load_splits(entry, registry)
    splits.pop("augment", None)
    datasets = {
        name: pipeline(split, entry.recipe.batch_size, training=False, seed=entry.recipe.seed, cache=False)
        for name, split in splits.items()
    }
    return _evaluate(model, datasets)


def parse_inputs(entry: Entry, registry: Registry, inputs: list[str]) -> Any:
    """Command-line inputs as a batch: numbers (one example per argument, comma-separated
    values within one), or files the dataset's ``decode`` knows how to read."""
    import numpy as np

    spec = registry.dataset(entry.dataset.name)
    decode = spec.decode
    examples = []
    for item in inputs:
        if decode is not None and Path(item).exists():
            examples.append(np.asarray(decode(item, **{**spec.params, **entry.dataset.params})))
            continue
        try:
            values = np.asarray([float(v) for v in item.split(",")], dtype="float32")
        except ValueError:
            raise DataError(f"cannot read input {item!r}: expected numbers" + (" or an existing file" if decode else "")) from None
        size = int(np.prod(entry.input_shape))
        if values.size != size:
            raise DataError(f"input {item!r} has {values.size} value(s); entry {entry.name!r} takes {size} (shape {entry.input_shape})")
        examples.append(values.reshape(entry.input_shape))
    return np.stack(examples)


def predict(entry: Entry, registry: Registry, inputs: list[str], quiet_tf: bool = True) -> list[Any]:
    """Predict with an entry's saved model; returns one plain list per input."""
    setup(entry, verbose=not quiet_tf)
    model = load_model(entry.name)
    batch = parse_inputs(entry, registry, inputs)
    return model.predict(batch, verbose=0).tolist()
