"""Read a legacy (pre-1.6) PyTorch ``.pth`` file without PyTorch.

``torch.save`` before the zip format wrote a plain sequence of pickles to one file:

1. a magic number (``0x1950a86a20f9469cfc6c``), 2. the protocol version (1001), 3. a dict of
system info (endianness, sizes), 4. the object itself (here a state dict) whose tensors are
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` calls and whose storages
are persistent ids ``("storage", StorageType, key, location, numel[, view_metadata])``,
5. a pickled list of the storage keys, in the order their bytes follow, then for each storage an
8-byte little-endian element count and the raw little-endian elements.

The unpickler below resolves only the handful of globals such a file needs (tensor rebuilding,
storage types, ``OrderedDict``) and refuses every other one, so reading an untrusted file cannot
run code. Tensors come back as numpy arrays. numpy is imported inside the functions so that
importing this module stays cheap.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
from pathlib import Path
from typing import Any, BinaryIO

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch storage class name -> numpy dtype string (little-endian, as torch writes them).
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class LegacyPthError(ValueError):
    """The file is not a legacy PyTorch pickle this reader understands (or is unsafe)."""


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co.: only its dtype matters."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class _Storage:
    """A storage announced in the object pickle; its bytes are read after the pickle ends."""

    def __init__(self, key: str, storage_type: _StorageType, numel: int):
        self.key, self.type, self.numel = key, storage_type, numel
        self.data: Any = None  # a flat numpy array, filled by _read_storages


class _PendingTensor:
    """A tensor whose storage bytes are not read yet: (storage, offset, size, stride)."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialise(self) -> Any:
        import numpy as np

        flat = self.storage.data
        if not self.size:
            return np.array(flat[self.offset])
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.array(view)  # a contiguous copy, detached from the storage buffer


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
}
_SAFE_GLOBALS.update({("torch", name): _StorageType(name) for name in STORAGE_DTYPES})


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storages: dict[str, _Storage]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise LegacyPthError(f"refusing to load global {module}.{name} (not a plain tensor state dict)") from None

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise LegacyPthError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise LegacyPthError("storage views are not supported")
        if not isinstance(storage_type, _StorageType):
            raise LegacyPthError(f"unsupported storage type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type, int(numel))
        return self.storages[key]


def _load_plain(f: BinaryIO) -> Any:
    """One pickle with no globals allowed (the header pickles hold only builtins)."""
    return _Unpickler(f, {}).load()


def _read_storages(f: BinaryIO, keys: list[str], storages: dict[str, _Storage]) -> None:
    import numpy as np

    for key in keys:
        storage = storages[key]
        header = f.read(8)
        if len(header) != 8:
            raise LegacyPthError(f"file ends before storage {key}")
        (numel,) = struct.unpack("<q", header)
        if numel != storage.numel:
            raise LegacyPthError(f"storage {key}: {numel} elements on disk, {storage.numel} announced")
        dtype = np.dtype(storage.type.dtype)
        raw = f.read(numel * dtype.itemsize)
        if len(raw) != numel * dtype.itemsize:
            raise LegacyPthError(f"file ends inside storage {key}")
        storage.data = np.frombuffer(raw, dtype=dtype)


def _materialise(obj: Any) -> Any:
    if isinstance(obj, _PendingTensor):
        return obj.materialise()
    if isinstance(obj, dict):
        return type(obj)((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def load(path: str | Path) -> Any:
    """The object saved in a legacy ``.pth`` file, tensors as numpy arrays.

    Raises :class:`LegacyPthError` when the file is in another format (e.g. the zip format of
    PyTorch ≥ 1.6), is truncated, or names a global other than tensor/storage rebuilding.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4)
        if head[:2] == b"PK":
            raise LegacyPthError(f"{path}: a zip-format (PyTorch >= 1.6) file, not the legacy format")
        f.seek(0)
        try:
            magic = _load_plain(f)
            if magic != MAGIC_NUMBER:
                raise LegacyPthError(f"{path}: not a legacy PyTorch file (bad magic number)")
            version = _load_plain(f)
            if version != PROTOCOL_VERSION:
                raise LegacyPthError(f"{path}: unsupported protocol version {version}")
            sys_info = _load_plain(f)
            if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
                raise LegacyPthError(f"{path}: big-endian files are not supported")
            storages: dict[str, _Storage] = {}
            obj = _Unpickler(f, storages).load()
            keys = _load_plain(f)
        except (pickle.UnpicklingError, EOFError, struct.error) as exc:
            raise LegacyPthError(f"{path}: unreadable legacy PyTorch file ({exc})") from None
        _read_storages(f, list(keys), storages)
    return _materialise(obj)


def save(obj: Any, path: str | Path) -> None:
    """Write a (nested) dict of numpy arrays in the legacy format, as old ``torch.save`` did.

    For tests and fixtures: float32/float64/int64 arrays only. The torch globals are written
    by reference (``GLOBAL torch FloatStorage``) without importing torch.
    """
    import numpy as np

    names = {np.dtype("<f4"): "FloatStorage", np.dtype("<f8"): "DoubleStorage", np.dtype("<i8"): "LongStorage"}
    blobs: list[Any] = []

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            arr = np.array(value, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
            dtype = arr.dtype.newbyteorder("<")
            if dtype not in names:
                raise TypeError(f"unsupported dtype {arr.dtype}")
            key = str(len(blobs))
            blobs.append(arr.astype(dtype))
            ref = _StorageRef(("storage", _GlobalRef("torch", names[dtype]), key, "cpu", arr.size))
            stride = tuple(s // arr.itemsize for s in arr.strides)
            return _Reduce(_GlobalRef("torch._utils", "_rebuild_tensor_v2"),
                           (ref, 0, tuple(arr.shape), stride, False, collections.OrderedDict()))
        if isinstance(value, dict):
            return collections.OrderedDict((k, convert(v)) for k, v in value.items())
        return value

    body = convert(obj)
    buf = io.BytesIO()
    sys_info = {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    for part in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info):
        pickle.dump(part, buf, protocol=2)
    _Pickler(buf, protocol=2).dump(body)
    pickle.dump([str(i) for i in range(len(blobs))], buf, protocol=2)
    for arr in blobs:
        buf.write(struct.pack("<q", arr.size))
        buf.write(arr.tobytes())
    Path(path).write_bytes(buf.getvalue())


class _GlobalRef:
    """A module-level name to pickle by reference without importing its module."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle wants a REDUCE callable; only its name is written
        raise TypeError(f"{self.module}.{self.name} is a stand-in, not callable")


class _StorageRef:
    """A storage to pickle as a persistent id."""

    def __init__(self, pid: tuple):
        self.pid = pid


class _Reduce:
    """An object pickled as ``func(*args)`` (a REDUCE opcode)."""

    def __init__(self, func: _GlobalRef, args: tuple):
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return (self.func, self.args)


class _Pickler(pickle._Pickler):  # the pure-Python pickler: its save_global can be overridden
    def persistent_id(self, obj: Any) -> Any:
        return obj.pid if isinstance(obj, _StorageRef) else None

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, _GlobalRef):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)
