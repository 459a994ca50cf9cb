"""The runner: the one stage that holds Keras objects.

``train`` reads top to bottom: TensorFlow set up for the recipe → the dataset's splits as
``tf.data`` (:mod:`zoo.pipeline`) → the architecture's model, built and compiled under the
strategy → contracts checked on the model and the first batch (:mod:`zoo.contracts`) → the
architecture's plan executed phase by phase (:mod:`zoo.phases`) → every split scored → the model
saved (:mod:`zoo.artifacts`). It returns the trained model with its result as plain data
(:class:`TrainResult`). Everything before it (registry, catalogue, CLI) works without TensorFlow.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from zoo import settings
from zoo.artifacts import load_model, save_artifacts
from zoo.compiling import compile_model, total_steps
from zoo.distributed import evaluate_distributed, fit_distributed, is_multiworker
from zoo.errors import IncompatibleError, ZooError
from zoo.frozen_base import unfreeze_from
from zoo.phases import FineTune, Fit, Phase, TrainHead, describe
from zoo.pipeline import TrainingData, evaluation_pipelines, prepare_data
from zoo.registry import Registry
from zoo.run_context import EpochTimer, make_callbacks
from zoo.specs import Entry


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
    replicas: int | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainedModel:
    """The trained (full) Keras model and its :class:`TrainResult`."""

    model: Any
    result: TrainResult


@dataclass
class PhaseOutcome:
    """One phase's history, and the model and pipelines that score the entry after it (a head
    trained on cached features is scored on them: the base need not run again)."""

    history: dict[str, list[float]]
    scorer: Any
    score_on: dict[str, Any]


# -- TensorFlow set-up --------------------------------------------------------------------------
def setup(entry: Entry, verbose: bool = False) -> Any:
    """Import TensorFlow with the entry's thread settings, seed, precision policy."""
    from zoo.tfruntime import import_tensorflow

    tf = import_tensorflow(verbose, entry.recipe.intra_op_threads, entry.recipe.inter_op_threads)
    import keras

    keras.utils.set_random_seed(entry.recipe.seed)
    keras.mixed_precision.set_global_policy(entry.recipe.mixed_precision or "float32")
    return tf


def make_strategy(name: str | None) -> Any:
    """A ``tf.distribute`` strategy by name: default (one device), mirrored (every local
    device), multiworker (machines listed in ``TF_CONFIG``)."""
    import tensorflow as tf

    from zoo.tfruntime import STRATEGIES, multiworker_strategy

    if name in (None, "", "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":  # created once, at TensorFlow start-up (zoo.tfruntime)
        return multiworker_strategy()
    raise IncompatibleError(f"unknown strategy {name!r}; use one of: {', '.join(STRATEGIES)}")


def is_chief(model: Any) -> bool:
    """Whether this process is the one that writes results: always, except for the non-chief
    workers of a multi-worker strategy (chief = task ``chief``, else ``worker`` 0), which is
    what the strategy's own ``extended.should_checkpoint`` says."""
    strategy = getattr(model, "distribute_strategy", None)
    return strategy is None or bool(strategy.extended.should_checkpoint)


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


def _fit(model: Any, datasets: dict[str, Any], epochs: int, initial_epoch: int, entry: Entry,
         callbacks: list[Any], verbose: Any) -> dict[str, list[float]]:
    if is_multiworker(model):  # Keras's fit fails under this strategy: zoo's own loop
        return fit_distributed(model, datasets, epochs, initial_epoch, entry, callbacks, verbose)
    history = model.fit(
        datasets["train"],
        validation_data=datasets.get("validation"),
        epochs=initial_epoch + epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=entry.recipe.steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the tf.data pipeline shuffles (Keras warns otherwise)
    )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


# -- the phases ---------------------------------------------------------------------------------
def run_phase(phase: Phase, model: Any, entry: Entry, registry: Registry, data: TrainingData,
              callbacks: list[Any], verbose: Any, epochs_done: int) -> PhaseOutcome:
    """Execute one phase of the plan on ``model`` (compiled) and return its outcome."""
    if isinstance(phase, Fit):
        history = _fit(model, data.datasets, entry.recipe.epochs, epochs_done, entry, callbacks, verbose)
        return PhaseOutcome(history, model, data.for_evaluation())
    if isinstance(phase, TrainHead):
        cached = None
        if entry.recipe.feature_cache:
            from zoo.feature_cache import head_on_cached_features

            cached = head_on_cached_features(model, entry, registry, data)
        if cached is None:  # no cache asked for, or the data augments: the base runs frozen
            history = _fit(model, data.datasets, entry.recipe.epochs, epochs_done, entry, callbacks, verbose)
            return PhaseOutcome(history, model, data.for_evaluation())
        trainer, datasets, _ = cached
        history = _fit(trainer, datasets, entry.recipe.epochs, epochs_done, entry, callbacks, verbose)
        return PhaseOutcome(history, trainer, datasets)
    if isinstance(phase, FineTune):
        unfreeze_from(model, phase.from_layer)
        tuned = dataclasses.replace(entry, recipe=dataclasses.replace(
            entry.recipe, learning_rate=phase.learning_rate, lr_schedule=None))
        with model.distribute_strategy.scope():
            compile_model(model, tuned)
        history = _fit(model, data.datasets, phase.epochs, epochs_done, entry, callbacks, verbose)
        return PhaseOutcome(history, model, data.for_evaluation())
    raise IncompatibleError(f"entry {entry.name!r}: unknown phase {phase!r}")


def score(model: Any, datasets: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``model.evaluate`` on every split, as ``{split: {metric: value}}``."""
    if is_multiworker(model):
        return {name: evaluate_distributed(model, ds) for name, ds in datasets.items()}
    return {name: {k: float(v) for k, v in model.evaluate(ds, verbose=0, return_dict=True).items()}
            for name, ds in datasets.items()}


def train(entry: Entry, registry: Registry, *, save: bool = True, verbose: int | str = "auto",
          quiet_tf: bool = True, extra_callbacks: list[Any] | None = None,
          strategy: str | None = None) -> TrainedModel:
    """Train one entry with its recipe and its architecture's plan, score every split, save.

    With ``strategy``, the model is built and compiled under that ``tf.distribute`` strategy;
    ``batch_size`` stays global (Keras splits each batch across the replicas).
    """
    from zoo.contracts import check_before_training, first_examples

    setup(entry, verbose=not quiet_tf)
    data = prepare_data(entry, registry)
    distribution = make_strategy(strategy)
    with distribution.scope():
        model = build_model(entry, registry)
        compile_model(model, entry, total_steps(entry, data.train_examples))
    check_before_training(model, entry, registry, first_examples(data.splits["train"], entry.recipe.batch_size))

    timer = EpochTimer(entry.target)
    callbacks = [timer, *make_callbacks(entry, registry, settings.runs_dir()), *(extra_callbacks or [])]
    history: dict[str, list[float]] = {}
    start = time.perf_counter()
    for phase in entry.plan:
        outcome = run_phase(phase, model, entry, registry, data, callbacks, verbose, len(timer.epoch_seconds))
        for key, values in outcome.history.items():
            history.setdefault(key, []).extend(values)
    train_seconds = time.perf_counter() - start
    metrics = score(outcome.scorer, outcome.score_on)

    # Under a multi-worker strategy every worker holds the same weights: only the chief writes
    # them, so that workers sharing a file system never race on the same folder.
    saved = save_artifacts(model, entry, history, metrics) if save and is_chief(model) else None
    result = TrainResult(
        entry=entry.name,
        model_dir=str(saved) if saved else None,
        epochs=len(timer.epoch_seconds),
        history=history,
        metrics=metrics,
        train_seconds=train_seconds,
        epoch_seconds=timer.epoch_seconds,
        train_examples=data.train_examples,
        params_total=int(model.count_params()),
        params_trainable=sum(int(w.numpy().size) for w in model.trainable_weights),
        time_to_target_seconds=timer.time_to_target,
        replicas=int(distribution.num_replicas_in_sync),
        phases=[describe(phase) for phase in entry.plan],
    )
    return TrainedModel(model, result)


def evaluate(entry: Entry, registry: Registry, quiet_tf: bool = True) -> dict[str, dict[str, float]]:
    """Score the saved model of an entry on every split its dataset provides."""
    setup(entry, verbose=not quiet_tf)
    model = load_model(entry.name)
    return score(model, evaluation_pipelines(entry, registry))


__all__ = ["TrainResult", "TrainedModel", "PhaseOutcome", "setup", "make_strategy", "is_chief", "build_model",
           "run_phase", "score", "train", "evaluate"]
