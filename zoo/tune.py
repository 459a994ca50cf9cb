"""``zoo tune``: search catalogue keys with Ray Tune, scoring trials on validation data only.

A search space is ``KEY=SPEC`` items over any ``--set`` key (``learning_rate=loguniform(1e-4,1e-2)``,
``batch_size=choice(32,64,128)``, ``architecture.filters=choice(32,64)``). Every trial is one Ray
Tune trial that trains the entry with its point's overrides in a Ray worker process and reports
the validation metrics of each epoch (so ASHA can stop poor trials early).

Select on validation, report on test: a trial never sees the test split. It trains with the
recipe's ``validation_split`` (``0.1`` when the recipe has none: validation is then held out of
the training split, unless the dataset has a validation split of its own), and its dataset's
loader runs with the test split dropped before the runner gets the splits
(:func:`without_test`), so nothing in a trial can evaluate it. The CLI then retrains the best
configuration once, as a normal bench row (test split scored), and can write it as a variant.

Ray is imported only when a search runs; Ray's files go under ``ZOO_HOME`` (``tune/`` for the
experiments, ``ray/`` for a Ray started here). Progress is one line per finished trial.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.bench import split_values
from zoo.catalogue import parse_value
from zoo.errors import CatalogueError, ZooError
from zoo.metrics import improvement_mode
from zoo.phases import FineTune
from zoo.splits import TEST

log = logging.getLogger(__name__)
#: The validation hold-out of a trial whose recipe has none (a fraction of the training split).
DEFAULT_VALIDATION_SPLIT = 0.1
SCHEDULERS: tuple[str, ...] = ("fifo", "asha")
_SPEC = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$", re.S)
_BOUNDED = ("uniform", "loguniform", "randint")


# -- the search space ----------------------------------------------------------------------------
def toml_text(value: Any) -> str:
    """A value as TOML (what ``--set`` and a catalogue file read back as the same value)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
        value = value.item()  # numpy scalars from the search
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + " }"
    raise CatalogueError(f"cannot write {value!r} ({type(value).__name__}) as a catalogue value")


@dataclass(frozen=True)
class Dimension:
    """One ``--space KEY=SPEC`` item: a catalogue key and how to sample it."""

    key: str
    kind: str                 # uniform | loguniform | randint | choice
    args: tuple[Any, ...]

    def sampler(self, tune: Any) -> Any:
        return getattr(tune, self.kind)(list(self.args) if self.kind == "choice" else self.args[0], *(
            () if self.kind == "choice" else self.args[1:]))

    def examples(self) -> list[Any]:
        """Values that show whether the key resolves: the choices, or the bounds."""
        if self.kind == "choice":
            return list(self.args)
        return [self.args[0], self.args[1] - 1] if self.kind == "randint" else list(self.args)

    def text(self) -> str:
        return f"{self.key}={self.kind}({','.join(toml_text(a) for a in self.args)})"


def parse_space(items: Sequence[str]) -> list[Dimension]:
    """``--space KEY=SPEC`` items: ``uniform(a,b)``, ``loguniform(a,b)`` (0 < a < b),
    ``randint(a,b)`` (a ≤ n < b) or ``choice(v1,v2,…)`` (any ``--set`` values)."""
    space: list[Dimension] = []
    for item in items:
        key, sep, spec = item.partition("=")
        key = key.strip()
        match = _SPEC.match(spec) if sep else None
        if not key or not match or match.group(1) not in (*_BOUNDED, "choice"):
            raise CatalogueError(f"--space {item!r}: expected KEY=SPEC, SPEC one of uniform(a,b), loguniform(a,b), "
                                 f"randint(a,b), choice(v1,v2,...)")
        kind, texts = match.group(1), [t for t in split_values(match.group(2)) if t]
        values = [parse_value(t) for t in texts]
        if kind == "choice":
            if not values:
                raise CatalogueError(f"--space {item!r}: choice() needs at least one value")
        else:
            numeric = len(values) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            if not numeric or not values[0] < values[1] or (kind == "loguniform" and values[0] <= 0):
                raise CatalogueError(f"--space {item!r}: {kind}(a,b) needs two numbers a < b"
                                     + (", both above 0" if kind == "loguniform" else ""))
            if kind == "randint" and not all(isinstance(v, int) for v in values):
                raise CatalogueError(f"--space {item!r}: randint(a,b) needs whole numbers")
            values = [float(v) for v in values] if kind != "randint" else values
        if any(d.key == key for d in space):
            raise CatalogueError(f"--space {key}=... is given twice")
        space.append(Dimension(key, kind, tuple(values)))
    if not space:
        raise CatalogueError("give at least one --space KEY=SPEC to search")
    return space


def point(config: dict[str, Any], space: Sequence[Dimension]) -> dict[str, Any]:
    """A trial's config as the values it trains with: sampled floats rounded to 4 significant
    digits (``learning_rate=0.001079``, not ``0.0010790840445381387``), so labels, the history
    and a written variant show what ran and rerun it exactly."""
    values = {}
    for d in space:
        value = config[d.key]
        value = value.item() if hasattr(value, "item") else value
        values[d.key] = float(f"{value:.4g}") if isinstance(value, float) and d.kind != "choice" else value
    return values


def overrides_for(config: dict[str, Any], space: Sequence[Dimension]) -> list[str]:
    """A trial's config as ``--set`` overrides (:func:`point`'s values), in the space's order."""
    return [f"{key}={toml_text(value)}" for key, value in point(config, space).items()]


def selection_metric(entry: Any, metric: str | None) -> tuple[str, str]:
    """The validation metric trials are scored by (``val_…``) and its mode (max | min): ``metric``
    (``accuracy`` and ``val_accuracy`` alike), else the entry's first metric. Never a test one."""
    name = metric or (entry.recipe.metrics[0] if entry.recipe.metrics else "loss")
    if name.startswith(("test_", "train_")) or name in ("test", "train"):
        raise ZooError(f"--metric {name}: trials are scored on validation data only (e.g. --metric accuracy "
                       f"is validation accuracy); the test split is scored once, on the best configuration")
    name = name if name.startswith("val_") else f"val_{name}"
    return name, improvement_mode(name)


def planned_epochs(entry: Any) -> int:
    """Epochs a trial reports over its plan (fine-tune phases add theirs)."""
    return sum(phase.epochs if isinstance(phase, FineTune) else entry.recipe.epochs for phase in entry.plan)


# -- one trial, in a Ray worker process -----------------------------------------------------------
def without_test(registry: Any, dataset: str) -> Any:
    """``registry`` with ``dataset``'s loader returning no test split: a trial's runner never
    gets one, so it cannot train, select or score on it. The loader keeps its signature."""
    spec = registry.datasets[dataset]
    loader = spec.loader

    @functools.wraps(loader)
    def load(*args: Any, **kwargs: Any) -> Any:
        splits = loader(*args, **kwargs)
        return {k: v for k, v in splits.items() if k != TEST} if isinstance(splits, dict) else splits

    datasets = {**registry.datasets, dataset: dataclasses.replace(spec, loader=load)}
    return dataclasses.replace(registry, datasets=datasets)


@dataclass
class TrialSetup:
    """What every trial gets from the driver, as plain data."""

    entry: str
    overrides: tuple[str, ...]                    # --set, then the forced validation_split
    space: tuple[Dimension, ...]
    metric: str
    catalogues: list[tuple[str, str]] = field(default_factory=list)   # user catalogues as (name, text)
    env: dict[str, str] = field(default_factory=dict)


def run_trial(config: dict[str, Any], setup: TrialSetup) -> None:
    """A Ray Tune function trainable: train the entry with ``config``'s overrides and report the
    validation metrics after every epoch (``tune.report``), the test split dropped."""
    from ray import tune

    os.environ.update(setup.env)
    from zoo.catalogue import load_catalogue

    with tempfile.TemporaryDirectory(prefix="zoo-catalogues-") as tmp:
        paths = []
        for number, (name, text) in enumerate(setup.catalogues):
            paths.append(Path(tmp) / f"{number}-{name}")
            paths[-1].write_text(text, encoding="utf-8")
        catalogue = load_catalogue(None, paths)
        entry = catalogue.resolve(setup.entry, [*setup.overrides, *overrides_for(config, setup.space)])
    registry = without_test(catalogue.registry, entry.dataset.name)
    from zoo import runner
    from zoo.tfruntime import import_tensorflow

    import_tensorflow(False, entry.recipe.intra_op_threads, entry.recipe.inter_op_threads)
    import keras

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            metrics = {k: float(v) for k, v in (logs or {}).items()}
            if setup.metric not in metrics:
                raise ZooError(f"the trial has no {setup.metric} to be scored by (it has "
                               f"{', '.join(sorted(metrics)) or 'nothing'}); pick one with --metric")
            tune.report({**metrics, "epoch": epoch + 1})

    runner.train(entry, registry, save=False, verbose=0, extra_callbacks=[Report()])


# -- the search ------------------------------------------------------------------------------------
@dataclass
class Trial:
    """One finished trial, as plain data."""

    number: int
    config: dict[str, Any]
    overrides: list[str]
    value: float | None
    epochs: int
    status: str              # ok | stopped early | failed
    error: str | None = None


@dataclass
class TuneOutcome:
    """A finished search: every trial, the best one, and what it was scored by."""

    entry: str
    metric: str
    mode: str
    trials: list[Trial]
    best: Trial | None
    base_overrides: list[str]
    experiment: str
    seconds: float


def _progress_callback(tune: Any, space: Sequence[Dimension], metric: str, total: int, max_epochs: int,
                       report: Callable[[str], None]) -> Any:
    class Progress(tune.Callback):
        """One line per finished trial, instead of Ray Tune's tables."""

        finished = 0

        def _line(self, trial: Any, failed: bool) -> None:
            Progress.finished += 1
            result = trial.last_result or {}
            epochs = int(result.get("epoch") or 0)
            values = " ".join(overrides_for(trial.config, space))
            if failed:
                text = f"FAILED (its error: {trial.local_path}/error.txt)"
            else:
                value = result.get(metric)
                text = (f"{metric} {value:.4g} after {epochs} epoch(s)" if isinstance(value, (int, float)) else
                        "no result") + (" (stopped early)" if epochs < max_epochs else "")
            report(f"[{Progress.finished}/{total}] trial {trial_number(trial.trial_id)} [{values}]: {text}")

        def on_trial_complete(self, iteration: int, trials: Any, trial: Any, **info: Any) -> None:
            self._line(trial, failed=False)

        def on_trial_error(self, iteration: int, trials: Any, trial: Any, **info: Any) -> None:
            self._line(trial, failed=True)

    return Progress()


def search(catalogue: Any, name: str, space: Sequence[Dimension], *, trials: int = 8, scheduler: str = "fifo",
           metric: str | None = None, address: str | None = None, overrides: Sequence[str] = (),
           registries: Sequence[str] = (), seed: int = 0, max_concurrent: int | None = None, verbose: bool = False,
           progress: Callable[[str], None] = log.info) -> TuneOutcome:
    """Run ``trials`` Ray Tune trials of entry ``name`` over ``space`` (random search, seeded by
    ``seed``; ASHA stops poor trials early with ``scheduler="asha"``), on the Ray at ``address``
    or a Ray started here, and return every trial's validation result and the best."""
    if scheduler not in SCHEDULERS:
        raise ZooError(f"unknown scheduler {scheduler!r}; use one of: {', '.join(SCHEDULERS)}")
    entry = catalogue.resolve(name, overrides)
    metric, mode = selection_metric(entry, metric)
    forced = [] if entry.recipe.validation_split else [f"validation_split={DEFAULT_VALIDATION_SPLIT}"]
    base = [*overrides, *forced]
    for dimension in space:  # a key that does not resolve fails here, not in every trial
        for value in dimension.examples():
            catalogue.resolve(name, [*base, f"{dimension.key}={toml_text(value)}"])
    epochs = planned_epochs(entry)
    setup = TrialSetup(name, tuple(base), tuple(space), metric,
                       [(Path(p).name, Path(p).read_text(encoding="utf-8"))
                        for p in [*settings.user_catalogues(), *registries]],
                       {**settings.forwarded(), "ZOO_REGISTRY": ""})
    from zoo.executors import connect_ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's quiet reporter: verbose=0 prints nothing
    ray = connect_ray(address, verbose, what="zoo tune")
    started = time.perf_counter()
    try:
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
        from ray.tune.search.basic_variant import BasicVariantGenerator

        # ASHA's rungs: 1, 2, 4, … epochs. max_t one past the last epoch: a trial that passes every
        # rung ends by itself (its run's last steps included), it is never cut at its last report.
        chosen = (ASHAScheduler(time_attr="training_iteration", max_t=epochs + 1, grace_period=1, reduction_factor=2)
                  if scheduler == "asha" else FIFOScheduler())
        trainable = tune.with_resources(tune.with_parameters(run_trial, setup=setup),
                                        {"cpu": entry.resources.cpus, "gpu": entry.resources.gpus})
        experiment = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        progress(f"tune: {trials} trial(s) of {name} by {metric} ({mode}), {scheduler}, on "
                 f"{address or 'a Ray started here'}; files in {settings.home() / 'tune' / experiment}")
        tuner = tune.Tuner(
            trainable, param_space={d.key: d.sampler(tune) for d in space},
            tune_config=tune.TuneConfig(num_samples=trials, metric=metric, mode=mode, scheduler=chosen,
                                        search_alg=BasicVariantGenerator(random_state=seed),
                                        max_concurrent_trials=max_concurrent),
            run_config=tune.RunConfig(name=experiment, storage_path=str(settings.home() / "tune"), verbose=0,
                                      callbacks=[_progress_callback(tune, space, metric, trials, epochs, progress)]))
        grid = tuner.fit()
        found = _trials(grid, space, metric, epochs)
    finally:
        ray.shutdown()
    ok = [t for t in found if t.value is not None and math.isfinite(t.value)]
    best = (max if mode == "max" else min)(ok, key=lambda t: t.value) if ok else None
    return TuneOutcome(name, metric, mode, found, best, list(overrides), str(settings.home() / "tune" / experiment),
                       time.perf_counter() - started)


def trial_number(trial_id: str) -> int:
    """Tune's trial id ``b096f_00003`` as the trial's number, counted from 1."""
    tail = str(trial_id).rpartition("_")[2]
    return int(tail) + 1 if tail.isdigit() else 0


def _trials(grid: Any, space: Sequence[Dimension], metric: str, epochs: int) -> list[Trial]:
    found = []
    for index, result in enumerate(grid):
        metrics = result.metrics or {}
        number = trial_number(metrics["trial_id"]) if metrics.get("trial_id") else index + 1
        leaked = [k for k in metrics if k.startswith(TEST)]
        if leaked:  # cannot happen (the loader drops test); never select on it if it did
            raise ZooError(f"a trial reported test metrics ({', '.join(leaked)}); refusing to select on them")
        done = int(metrics.get("epoch") or 0)
        value = metrics.get(metric)
        status = "failed" if result.error else ("ok" if done >= epochs else "stopped early")
        error = " ".join(str(result.error).split())[:300] if result.error else None
        config = point(result.config, space)
        found.append(Trial(number, config, overrides_for(config, space),
                           float(value) if isinstance(value, (int, float)) else None, done, status, error))
    return sorted(found, key=lambda t: t.number)


__all__ = ["Dimension", "parse_space", "toml_text", "overrides_for", "selection_metric", "without_test", "run_trial",
           "search", "Trial", "TuneOutcome", "TrialSetup", "point", "trial_number", "SCHEDULERS", "DEFAULT_VALIDATION_SPLIT"]
