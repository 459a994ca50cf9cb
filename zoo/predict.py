"""``zoo predict``: an entry's saved model (or one of its exports) on inputs given on the command line.

Everything comes from the trained model's folder: the input shape, the preprocessing and the
class names from ``inputs.json`` (:mod:`zoo.preprocess`), the model from ``model.keras`` or an
export (``zoo export``). Neither the dataset nor its data folder is needed, and with
``runtime="tflite"`` or ``"onnx"`` TensorFlow is never imported. Inputs are read and checked
before any model is loaded, so a bad input fails fast.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.artifacts import MODEL_FILE, model_dir
from zoo.errors import DataError, IncompatibleError, NotTrainedError
from zoo.preprocess import InputSpec, label_outputs, read_inputs, read_spec
from zoo.runtimes import KerasRuntime, Runtime

RUNTIMES = ("keras", "tflite", "onnx")


def load_spec(name: str) -> InputSpec:
    """What entry ``name``'s saved model takes: its ``inputs.json``, or for a model saved before
    zoo wrote one, its ``entry.json`` (numbers only, as the model takes them)."""
    folder = model_dir(name)
    if not (folder / MODEL_FILE).is_file():
        raise NotTrainedError(f"entry {name!r} has not been trained yet (no {folder / MODEL_FILE}); "
                              f"run `zoo train {name}` first")
    spec = read_spec(folder)
    if spec is not None:
        return spec
    try:
        data = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
        return InputSpec(name, tuple(data["input_shape"]), data["task"], int(data["num_classes"]),
                         data.get("class_names"), None, "float32", data["dataset"]["name"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{folder} has neither a readable inputs.json nor entry.json ({exc}); train it again") from None


def _legacy_decode(name: str) -> Any:
    """The dataset's own ``decode`` for a model saved without preprocessing (needs the registry)."""
    def decode(path: str) -> Any:
        from zoo.export import saved_entry
        from zoo.registry import get_registry

        entry = saved_entry(name)
        spec = get_registry().dataset(entry.dataset.name)
        if spec.decode is None:
            raise DataError(f"{path}: dataset {spec.name!r} cannot decode files; give numbers")
        return spec.decode(path, **{**spec.params, **entry.dataset.params})

    return decode


def open_runtime(name: str, runtime: str = "keras", quantization: str | None = None,
                 model_path: str | Path | None = None, quiet_tf: bool = True) -> Runtime:
    """The model of entry ``name`` in ``runtime``: ``keras`` (``model.keras``, a direct call),
    ``tflite`` or ``onnx`` (an export: ``model_path``, else the one ``zoo export`` wrote)."""
    if runtime not in RUNTIMES:
        raise IncompatibleError(f"unknown runtime {runtime!r}; one of {', '.join(RUNTIMES)}")
    if runtime == "keras":
        if model_path or (quantization and quantization != "none"):
            raise IncompatibleError("--model and --quantize choose an export: use them with --runtime tflite or onnx")
        from zoo.artifacts import load_model
        from zoo.tfruntime import import_tensorflow

        import_tensorflow(verbose=not quiet_tf)
        return KerasRuntime(load_model(name), "call", model_dir(name) / MODEL_FILE)
    from zoo.export import find_export
    from zoo.runtimes import open_export

    if model_path:
        path = Path(model_path).expanduser()
        if not path.exists():
            raise DataError(f"--model {model_path}: no such file")
        return open_export(runtime, path, quantization or "none")
    path, found = find_export(name, runtime, quantization)
    return open_export(runtime, path, found)


def predict(name: str, inputs: list[str], runtime: str = "keras", top_k: int = 3, quantization: str | None = None,
            model_path: str | Path | None = None, quiet_tf: bool = True) -> list[dict[str, Any]]:
    """Predict with entry ``name``'s saved model; one dict per input: ``input``, ``output`` (the
    whole output vector) and, for classifiers, ``top`` (labels with probabilities) and ``label``."""
    spec = load_spec(name)
    batch = read_inputs(list(inputs), spec, decode=None if spec.preprocessing else _legacy_decode(name))
    model = open_runtime(name, runtime, quantization, model_path, quiet_tf)
    outputs = model.run(batch)
    results = label_outputs(outputs, spec, top_k)
    return [{"input": item, **result} for item, result in zip(inputs, results, strict=True)]


def parse_inputs(entry: Any, registry: Any, inputs: list[str]) -> Any:
    """Command-line inputs as a batch for a resolved ``entry`` (its preprocessing applied)."""
    decode = None
    dataset = registry.dataset(entry.dataset.name)
    if dataset.decode is not None and not entry.preprocessing:
        def decode(path: str) -> Any:
            return dataset.decode(path, **{**dataset.params, **entry.dataset.params})
    return read_inputs(list(inputs), InputSpec.from_entry(entry), decode)


__all__ = ["RUNTIMES", "load_spec", "open_runtime", "predict", "parse_inputs"]
