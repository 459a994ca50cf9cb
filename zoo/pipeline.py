"""Data for training: the dataset's loader called and checked, and its splits as ``tf.data``.

``load_splits`` turns a loader's result into named splits (:mod:`zoo.splits`); ``pipeline``
turns one split into a batched, shuffled (training only), augmented (training only), prefetched
``tf.data.Dataset``; :class:`TrainingData` holds an entry's splits and their pipelines.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from zoo.errors import DataError, ZooError
from zoo.registry import Registry
from zoo.specs import DatasetSpec, Entry
from zoo.registry import takes_parameter
from zoo.splits import HOLDOUT_SEED, SPLITS, TRAIN, VALIDATION, holdout_indices

#: Not a split: a batch-level augmentation a loader may return next to its splits.
AUGMENT = "augment"


def load_splits(entry: Entry, registry: Registry) -> dict[str, Any]:
    """Call the entry's dataset loader and check that it returned usable splits."""
    spec = registry.dataset(entry.dataset.name)
    params = {**spec.params, **entry.dataset.params}
    if entry.recipe.validation_split and takes_parameter(spec.loader, "validation_split"):
        # The recipe's one knob: a loader that can hold validation out itself (before decoding
        # files, say) gets it; for any other, prepare_data holds it out of the loaded train split.
        params["validation_split"] = entry.recipe.validation_split
    return call_loader(spec, params)


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
    unknown = set(splits) - {*SPLITS, AUGMENT}
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
    """Hold ``fraction`` of ``train`` out as validation, reproducibly (:func:`zoo.splits.holdout_indices`
    for arrays; the last examples of a ``tf.data.Dataset``)."""
    if isinstance(train, (tuple, list)):
        x, y = train
        keep, held = holdout_indices(len(x), fraction, seed)
        return (x[keep], y[keep]), (x[held], y[held])
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


@dataclass
class TrainingData:
    """An entry's splits as the loader gave them (validation held out of train when the recipe
    asks), the loader's training augmentation, and one ``tf.data`` pipeline per split."""

    splits: dict[str, Any]
    augment: Callable[[Any, Any], Any] | None
    datasets: dict[str, Any] = field(default_factory=dict)
    train_examples: int = 0

    def for_evaluation(self) -> dict[str, Any]:
        """The pipelines to score the model on: the train split as it is (not through the
        augmenting training pipeline), the others as they are."""
        if self.augment is None:
            return dict(self.datasets)
        return {**self.datasets, TRAIN: pipeline(self.splits[TRAIN], self.batch_size, training=False,
                                                 seed=self.seed, cache=False)}

    batch_size: int = 32
    seed: int = 0


def prepare_data(entry: Entry, registry: Registry) -> TrainingData:
    """Load the entry's splits, hold out validation when the recipe asks (and the dataset has
    none), and build every split's pipeline with the recipe's batch size, cache and shuffle."""
    recipe = entry.recipe
    splits = load_splits(entry, registry)
    augment = splits.pop(AUGMENT, None)
    if TRAIN not in splits:
        raise DataError(f"dataset {entry.dataset.name!r} has no train split")
    if VALIDATION not in splits and recipe.validation_split:
        splits[TRAIN], splits[VALIDATION] = carve_validation(splits[TRAIN], recipe.validation_split, HOLDOUT_SEED)
    datasets = {
        name: pipeline(split, recipe.batch_size, training=(name == TRAIN), seed=recipe.seed, cache=recipe.cache,
                       shuffle_buffer=recipe.shuffle_buffer, augment=augment if name == TRAIN else None,
                       autotune=recipe.data_autotune)
        for name, split in splits.items()
    }
    return TrainingData(splits, augment, datasets, count_examples(splits[TRAIN]), recipe.batch_size, recipe.seed)


def evaluation_pipelines(entry: Entry, registry: Registry) -> dict[str, Any]:
    """Every split the entry's dataset provides, batched for scoring (no shuffle, no augment)."""
    splits = load_splits(entry, registry)
    splits.pop(AUGMENT, None)
    return {name: pipeline(split, entry.recipe.batch_size, training=False, seed=entry.recipe.seed, cache=False)
            for name, split in splits.items()}


__all__ = ["AUGMENT", "TrainingData", "prepare_data", "load_splits", "call_loader", "as_dataset", "count_examples",
           "carve_validation", "pipeline", "evaluation_pipelines"]
