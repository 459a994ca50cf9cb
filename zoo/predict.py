"""``zoo predict``: an entry's saved model on inputs given on the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.artifacts import load_model
from zoo.errors import DataError
from zoo.registry import Registry
from zoo.runner import setup
from zoo.specs import Entry


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
