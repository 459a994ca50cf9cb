"""An HDF5 cache of a frozen base's features, for the :class:`~zoo.phases.TrainHead` phase.

With ``feature_cache = true`` in the recipe, a model that follows the frozen-base convention
(:mod:`zoo.frozen_base`) trains its head on cached features instead of running the base on every
example of every epoch:

1. ``base`` runs once over every split (batched) and ``(features, labels)`` go to
   ``ZOO_HOME/cache/features/<key>.h5``; the key hashes the base's config and weights (so the cut
   layer and the weights file are in it), the dataset's name, params and location, the split,
   the validation hold-out and the precision policy;
2. ``head`` trains and is scored on the cached features (later runs read the file only);
3. the runner saves the full model (base + trained head, sharing the head's layers), so
   ``zoo predict`` and ``zoo evaluate`` work on raw inputs.

A dataset that augments its training batches turns the cache off: features cached once would
show the head the same un-augmented images every epoch, so augmentation would do nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.compiling import compile_model, total_steps
from zoo.errors import IncompatibleError, ZooWarning
from zoo.frozen_base import BASE_NAME, HEAD_NAME, split_frozen_base
from zoo.pipeline import TrainingData, pipeline
from zoo.registry import Registry
from zoo.splits import HOLDOUT_SEED
from zoo.specs import Entry

FORMAT_VERSION = 1
log = logging.getLogger(__name__)


def features_dir() -> Path:
    """Where cached features live: ``ZOO_HOME/cache/features``."""
    return settings.cache_dir() / "features"


# -- keys and files ------------------------------------------------------------------------------
def base_fingerprint(base: Any) -> str:
    """A digest of the base's architecture (config) and weight values."""
    digest = hashlib.sha256(json.dumps(base.get_config(), sort_keys=True, default=str).encode())
    for weight in base.weights:
        value = weight.numpy()
        digest.update(f"{weight.path}:{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def cache_key(base_digest: str, entry: Entry, registry: Registry, split: str) -> tuple[str, dict[str, Any]]:
    """The file key for one split and the facts it was made from (stored in the file)."""
    spec = registry.dataset(entry.dataset.name)
    params = {**spec.params, **entry.dataset.params}
    location = None
    if spec.locate is not None:
        try:
            location = spec.locate(**params)
        except Exception as exc:  # locate is advisory: a failure only makes the key less specific
            location = f"locate failed: {type(exc).__name__}"
    recipe = entry.recipe
    facts = {
        "format": FORMAT_VERSION,
        "base": base_digest,
        "dataset": entry.dataset.name,
        "dataset_params": params,
        "location": location,
        "split": split,
        "validation_split": recipe.validation_split,
        "holdout_seed": HOLDOUT_SEED if recipe.validation_split else None,
        "mixed_precision": recipe.mixed_precision,
    }
    key = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return key, facts


def base_forward(base: Any) -> Any:
    """``base(x, training=False)`` as one ``tf.function`` traced once for any batch size (a
    trace of InceptionV3 takes seconds; a last, smaller batch must not trigger another)."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *base.inputs[0].shape[1:]), base.inputs[0].dtype)
    traced = tf.function(lambda x: base(x, training=False), input_signature=[spec])
    return lambda x: traced(tf.cast(x, spec.dtype))


def extract(forward: Any, dataset: Any, path: Path, facts: dict[str, Any]) -> None:
    """Run ``forward`` (the base) over a batched ``(x, y)`` dataset once and write
    ``features``/``labels`` to the HDF5 file ``path`` (written aside, then renamed: a crash
    never leaves half a cache)."""
    import h5py
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            features = labels = None
            count = 0
            for x, y in dataset:
                batch = np.asarray(forward(x), dtype="float32")
                y = np.asarray(y)
                if features is None:
                    features = f.create_dataset("features", shape=(0, *batch.shape[1:]), maxshape=(None, *batch.shape[1:]),
                                                dtype="float32", chunks=(max(1, len(batch)), *batch.shape[1:]))
                    labels = f.create_dataset("labels", shape=(0, *y.shape[1:]), maxshape=(None, *y.shape[1:]), dtype=y.dtype)
                features.resize(count + len(batch), axis=0)
                labels.resize(count + len(batch), axis=0)
                features[count:] = batch
                labels[count:] = y
                count += len(batch)
            if features is None:
                raise IncompatibleError(f"feature cache: split {facts['split']!r} of dataset {facts['dataset']!r} is empty")
            f.attrs["facts"] = json.dumps(facts, sort_keys=True, default=str)
            f.attrs["examples"] = count
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read(path: Path) -> tuple[Any, Any] | None:
    """``(features, labels)`` from a cache file, or ``None`` when it is unreadable."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return f["features"][...], f["labels"][...]
    except (OSError, KeyError):
        return None


def cached_features(forward: Any, entry: Entry, registry: Registry, split_name: str, raw: Any,
                    base_digest: str) -> tuple[tuple[Any, Any], Path, bool]:
    """One split's ``(features, labels)``: read from the cache, or computed and stored first.
    Returns them, the file, and whether it was a hit."""
    key, facts = cache_key(base_digest, entry, registry, split_name)
    path = features_dir() / f"{key}.h5"
    if path.exists():
        data = read(path)
        if data is not None:
            return data, path, True
        warnings.warn(f"feature cache {path} is unreadable; recomputing it", ZooWarning, stacklevel=2)
    batched = pipeline(raw, entry.recipe.batch_size, training=False, seed=entry.recipe.seed, cache=False)
    extract(forward, batched, path, facts)
    data = read(path)
    if data is None:
        raise IncompatibleError(f"feature cache {path} could not be read back after writing it")
    return data, path, False


def head_on_cached_features(model: Any, entry: Entry, registry: Registry,
                            data: TrainingData) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
    """``(head trainer, batched cached datasets, info)`` to train the head of ``model`` (compiled
    already) on, or ``None`` (with a warning) when the dataset augments and the cache is off.
    ``IncompatibleError`` when ``model`` does not follow the frozen-base convention."""
    parts = split_frozen_base(model)
    if parts is None:
        names = [layer.name for layer in model.layers]
        if BASE_NAME in names and HEAD_NAME in names and model.get_layer(BASE_NAME).trainable_weights:
            # The shape fits but the base trains: cached features would go stale after one step.
            why = "its base has trainable weights (a trainable/fine-tune setting?); freeze it or set feature_cache = false"
        else:
            why = f"architecture {entry.architecture.name!r} does not build one"
        raise IncompatibleError(
            f"entry {entry.name!r}: feature_cache = true needs a model with a frozen base "
            f"(nested models named {BASE_NAME!r} and {HEAD_NAME!r}); {why}"
        )
    if data.augment is not None:
        warnings.warn(f"feature cache off for {entry.name}: dataset {entry.dataset.name!r} augments training "
                      f"images, and cached features would never change", ZooWarning, stacklevel=2)
        return None
    base, head = parts
    digest = base_fingerprint(base)
    forward = base_forward(base)
    recipe = entry.recipe
    datasets, info = {}, {"files": {}, "hits": {}}
    steps = None
    for name, raw in data.splits.items():
        (features, labels), path, hit = cached_features(forward, entry, registry, name, raw, digest)
        if name == "train":
            # The head trains on as many examples as the full model would: a schedule keeps its shape.
            steps = total_steps(entry, int(features.shape[0]))
        info["files"][name], info["hits"][name] = str(path), hit
        log.info("feature cache %s for %s: %d examples → %s", "hit" if hit else "stored", name,
                 features.shape[0], path)
        datasets[name] = pipeline((features, labels), recipe.batch_size, training=(name == "train"), seed=recipe.seed,
                                  cache=recipe.cache, shuffle_buffer=recipe.shuffle_buffer,
                                  autotune=recipe.data_autotune)
    trainer = head_trainer(head)
    # The trainer takes over the full model's optimizer (same recipe; the same schedule, since it
    # sees as many examples), so the saved full model carries the trained optimizer state and
    # loads without Keras's "Skipping variable loading for optimizer" warning. Compiled under the
    # same tf.distribute strategy as the model's variables.
    with head.distribute_strategy.scope():
        compile_model(trainer, entry, steps, head_only=True, optimizer=model.optimizer)
    return trainer, datasets, info


def head_trainer(head: Any) -> Any:
    """A model over the head's own layers (same weight objects) to compile and fit on cached
    features, so that the head nested in the full model stays uncompiled: a compiled nested model
    is saved with its own compile config and optimizer slot, and loading it then warns about an
    optimizer with no saved state. A head without symbolic inputs (subclassed) is used as it is."""
    import keras

    try:
        return keras.Model(head.inputs, head.outputs, name=f"{HEAD_NAME}_on_cached_features")
    except (AttributeError, ValueError):
        return head


__all__ = ["features_dir", "cache_key", "base_fingerprint", "cached_features", "head_on_cached_features",
           "head_trainer"]
