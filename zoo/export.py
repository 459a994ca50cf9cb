"""``zoo export``: a trained entry's Keras model as a SavedModel, a TFLite file or an ONNX file,
checked against the Keras model before the command says it worked.

- **SavedModel** through Keras's own ``model.export()`` (a ``serve`` endpoint);
- **TFLite** through ``tf.lite.TFLiteConverter`` (from that SavedModel), with ``--quantize``
  ``none`` (float32), ``float16`` (float16 weights), ``dynamic`` (int8 weights, float
  activations) or ``int8`` (full integer: every op int8, calibrated on a representative sample
  of the *training* split; the file keeps float32 inputs and outputs, quantized inside), run with
  the LiteRT interpreter;
- **ONNX** through ``tf2onnx`` from a ``tf.function`` of the model (its Keras 3 converter
  ``from_keras`` fails on Keras 3 models), run with ONNX Runtime.

Exports go to ``ZOO_HOME/models/NAME/export/`` (:func:`export_path`), where ``zoo predict
--runtime`` and ``zoo bench-inference`` find them, or to ``-o PATH``; each is written to a
temporary name and swapped in. Parity: the export and the Keras model run on the same test
examples (the dataset's test split, else validation, else train); float formats must agree
within ``max_diff`` (largest absolute difference of any output), quantized ones on the top-1
class of at least ``min_agreement`` of the examples (binary: the side of 0.5; regression: a
difference within ``max_rel_diff`` of the largest output).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.artifacts import MODEL_FILE, model_dir
from zoo.errors import DataError, IncompatibleError, NotTrainedError
from zoo.runtimes import open_export, path_size, require

FORMATS = ("saved_model", "tflite", "onnx")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
EXPORT_DIR = "export"
MANIFEST = "exports.json"
ONNX_OPSET = 17
DEFAULT_MAX_DIFF = 1e-4
DEFAULT_MIN_AGREEMENT = 0.98
DEFAULT_MAX_REL_DIFF = 0.05


@dataclass
class Parity:
    """How an export's outputs compare with the Keras model's on the same examples."""

    examples: int
    split: str
    max_abs_diff: float
    agreement: float | None          # top-1 agreement (classifiers), quantized formats
    check: str                       # "max_abs_diff" | "agreement" | "relative_diff"
    value: float
    tolerance: float
    passed: bool
    extra_failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the user, e.g. ``parity on 256 test examples vs Keras: max |diff| 2.2e-08 ≤ 1e-04: ok``."""
        where = f"parity on {self.examples} {self.split} examples vs Keras"
        if self.check == "agreement":
            text = f"top-1 agreement {self.value:.2%} ≥ {self.tolerance:.2%} (max |diff| {self.max_abs_diff:.2g})"
        elif self.check == "relative_diff":
            text = f"max |diff| {self.max_abs_diff:.3g} ≤ {self.tolerance:.3g} ({DEFAULT_MAX_REL_DIFF:.0%} of the largest output)"
        else:
            text = f"max |diff| {self.max_abs_diff:.2g} ≤ {self.tolerance:.0e}"
        extra = "".join(f"; {f}" for f in self.extra_failures)
        return f"{where}: {text}{extra}: {'ok' if self.passed else 'FAILED'}"


@dataclass
class ExportResult:
    entry: str
    format: str
    quantization: str
    path: str
    size_bytes: int
    seconds: float
    parity: Parity

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_path(name: str, fmt: str, quantization: str = "none") -> Path:
    """Where ``zoo export`` puts an export by default (and ``zoo predict --runtime`` looks)."""
    folder = model_dir(name) / EXPORT_DIR
    if fmt == "saved_model":
        return folder / "saved_model"
    suffix = "" if quantization == "none" else f"-{quantization}"
    return folder / f"model{suffix}.{fmt}"


def check_combination(fmt: str, quantization: str) -> None:
    if fmt not in FORMATS:
        raise IncompatibleError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if quantization not in QUANTIZATIONS:
        raise IncompatibleError(f"unknown quantization {quantization!r}; one of {', '.join(QUANTIZATIONS)}")
    if quantization != "none" and fmt != "tflite":
        raise IncompatibleError(f"--quantize {quantization} is for --format tflite; a {fmt} export keeps the "
                                "model's float32 weights")


def saved_entry(name: str) -> Any:
    """The entry as it was trained (``entry.json`` next to the model)."""
    from zoo.specs import Entry

    folder = model_dir(name)
    path = folder / "entry.json"
    if not (folder / MODEL_FILE).is_file() or not path.is_file():
        raise NotTrainedError(f"entry {name!r} has not been trained yet (no {folder / MODEL_FILE}); "
                              f"run `zoo train {name}` first")
    try:
        return Entry.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is unreadable: {exc}") from None


# -- examples ------------------------------------------------------------------------------------------
def take_examples(split: Any, count: int, seed: int | None = None) -> tuple[Any, Any]:
    """Up to ``count`` examples of a split as numpy ``(x, y)``; a seeded random sample when
    ``seed`` is given (a shuffle over up to 2,000 examples of a ``tf.data`` split)."""
    import numpy as np

    if isinstance(split, (tuple, list)):
        x, y = np.asarray(split[0]), np.asarray(split[1])
        index = np.arange(len(x)) if seed is None else np.random.default_rng(seed).permutation(len(x))
        return x[index[:count]], y[index[:count]]
    ds = split if seed is None else split.shuffle(2000, seed=seed, reshuffle_each_iteration=False)
    pairs = list(ds.take(count).as_numpy_iterator())
    if not pairs:
        return np.zeros((0,)), np.zeros((0,))
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def parity_examples(splits: dict[str, Any], count: int) -> tuple[str, Any, Any]:
    """The first ``count`` examples of the test split (else validation, else train)."""
    from zoo.splits import TEST, TRAIN, VALIDATION

    for name in (TEST, VALIDATION, TRAIN):
        if name in splits:
            x, y = take_examples(splits[name], count)
            return name, x.astype("float32"), y
    raise DataError("the dataset has no split to check parity on")


def calibration_sample(splits: dict[str, Any], count: int) -> Any:
    """A representative sample of the training split (seeded), for int8 calibration."""
    from zoo.splits import TRAIN

    if TRAIN not in splits:
        raise DataError("int8 calibration needs the dataset's train split, which it does not have")
    return take_examples(splits[TRAIN], count, seed=0)[0].astype("float32")


# -- converters --------------------------------------------------------------------------------------
def _quiet_converters() -> None:
    for name in ("tf2onnx", "absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _saved_model(model: Any, target: Path) -> None:
    model.export(str(target), format="tf_saved_model", verbose=False)


def _tflite(model: Any, quantization: str, calibration: Any, scratch: Path) -> bytes:
    import tensorflow as tf

    _saved_model(model, scratch / "saved_model")  # from_keras_model prints to stdout; this does not
    converter = tf.lite.TFLiteConverter.from_saved_model(str(scratch / "saved_model"))
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        def representative() -> Any:
            for i in range(len(calibration)):
                yield [calibration[i:i + 1]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def _onnx(model: Any, target: Path) -> None:
    import tensorflow as tf

    tf2onnx = require("tf2onnx", "ONNX export")
    spec = [tf.TensorSpec((None, *model.inputs[0].shape[1:]), model.inputs[0].dtype, name="input")]
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    tf2onnx.convert.from_function(function, input_signature=spec, opset=ONNX_OPSET, output_path=str(target))


def _swap_in(tmp: Path, final: Path) -> None:
    """Put ``tmp`` (a file or a folder) at ``final`` in one rename (the old one moved aside first)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if tmp.is_dir() and final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


# -- parity ------------------------------------------------------------------------------------------
def compare(reference: Any, outputs: Any, task: str, quantized: bool, split: str, *, max_diff: float | None,
            min_agreement: float, max_rel_diff: float) -> Parity:
    """Parity of ``outputs`` with the Keras ``reference`` outputs (see the module docstring)."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if ref.shape != out.shape:
        raise DataError(f"the export's outputs have shape {out.shape}, the Keras model's {ref.shape}")
    diff = float(np.abs(ref - out).max()) if ref.size else 0.0
    agreement = None
    if task == "multiclass":
        agreement = float(np.mean(ref.argmax(axis=1) == out.argmax(axis=1))) if len(ref) else 1.0
    elif task == "binary":
        agreement = float(np.mean((ref[:, 0] >= 0.5) == (out[:, 0] >= 0.5))) if len(ref) else 1.0
    extra: list[str] = []
    if not quantized:
        tolerance = DEFAULT_MAX_DIFF if max_diff is None else max_diff
        check, value, passed = "max_abs_diff", diff, diff <= tolerance
    elif agreement is not None:
        check, value, tolerance = "agreement", agreement, min_agreement
        passed = agreement >= min_agreement
        if max_diff is not None and diff > max_diff:  # asked for explicitly: checked too
            passed = False
            extra.append(f"max |diff| {diff:.2g} > {max_diff:.0e}")
    else:
        tolerance = max_diff if max_diff is not None else max_rel_diff * max(float(np.abs(ref).max()), 1e-12)
        check, value, passed = ("max_abs_diff" if max_diff is not None else "relative_diff"), diff, diff <= tolerance
    return Parity(len(ref), split, diff, agreement, check, float(value), float(tolerance), bool(passed), extra)


def _write_manifest(name: str, result: ExportResult) -> None:
    folder = model_dir(name) / EXPORT_DIR
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        manifest = {}
    manifest[f"{result.format}:{result.quantization}"] = {**result.to_dict(), "created": time.time()}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def export(name: str, fmt: str, quantization: str = "none", output: str | Path | None = None, *,
           max_diff: float | None = None, min_agreement: float = DEFAULT_MIN_AGREEMENT,
           max_rel_diff: float = DEFAULT_MAX_REL_DIFF, examples: int = 256, calibration: int = 200,
           quiet_tf: bool = True, model: Any = None, splits: dict[str, Any] | None = None) -> ExportResult:
    """Export entry ``name``'s trained model and check its parity; the result says whether the
    check passed (the caller decides what a failure means; the file is kept either way).

    ``model`` and ``splits``: the loaded Keras model and the dataset's splits, when the caller
    has them already (``zoo bench-inference`` exports several formats of one model)."""
    check_combination(fmt, quantization)
    if fmt == "tflite":  # before any slow step: a missing package is named at once
        require("litert", "checking a TFLite export", load=False)
    elif fmt == "onnx":
        require("tf2onnx", "ONNX export", load=False)
        require("onnxruntime", "checking an ONNX export", load=False)
    entry = saved_entry(name)
    if model is None or splits is None:
        model, splits = load_for_export(entry, quiet_tf)
    import numpy as np

    split, x, _ = parity_examples(splits, examples)
    if not len(x):
        raise DataError(f"entry {name!r}: the {split} split is empty; nothing to check parity on")
    sample = calibration_sample(splits, calibration) if quantization == "int8" else None
    final = Path(output).expanduser() if output else export_path(name, fmt, quantization)
    final.parent.mkdir(parents=True, exist_ok=True)
    _quiet_converters()
    from zoo.tfruntime import _captured_stderr as captured_stderr

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".zoo-export-", dir=final.parent) as scratch_name:
        scratch = Path(scratch_name)
        tmp = scratch / f"out-{final.name}"
        with captured_stderr(replay=not quiet_tf):
            if fmt == "saved_model":
                _saved_model(model, tmp)
            elif fmt == "tflite":
                tmp.write_bytes(_tflite(model, quantization, sample, scratch))
            else:
                _onnx(model, tmp)
        _swap_in(tmp, final)
    seconds = time.perf_counter() - start
    runtime = open_export(fmt, final, quantization)
    reference = np.concatenate([np.asarray(model(x[i:i + 64], training=False)) for i in range(0, len(x), 64)])
    outputs = np.concatenate([runtime.run(x[i:i + 64]) for i in range(0, len(x), 64)])
    parity = compare(reference, outputs, entry.task, quantization != "none", split, max_diff=max_diff,
                     min_agreement=min_agreement, max_rel_diff=max_rel_diff)
    result = ExportResult(name, fmt, quantization, str(final), path_size(final), seconds, parity)
    if not output:
        _write_manifest(name, result)
    return result


def load_for_export(entry: Any, quiet_tf: bool = True) -> tuple[Any, dict[str, Any]]:
    """The trained Keras model and the dataset's splits, for parity and calibration."""
    from zoo.artifacts import load_model
    from zoo.pipeline import AUGMENT, load_splits
    from zoo.registry import get_registry
    from zoo.runner import setup

    setup(entry, verbose=not quiet_tf)
    model = load_model(entry.name)
    splits = load_splits(entry, get_registry())
    splits.pop(AUGMENT, None)
    return model, splits


def find_export(name: str, fmt: str, quantization: str | None = None) -> tuple[Path, str]:
    """The export ``zoo predict --runtime`` uses: ``quantization``'s, or the float32 one, else
    the first quantized one there is; a one-line error with the command that makes it."""
    order = [quantization] if quantization else list(QUANTIZATIONS if fmt == "tflite" else ("none",))
    for q in order:
        path = export_path(name, fmt, q)
        if path.exists():
            return path, q
    if not (model_dir(name) / MODEL_FILE).is_file():
        raise NotTrainedError(f"entry {name!r} has not been trained yet (no {model_dir(name) / MODEL_FILE}); "
                              f"run `zoo train {name}` first")
    flag = f" --quantize {quantization}" if quantization and quantization != "none" else ""
    raise NotTrainedError(f"entry {name!r} has no {fmt}{' ' + quantization if flag else ''} export "
                          f"(no {export_path(name, fmt, quantization or 'none')}); run `zoo export {name} "
                          f"--format {fmt}{flag}` first")


__all__ = ["FORMATS", "QUANTIZATIONS", "Parity", "ExportResult", "export", "export_path", "find_export", "compare",
           "saved_entry", "load_for_export", "check_combination", "parity_examples", "calibration_sample",
           "take_examples"]
