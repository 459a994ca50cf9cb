"""A trained entry on disk: ``ZOO_HOME/models/NAME/`` with ``model.keras``, ``model.weights.h5``,
``history.json``, ``metrics.json``, ``entry.json``, ``inputs.json`` (what ``zoo predict`` needs
without the dataset: input shape and dtype, task, class names, preprocessing; :mod:`zoo.preprocess`)
and ``curves.png``, swapped in atomically. ``zoo export`` adds ``export/`` (:mod:`zoo.export`)."""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.errors import DataError, NotTrainedError, ZooWarning
from zoo.preprocess import INPUTS_FILE, InputSpec
from zoo.specs import Entry

MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"


def model_dir(entry_name: str) -> Path:
    """Where an entry's trained model lives: ``ZOO_HOME/models/NAME``."""
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
    _write_json(staging / INPUTS_FILE, input_spec(model, entry).to_dict())
    try:
        from zoo.plots import plot_history

        plot_history(history, staging / "curves.png", title=entry.name)
    except ImportError:
        warnings.warn("matplotlib is not installed, so no curves.png (pip install 'zoo-models[plot]')", ZooWarning,
                      stacklevel=2)
    old = final.parent / f".{entry.name}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def input_spec(model: Any, entry: Entry) -> InputSpec:
    """What the model takes (shape and dtype of its input) and how its outputs read, with the
    dataset's class names and preprocessing: ``inputs.json``."""
    dtype = "float32"
    try:
        dtype = str(getattr(model.inputs[0].dtype, "name", model.inputs[0].dtype))
    except (AttributeError, IndexError, TypeError, ValueError):
        pass
    return InputSpec.from_entry(entry, dtype=dtype)


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


__all__ = ["MODEL_FILE", "WEIGHTS_FILE", "model_dir", "save_artifacts", "input_spec", "load_model"]
