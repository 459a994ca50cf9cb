"""Where dataset files come from: search, verification, download, cache, safe extraction.

Shared by the dataset plugins (``mnist_data``, ``image_data``); TensorFlow-free at import (Keras is
imported only to download, through ``keras.utils.get_file``). Every dataset looks in the same
places, in this order, on every machine:

1. the ``data_dir`` param (``--set dataset.data_dir=PATH``): the files themselves, or a folder with
   one sub-folder per dataset; then ``$ZOO_DATA_DIR/<folder>`` (one sub-folder per dataset);
2. zoo's cache (``$ZOO_HOME/cache/datasets/<folder>``) and Keras's own (``~/.keras/datasets/``);
3. system locations that packages install to (Debian's ``dataset-fashion-mnist`` puts its files in
   ``/usr/share/datasets/fashion-mnist/``);
4. the official origin, downloaded into zoo's cache, unless ``ZOO_OFFLINE=1``.

Every file is verified before use (the checksum of its *decompressed* content, so a re-compressed
copy such as Debian's, whose gzip header differs, is accepted while a truncated or altered one is
refused, with its path).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from zoo import settings
from zoo.errors import DataError

#: Roots of system-wide dataset installs (a Debian package's ``/usr/share/datasets/NAME``).
SYSTEM_DIRS: list[Path] = [Path("/usr/share/datasets")]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name, official origin and checksums."""

    name: str
    origin: str
    split: str
    md5: str | None = None  # of the published file (checked by keras.utils.get_file on download)
    content_size: int | None = None  # of the decompressed content
    content_sha256: str | None = None
    content_md5: str | None = None  # published upstream where no sha256 was computed


@dataclass(frozen=True)
class FileSet:
    """A dataset made of a few known files (Fashion-MNIST, MNIST)."""

    key: str  # the folder name in zoo's cache and under ZOO_DATA_DIR
    files: tuple[RemoteFile, ...]
    aliases: tuple[str, ...] = ()  # other folder names accepted under ZOO_DATA_DIR / data_dir
    keras_subdir: str | None = None  # where Keras's own loader caches the same files
    system_subdir: str | None = None

    @property
    def folders(self) -> tuple[str, ...]:
        return (self.key, *self.aliases)


class LabelledSplit(tuple):
    """An ``(x, y)`` numpy split that also knows its class names (for ``zoo data show``)."""

    class_names: list[str] | None

    def __new__(cls, x: Any, y: Any, class_names: Sequence[str] | None = None) -> Self:
        self = super().__new__(cls, (x, y))
        self.class_names = list(class_names) if class_names is not None else None
        return self


# -- where to look ------------------------------------------------------------------------------
def cache_root() -> Path:
    """zoo's dataset cache: ``$ZOO_HOME/cache/datasets``."""
    return settings.cache_dir() / "datasets"


def keras_datasets_dir() -> Path:
    """Keras's own download cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def search_path(key: str, folders: Sequence[str], data_dir: str | os.PathLike | None = None,
                keras_subdir: str | None = None, system_subdir: str | None = None) -> list[tuple[str, Path]]:
    """The (label, folder) pairs searched, in order. An explicit ``data_dir`` is searched alone:
    asking for a folder and silently getting another copy would hide a mistake."""
    if data_dir:
        root = Path(data_dir).expanduser()
        return [("data_dir", root), *(("data_dir", root / f) for f in folders)]
    places: list[tuple[str, Path]] = []
    env = settings.data_dir()
    if env is not None:
        places += [("ZOO_DATA_DIR", env / f) for f in folders]
    places.append(("cache", cache_root() / key))
    if keras_subdir:
        places.append(("keras cache", keras_datasets_dir() / keras_subdir))
    if system_subdir:
        places += [("system", root / system_subdir) for root in SYSTEM_DIRS]
    return places


def describe_places(places: Iterable[tuple[str, Path]]) -> str:
    return ", ".join(f"{label} {path}" for label, path in places)


def three_ways(dataset: str, key: str, what: str, origin: str | None) -> str:
    """The three ways to provide missing data, for error messages."""
    fetch = (f"(3) online, `zoo data fetch {dataset}` downloads {origin} into {cache_root() / key}"
             if origin else f"(3) put them in zoo's cache, {cache_root() / key}")
    return (f"Provide {what} in one of three ways: (1) --set dataset.data_dir=PATH (a folder holding "
            f"them); (2) ZOO_DATA_DIR=PATH with them in PATH/{key}/; {fetch}")


# -- verification -------------------------------------------------------------------------------
_VERIFIED: dict[tuple[str, int, int], bytes] = {}


def _read_content(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        # gzip checks its CRC and length trailer: a truncated download ends here.
        raise DataError(f"{path} is truncated or not a valid gzip file ({exc}); delete it and fetch it again") from None


def read_verified(path: Path, spec: RemoteFile) -> bytes:
    """The decompressed content of ``path``, after checking its size and checksum."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo in _VERIFIED:
        return _VERIFIED[memo]
    content = _read_content(path)
    if spec.content_size is not None and len(content) != spec.content_size:
        raise DataError(
            f"{path} is corrupt or truncated: {len(content):,} bytes of content, expected "
            f"{spec.content_size:,}; delete it and fetch it again"
        )
    if spec.content_sha256:
        algorithm, expected = "sha256", spec.content_sha256
    elif spec.content_md5:
        algorithm, expected = "md5", spec.content_md5
    else:
        algorithm, expected = "", ""
    if algorithm:
        got = hashlib.new(algorithm, content).hexdigest()
        if got != expected:
            raise DataError(
                f"{path} is corrupt or not the expected file: {algorithm} of its content is {got}, "
                f"expected {expected}; delete it and fetch it again"
            )
    _VERIFIED.clear()  # keep at most one file's content in memory
    _VERIFIED[memo] = content
    return content


# -- finding files ------------------------------------------------------------------------------
@dataclass
class Found:
    """The result of a search: where each file is (and where it was found), what is missing."""

    files: dict[str, tuple[Path, str]]  # name -> (path, label of the place)
    missing: list[RemoteFile]
    places: list[tuple[str, Path]]

    def splits(self, fileset: FileSet) -> list[str]:
        """The splits whose files are all present."""
        names = []
        for f in fileset.files:
            if f.split not in names:
                names.append(f.split)
        return [s for s in names if all(f.name in self.files for f in fileset.files if f.split == s)]


def find_files(fileset: FileSet, data_dir: str | os.PathLike | None = None) -> Found:
    """Look for each file of ``fileset`` in the search path (no verification, no download)."""
    places = search_path(fileset.key, fileset.folders, data_dir, fileset.keras_subdir, fileset.system_subdir)
    files: dict[str, tuple[Path, str]] = {}
    missing = []
    for spec in fileset.files:
        for label, folder in places:
            candidate = folder / spec.name
            if candidate.is_file():
                files[spec.name] = (candidate, label)
                break
        else:
            missing.append(spec)
    return Found(files, missing, places)


def download(spec: RemoteFile, key: str) -> Path:
    """Download one file from its official origin into zoo's cache (checksum, progress bar)."""
    if settings.offline():
        raise DataError(f"{spec.name}: ZOO_OFFLINE=1 forbids downloading {spec.origin}")
    import keras

    target = cache_root() / key
    target.mkdir(parents=True, exist_ok=True)
    try:
        path = keras.utils.get_file(
            fname=spec.name, origin=spec.origin, file_hash=spec.md5,
            hash_algorithm="md5" if spec.md5 else "auto",
            cache_dir=str(cache_root()), cache_subdir=key,
        )
    except Exception as exc:  # noqa: BLE001  network errors come in many types (URLError, HTTPError, ValueError)
        raise DataError(f"downloading {spec.origin} failed: {exc}") from None
    return Path(path)


def locate_files(dataset: str, fileset: FileSet, data_dir: str | None = None) -> dict[str, Any] | None:
    """``locate`` for a file-set dataset: where its files are, without reading them (TF-free)."""
    found = find_files(fileset, data_dir)
    if not found.files:
        return None
    paths = [p for p, _ in found.files.values()]
    labels = sorted({label for _, label in found.files.values()})
    folders = sorted({str(p.parent) for p in paths})
    return {
        "path": folders[0] if len(folders) == 1 else folders,
        "origin": " + ".join(labels),
        "bytes": sum(p.stat().st_size for p in paths),
        "missing": [f.name for f in found.missing],
        "splits": found.splits(fileset),
    }


def _complete(dataset: str, fileset: FileSet, data_dir: str | None, required: str) -> Found:
    """Find the files, download the missing ones where allowed, and fail clearly when too few
    are left: ``required="all"`` needs every file, ``"any-split"`` at least one whole split."""
    found = find_files(fileset, data_dir)
    download_error = None
    if found.missing and not data_dir:
        if settings.offline():
            download_error = "ZOO_OFFLINE=1 forbids downloading"
        else:
            for spec in list(found.missing):
                try:
                    found.files[spec.name] = (download(spec, fileset.key), "downloaded")
                    found.missing.remove(spec)
                except DataError as exc:
                    download_error = str(exc)
                    break
    if found.missing and (required == "all" or not found.splits(fileset)):
        names = ", ".join(f.name for f in found.missing)
        why = f" ({download_error})" if download_error else ""
        origin = fileset.files[0].origin.rsplit("/", 1)[0] + "/"
        raise DataError(
            f"dataset {dataset!r}: {names} not found{why}. "
            f"{three_ways(dataset, fileset.key, 'them', origin)}. Looked in: {describe_places(found.places)}"
        )
    return found


def resolve_files(dataset: str, fileset: FileSet, data_dir: str | None = None,
                  required: str = "all") -> dict[str, bytes]:
    """Find, download if needed and allowed, and verify the files; return name -> content of
    the files of every complete split (see :func:`_complete` for ``required``)."""
    found = _complete(dataset, fileset, data_dir, required)
    complete = found.splits(fileset)
    return {f.name: read_verified(found.files[f.name][0], f) for f in fileset.files if f.split in complete}


def fetch_files(dataset: str, fileset: FileSet, data_dir: str | None = None,
                required: str = "all") -> dict[str, Any]:
    """``fetch`` for a file-set dataset: verified copies of its files in zoo's cache, from any
    place in the search path or downloaded; ``required`` as for :func:`resolve_files`."""
    found = _complete(dataset, fileset, data_dir, required)
    target = cache_root() / fileset.key
    copied = []
    for spec in fileset.files:
        if spec.name not in found.files:
            continue
        path, label = found.files[spec.name]
        read_verified(path, spec)
        dest = target / spec.name
        if path.resolve() != dest.resolve():
            target.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)  # never leave a half-copied file under the final name
            copied.append(f"{spec.name} from {label} {path.parent}")
        elif label == "downloaded":
            copied.append(f"{spec.name} downloaded")
    cached = [f for f in fileset.files if (target / f.name).is_file()]
    return {
        "path": str(target),
        "origin": "; ".join(copied) or "already in the cache",
        "bytes": sum((target / f.name).stat().st_size for f in cached),
        "files": [f.name for f in cached],
        "missing": [f.name for f in fileset.files if f not in cached],
    }


# -- archives -----------------------------------------------------------------------------------
def _inside(root: Path, name: str) -> bool:
    if not name or os.path.isabs(name) or name.startswith(("/", "\\")):
        return False
    return (root / name).resolve().is_relative_to(root.resolve())


def safe_extract(archive: Path, target: Path) -> list[str]:
    """Extract a zip or tar archive into ``target``, refusing any member (or link) that would
    land outside it (``../x``, absolute paths): a path-traversal archive fails before any write."""
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for name in names:
                if not _inside(target, name):
                    raise DataError(f"{archive}: member {name!r} would be extracted outside {target}; refused")
            zf.extractall(target)
        return names
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf_:
            members = tf_.getmembers()
            for member in members:
                link_ok = not (member.issym() or member.islnk()) or _inside(
                    target, os.path.join(os.path.dirname(member.name), member.linkname) if member.issym() else member.linkname
                )
                if not _inside(target, member.name) or not link_ok:
                    raise DataError(f"{archive}: member {member.name!r} would be extracted outside {target}; refused")
            tf_.extractall(target, filter="data")
        return [m.name for m in members]
    raise DataError(f"{archive} is not a zip or tar archive (truncated download?); delete it and fetch it again")

