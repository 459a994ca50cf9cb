"""Models with a frozen base: an HDF5 cache of the base's features, and fine-tuning.

The core knows no model; it knows one convention, which a builder opts into:

* the model is ``Input → base → head``: its only layers besides the input are a nested
  ``keras.Model`` named ``"base"`` and a nested ``keras.Model`` named ``"head"``, called as
  ``head(base(x, training=False))``;
* ``base`` has no trainable weights (frozen, e.g. InceptionV3 cut at ``mixed7`` with its
  preprocessing) and is deterministic at inference, so its output for an example never changes.

The names survive ``model.save``/``keras.saving.load_model``, so a saved model is still
recognised. With ``feature_cache = true`` in the recipe the runner then

1. runs ``base`` once over every split (batched) and stores ``(features, labels)`` in
   ``ZOO_HOME/cache/features/<key>.h5``; the key hashes the base's config and weights (so the
   cut layer and the weights file are in it), the dataset's name, params and location, the
   split, the validation carve and the precision policy;
2. trains and evaluates ``head`` on the cached features (later runs read the file only);
3. saves the full model (base + trained head, sharing the head's layers), so ``zoo predict``
   and ``zoo evaluate`` work on raw inputs.

A dataset that augments its training batches turns the cache off: features cached once would
show the head the same un-augmented images every epoch, so augmentation would do nothing.

A builder may also attach a :class:`FineTune` plan as ``model.zoo_fine_tune``: after the first
phase the runner unfreezes the base from that layer on, recompiles at the plan's (lower)
learning rate and trains the whole model for the plan's epochs on raw inputs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.errors import IncompatibleError
from zoo.registry import Registry
from zoo.specs import Entry

BASE_NAME = "base"
HEAD_NAME = "head"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FineTune:
    """Second training phase: unfreeze the base from layer ``from_layer`` on (in the base's
    flattened layer order) and train ``epochs`` more epochs at ``learning_rate``."""

    from_layer: str
    epochs: int = 1
    learning_rate: float = 1e-5


def features_dir() -> Path:
    """Where cached features live: ``ZOO_HOME/cache/features``."""
    return settings.cache_dir() / "features"


def split_frozen_base(model: Any) -> tuple[Any, Any] | None:
    """``(base, head)`` when ``model`` follows the frozen-base convention, else ``None``."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    names = [layer.name for layer in layers]
    if names != [BASE_NAME, HEAD_NAME] or not all(isinstance(layer, keras.Model) for layer in layers):
        return None
    base, head = layers
    if base.trainable_weights:
        return None
    return base, head


def flat_layers(model: Any) -> list[Any]:
    """Every leaf layer of ``model`` in order, nested models expanded."""
    import keras

    out: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out.extend(flat_layers(layer))
        else:
            out.append(layer)
    return out


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
        "seed": recipe.seed if recipe.validation_split else None,
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
    from zoo.runner import pipeline

    key, facts = cache_key(base_digest, entry, registry, split_name)
    path = features_dir() / f"{key}.h5"
    if path.exists():
        data = read(path)
        if data is not None:
            return data, path, True
        print(f"zoo: note: feature cache {path} is unreadable; recomputing it", file=sys.stderr)
    batched = pipeline(raw, entry.recipe.batch_size, training=False, seed=entry.recipe.seed, cache=False)
    extract(forward, batched, path, facts)
    data = read(path)
    if data is None:
        raise IncompatibleError(f"feature cache {path} could not be read back after writing it")
    return data, path, False


def prepare(model: Any, entry: Entry, registry: Registry, splits: dict[str, Any],
            augment: Any) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
    """For ``recipe.feature_cache``: ``(head trainer, batched cached datasets, info)`` to train the
    head on (:func:`head_trainer`, compiled), or ``None`` (with a note) when augmentation turns the
    cache off."""
    from zoo.runner import compile_model, pipeline, total_steps

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
    if augment is not None:
        print(f"zoo: note: feature cache off for {entry.name}: dataset {entry.dataset.name!r} augments "
              f"training images, and cached features would never change", file=sys.stderr)
        return None
    base, head = parts
    digest = base_fingerprint(base)
    forward = base_forward(base)
    recipe = entry.recipe
    datasets, info = {}, {"files": {}, "hits": {}}
    steps = None
    for name, raw in splits.items():
        (features, labels), path, hit = cached_features(forward, entry, registry, name, raw, digest)
        if name == "train":
            # The head trains on as many examples as the full model would: a schedule keeps its shape.
            steps = total_steps(entry, int(features.shape[0]))
        info["files"][name], info["hits"][name] = str(path), hit
        print(f"zoo: feature cache {'hit' if hit else 'stored'} for {name}: {features.shape[0]} examples "
              f"→ {path}", file=sys.stderr)
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


# -- fine-tuning ---------------------------------------------------------------------------------
def unfreeze_from(model: Any, from_layer: str) -> int:
    """Make the base's layers from ``from_layer`` on trainable (earlier ones stay frozen);
    returns how many layers were unfrozen. BatchNorm keeps inference mode because the base is
    called with ``training=False``."""
    base = model.get_layer(BASE_NAME)
    layers = flat_layers(base)
    names = [layer.name for layer in layers]
    if from_layer not in names:
        from zoo.errors import UnknownNameError

        raise UnknownNameError("layer of the base", from_layer, names, where="fine_tune_from")
    start = names.index(from_layer)
    base.trainable = True  # recursive: nested models and their layers
    for i, layer in enumerate(layers):
        layer.trainable = i >= start
    return len(layers) - start


def fine_tune(model: Any, entry: Entry, plan: FineTune, datasets: dict[str, Any], callbacks: list[Any],
              history: dict[str, list[float]], verbose: Any = "auto") -> dict[str, list[float]]:
    """Phase two: unfreeze the top of the base, recompile at the plan's learning rate, train
    ``plan.epochs`` more epochs on raw inputs; returns the history of both phases."""
    from zoo.runner import compile_model

    if plan.epochs < 1:
        return history
    done = max((len(v) for v in history.values()), default=0)
    unfreeze_from(model, plan.from_layer)
    tuned = dataclasses.replace(entry, recipe=dataclasses.replace(entry.recipe, learning_rate=plan.learning_rate,
                                                                  lr_schedule=None))
    with model.distribute_strategy.scope():
        compile_model(model, tuned)
    second = model.fit(
        datasets["train"],
        validation_data=datasets.get("validation"),
        epochs=done + plan.epochs,
        initial_epoch=done,
        steps_per_epoch=entry.recipe.steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )
    merged = {k: list(v) for k, v in history.items()}
    for key, values in second.history.items():
        merged.setdefault(key, []).extend(float(v) for v in values)
    return merged


__all__ = ["FineTune", "BASE_NAME", "HEAD_NAME", "split_frozen_base", "prepare", "fine_tune", "unfreeze_from",
           "features_dir", "cache_key", "base_fingerprint"]
