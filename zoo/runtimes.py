"""Runtimes that run a trained model or one of its exports on a float32 batch.

One interface, :class:`Runtime` (``run(batch) -> outputs``), for the Keras model (three ways to
call it: ``model.predict``, a direct call, a ``tf.function``-compiled call), a SavedModel (its
``serve`` endpoint), a TFLite file (the LiteRT interpreter, ``ai-edge-litert``) and an ONNX file
(``onnxruntime``). Importing this module imports neither TensorFlow nor any runtime: each
imports its own package when opened, and the TFLite and ONNX runtimes never import TensorFlow,
so ``zoo predict --runtime tflite`` starts without it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zoo.errors import DataError, ZooError

EXTRA = "pip install 'zoo-models[export]'"
#: package → (import name, pip name)
PACKAGES = {
    "litert": ("ai_edge_litert", "ai-edge-litert"),
    "onnxruntime": ("onnxruntime", "onnxruntime"),
    "tf2onnx": ("tf2onnx", "tf2onnx"),
    "pillow": ("PIL", "pillow"),
}


class MissingPackageError(ZooError):
    """An optional package zoo needs for this command is not installed."""


def require(key: str, what: str, load: bool = True) -> Any:
    """Import an optional package (``load=False``: only check that it is installed, without
    importing it: tf2onnx imports TensorFlow), or a one-line error naming its install line."""
    import importlib
    import importlib.util

    module, pip_name = PACKAGES[key]
    try:
        if not load:
            if importlib.util.find_spec(module) is None:
                raise ImportError(module)
            return None
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(f"{what} needs {pip_name}, which is not installed: {EXTRA} "
                                  f"(or: pip install {pip_name})") from None


def _quiet() -> Any:
    """C++ notices on stderr captured (replayed only if what runs inside fails)."""
    from zoo.tfruntime import _captured_stderr  # imports no TensorFlow

    return _captured_stderr(replay=False)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def path_size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (a SavedModel)."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


class Runtime:
    """A model ready to run: ``run(batch)`` returns the outputs as a numpy array."""

    runtime = "?"
    format = "?"
    quantization = "none"
    path: Path | None = None

    def run(self, batch: Any) -> Any:
        raise NotImplementedError

    @property
    def size_bytes(self) -> int | None:
        return path_size(self.path) if self.path is not None and Path(self.path).exists() else None

    def describe(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "format": self.format, "quantization": self.quantization,
                "path": str(self.path) if self.path else None, "size_bytes": self.size_bytes}


class KerasRuntime(Runtime):
    """The Keras model, called as ``mode`` says: ``predict`` (``model.predict``), ``call`` (a
    direct call in eager mode) or ``function`` (a ``tf.function`` with a batch-agnostic signature)."""

    format = "keras"
    MODES = {"predict": "keras model.predict", "call": "keras direct call", "function": "keras tf.function"}

    def __init__(self, model: Any, mode: str = "call", path: Path | None = None):
        if mode not in self.MODES:
            raise ValueError(f"unknown Keras mode {mode!r}; one of {', '.join(self.MODES)}")
        self.model, self.mode, self.path = model, mode, path
        self.runtime = self.MODES[mode]
        if mode == "function":
            import tensorflow as tf

            spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), model.inputs[0].dtype)
            self._fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def run(self, batch: Any) -> Any:
        import numpy as np

        if self.mode == "predict":
            return self.model.predict(batch, verbose=0, batch_size=max(1, len(batch)))
        if self.mode == "function":
            return self._fn(batch).numpy()
        return np.asarray(self.model(batch, training=False))


class SavedModelRuntime(Runtime):
    """A SavedModel from ``model.export()``, run through its ``serve`` endpoint (TensorFlow)."""

    runtime, format = "tensorflow saved_model", "saved_model"

    def __init__(self, path: Path):
        from zoo.tfruntime import import_tensorflow

        tf = import_tensorflow()
        self.path = Path(path)
        try:
            self._loaded = tf.saved_model.load(str(path))
            self._fn = self._loaded.serve
        except (OSError, ValueError, AttributeError) as exc:
            raise DataError(f"cannot load the SavedModel {path}: {type(exc).__name__}: {exc}") from None

    def run(self, batch: Any) -> Any:
        return self._fn(batch).numpy()


class TFLiteRuntime(Runtime):
    """A ``.tflite`` file in the LiteRT interpreter (XNNPACK on CPU); quantized inputs and
    outputs are (de)quantized with the file's own scale and zero point."""

    runtime, format = "litert", "tflite"

    def __init__(self, path: Path, quantization: str = "none", threads: int | None = None):
        require("litert", "the TFLite runtime")
        from ai_edge_litert.interpreter import Interpreter

        self.path, self.quantization = Path(path), quantization
        try:
            with _quiet():  # LiteRT's C++ notice "Created TensorFlow Lite XNNPACK delegate for CPU."
                self._interpreter = Interpreter(model_path=str(path), num_threads=threads or usable_cpus())
        except (ValueError, RuntimeError) as exc:
            raise DataError(f"cannot load the TFLite model {path}: {exc}") from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch: int | None = None

    def run(self, batch: Any) -> Any:
        import numpy as np

        it = self._interpreter
        if self._batch != len(batch):
            with _quiet():
                it.resize_tensor_input(self._input["index"], [len(batch), *batch.shape[1:]])
                it.allocate_tensors()
            self._input = it.get_input_details()[0]
            self._output = it.get_output_details()[0]
            self._batch = len(batch)
        x = batch
        dtype = self._input["dtype"]
        if dtype in (np.int8, np.uint8):
            scale, zero = self._input["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(batch / scale + zero), info.min, info.max)
        it.set_tensor(self._input["index"], np.ascontiguousarray(x, dtype=dtype))
        it.invoke()
        out = it.get_tensor(self._output["index"])
        if self._output["dtype"] in (np.int8, np.uint8):
            scale, zero = self._output["quantization"]
            out = (out.astype(np.float32) - zero) * scale
        return out


class OnnxRuntime(Runtime):
    """An ``.onnx`` file in ONNX Runtime (CPU execution provider)."""

    runtime, format = "onnxruntime", "onnx"

    def __init__(self, path: Path, threads: int | None = None):
        ort = require("onnxruntime", "the ONNX runtime")
        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or usable_cpus()
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001  onnxruntime raises its own exception types
            raise DataError(f"cannot load the ONNX model {path}: {type(exc).__name__}: {exc}") from None
        self._input = self._session.get_inputs()[0].name

    def run(self, batch: Any) -> Any:
        return self._session.run(None, {self._input: batch})[0]


def open_export(fmt: str, path: Path, quantization: str = "none", threads: int | None = None) -> Runtime:
    """The runtime for an exported file of format ``fmt``."""
    if fmt == "tflite":
        return TFLiteRuntime(path, quantization, threads)
    if fmt == "onnx":
        return OnnxRuntime(path, threads)
    if fmt == "saved_model":
        return SavedModelRuntime(path)
    raise ValueError(f"unknown format {fmt!r}")


__all__ = ["Runtime", "KerasRuntime", "SavedModelRuntime", "TFLiteRuntime", "OnnxRuntime", "open_export",
           "MissingPackageError", "require", "path_size", "usable_cpus", "EXTRA"]
