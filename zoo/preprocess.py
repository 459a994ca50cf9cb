"""Inputs for a saved model, without TensorFlow: what ``zoo predict`` reads and how it becomes one
example exactly as the dataset's loader made the training examples.

A trained model's folder holds ``inputs.json`` (:func:`input_spec_dict`, written by
:mod:`zoo.artifacts`): the input shape and dtype, the task, the class names and the dataset's
*preprocessing* as plain data (:meth:`zoo.specs.DatasetSpec.preprocessing_for`)::

    {"kind": "image", "image_size": [28, 28], "color_mode": "grayscale", "scale": 0.00392, "mean": null, "std": null}
    {"kind": "numeric", "scale": 1.0}

A *raw* input is what the data files hold: pixels 0–255 for images. An image file (PNG, JPEG,
GIF, BMP) is decoded with Pillow in the color mode, resized bilinearly to ``image_size`` (the
arithmetic of ``tf.image.resize``, half-pixel centres, no antialiasing, as the loaders do), then,
like numbers given on the command line and ``.npy`` arrays, scaled: ``x * scale``, then
``(x - mean) / std`` when both are given. Numbers and arrays must already have the example's
size (no resizing).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import DataError

INPUTS_FILE = "inputs.json"
#: one example given on the command line: numbers separated by commas (no file name looks like it)
NUMBERS = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\s*,\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)*\s*$")
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP")
COLOR_MODES = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}
NPY_MAGIC = b"\x93NUMPY"


@dataclass
class InputSpec:
    """What a saved model takes and how its outputs read (``inputs.json``)."""

    entry: str
    input_shape: tuple[int, ...]
    task: str
    num_classes: int
    class_names: list[str] | None = None
    preprocessing: dict[str, Any] | None = None
    dtype: str = "float32"
    dataset: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry: Any, dtype: str = "float32") -> "InputSpec":
        return cls(entry.name, tuple(entry.input_shape), entry.task, int(entry.num_classes),
                   list(entry.class_names) if entry.class_names else None, entry.preprocessing, dtype,
                   entry.dataset.name)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InputSpec":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "extra"}
        known["input_shape"] = tuple(int(d) for d in known["input_shape"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data.pop("extra")
        return data

    @property
    def size(self) -> int:
        count = 1
        for d in self.input_shape:
            count *= int(d)
        return count


def read_spec(model_dir: Path) -> InputSpec | None:
    """The ``inputs.json`` of a model folder, or ``None`` when the model was saved without one."""
    path = Path(model_dir) / INPUTS_FILE
    if not path.is_file():
        return None
    try:
        return InputSpec.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is unreadable: {exc}") from None


# -- raw inputs -----------------------------------------------------------------------------------
def is_numbers(item: str) -> bool:
    """Whether a command-line input is numbers (``10``, ``0.5,1,2``): never looked up as a file."""
    return bool(NUMBERS.match(item))


def _sniff(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff") or head[:6] in (b"GIF87a", b"GIF89a") \
            or head.startswith(b"BM"):
        return "image"
    return None


def decode_image(path: Path, color_mode: str) -> Any:
    """An image file as a ``(H, W, C)`` float32 array of its pixels (0–255) in ``color_mode``."""
    import numpy as np

    try:
        from PIL import Image
    except ImportError:
        raise DataError("reading image files needs Pillow: pip install 'zoo-models[export]' (or: pip install pillow)") from None
    mode, channels = COLOR_MODES[color_mode]
    try:
        with Image.open(path) as image:
            if image.format not in IMAGE_FORMATS:
                raise DataError(f"{path}: a {image.format} image; zoo reads PNG, JPEG, GIF and BMP images and .npy arrays")
            image.load()
            if image.mode in ("P", "PA", "LA", "I;16", "I", "F") and mode != "L":
                image = image.convert("RGBA" if mode == "RGBA" else "RGB")
            array = np.asarray(image.convert(mode), dtype=np.float32)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001  Pillow raises many kinds for a broken file
        raise DataError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None
    return array.reshape(array.shape[0], array.shape[1], channels)


def resize_bilinear(image: Any, size: tuple[int, int]) -> Any:
    """``tf.image.resize(image, size)`` (bilinear, half-pixel centres, no antialiasing) in numpy."""
    import numpy as np

    height, width = image.shape[:2]
    out_h, out_w = size
    if (height, width) == (out_h, out_w):
        return image.astype(np.float32)

    def weights(out: int, size_in: int) -> tuple[Any, Any, Any]:
        centre = (np.arange(out, dtype=np.float64) + 0.5) * (size_in / out) - 0.5
        floor = np.floor(centre)
        lower = np.clip(floor, 0, size_in - 1).astype(np.int64)
        upper = np.clip(np.ceil(centre), 0, size_in - 1).astype(np.int64)
        return lower, upper, (centre - floor).astype(np.float32)

    y0, y1, wy = weights(out_h, height)
    x0, x1, wx = weights(out_w, width)
    img = image.astype(np.float32)
    top = img[y0][:, x0] + (img[y0][:, x1] - img[y0][:, x0]) * wx[None, :, None]
    bottom = img[y1][:, x0] + (img[y1][:, x1] - img[y1][:, x0]) * wx[None, :, None]
    return top + (bottom - top) * wy[:, None, None]


def scale(raw: Any, prep: dict[str, Any] | None) -> Any:
    """Raw values as the loader scales them: ``x * scale``, then ``(x - mean) / std``."""
    import numpy as np

    x = np.asarray(raw, dtype=np.float32)
    if not prep:
        return x
    x = x * np.float32(prep.get("scale", 1.0))
    if prep.get("mean") is not None and prep.get("std") is not None:
        x = (x - np.float32(prep["mean"])) / np.float32(prep["std"])
    return x


def _shape_error(item: str, got: str, spec: InputSpec) -> DataError:
    return DataError(f"input {item!r} has {got}; entry {spec.entry!r} takes {spec.size} value(s) "
                     f"(shape {spec.input_shape})")


def read_input(item: str, spec: InputSpec, decode: Any = None) -> Any:
    """One command-line input (numbers, or a PNG/JPEG/NPY file) as one example of ``spec``'s
    shape, preprocessed as training was. ``decode(path)``: the dataset's own decoder, used for
    files only when the model was saved without preprocessing."""
    import numpy as np

    prep = spec.preprocessing
    if is_numbers(item):
        values = np.asarray([float(v) for v in item.split(",")], dtype=np.float32)
        if values.size != spec.size:
            raise _shape_error(item, f"{values.size} value(s)", spec)
        return scale(values.reshape(spec.input_shape), prep)
    path = Path(item)
    try:
        is_file = path.is_file()
    except OSError:  # a name too long for the file system, say
        is_file = False
    if not is_file:
        reason = "a folder" if path.is_dir() else "no such file"
        raise DataError(f"cannot read input {item!r}: {reason}; expected numbers (comma-separated) or a PNG, JPEG or "
                        ".npy file")
    kind = _sniff(path)
    if kind == "npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: not a readable .npy array ({exc})") from None
        if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
            raise DataError(f"{path}: a .npy array of {array.dtype}, not numbers")
        if array.size != spec.size:
            raise _shape_error(item, f"shape {tuple(array.shape)} ({array.size} values)", spec)
        return scale(array.reshape(spec.input_shape), prep)
    if kind != "image":
        raise DataError(f"{path}: not a PNG, JPEG, GIF, BMP image or .npy array (unknown file signature)")
    if prep and prep.get("kind") == "image":
        image = decode_image(path, prep.get("color_mode", "rgb"))
        image = resize_bilinear(image, tuple(prep["image_size"]))
        if image.size != spec.size:
            raise _shape_error(item, f"shape {image.shape} after decoding", spec)
        return scale(image.reshape(spec.input_shape), prep)
    if decode is not None:
        example = np.asarray(decode(str(path)), dtype=np.float32)
        if example.size != spec.size:
            raise _shape_error(item, f"shape {example.shape} after decoding", spec)
        return example.reshape(spec.input_shape)
    raise DataError(f"{path}: entry {spec.entry!r} does not take image files (its dataset declares no image "
                    "preprocessing); give numbers")


def read_inputs(items: list[str], spec: InputSpec, decode: Any = None) -> Any:
    """Command-line inputs as one float32 batch."""
    import numpy as np

    return np.stack([read_input(item, spec, decode) for item in items]).astype(np.float32)


# -- outputs --------------------------------------------------------------------------------------
def label_outputs(outputs: Any, spec: InputSpec, top_k: int = 3) -> list[dict[str, Any]]:
    """Each output row as ``{"output": [...], "top": [{"label", "probability"}...], "label"}``
    (multiclass: the ``top_k`` classes; binary: the class and its probability; regression:
    ``output`` only)."""
    import numpy as np

    names = spec.class_names
    results = []
    for row in np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1):
        result: dict[str, Any] = {"output": [float(v) for v in row]}
        if spec.task == "multiclass":
            order = np.argsort(-row, kind="stable")[:max(1, top_k)]
            result["top"] = [{"label": names[i] if names else str(int(i)), "class": int(i),
                              "probability": float(row[i])} for i in order]
        elif spec.task == "binary":
            p = float(row[0])
            cls = int(p >= 0.5)
            result["top"] = [{"label": names[cls] if names else str(cls), "class": cls,
                              "probability": p if cls else 1.0 - p}]
        if "top" in result:
            result["label"] = result["top"][0]["label"]
        results.append(result)
    return results


__all__ = ["INPUTS_FILE", "InputSpec", "read_spec", "is_numbers", "decode_image", "resize_bilinear", "scale",
           "read_input", "read_inputs", "label_outputs"]
