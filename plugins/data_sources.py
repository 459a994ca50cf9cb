"""Where dataset files come from: search, verification, download, cache, safe extraction.

Shared by the dataset plugins (``mnist_data``, ``image_data``); TensorFlow-free (downloads use
``urllib``). Every dataset looks in the same places, in this order, on every machine:

1. the ``data_dir`` param (``--set dataset.data_dir=PATH``): the files themselves, or a folder with
   one sub-folder per dataset; then ``$ZOO_DATA_DIR/<folder>`` (one sub-folder per dataset);
2. zoo's cache (``$ZOO_HOME/cache/datasets/<folder>``) and Keras's own (``~/.keras/datasets/``);
3. system locations that packages install to (Debian's ``dataset-fashion-mnist`` puts its files in
   ``/usr/share/datasets/fashion-mnist/``);
4. the official origin, downloaded into zoo's cache, unless ``ZOO_OFFLINE=1``. A mirror replaces
   it: the ``origin`` param (one dataset's files) or ``ZOO_DATA_ORIGIN`` (one sub-folder per
   dataset), file names kept (:func:`origin_url`).

Every file is verified before use (the checksum of its *decompressed* content, so a re-compressed
copy such as Debian's, whose gzip header differs, is accepted while a truncated or altered one is
refused, with its path). A download goes to a temporary file next to its destination, is verified
there and only then renamed into the cache: a refused, cut or stalled transfer leaves nothing
behind that could later pass for the file.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from zoo.api import DataError, cache_dir, data_origin, offline
from zoo.api import data_dir as env_data_dir

#: Seconds a download may wait for the server (to connect, or for the next bytes) before it fails.
DEFAULT_TIMEOUT = 30.0
#: ``progress(url, bytes_done, bytes_total_or_None)``, called as a download advances.
Progress = Callable[[str, int, "int | None"], None]

#: Roots of system-wide dataset installs (a Debian package's ``/usr/share/datasets/NAME``).
SYSTEM_DIRS: list[Path] = [Path("/usr/share/datasets")]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name, official origin and checksums."""

    name: str
    origin: str
    split: str
    md5: str | None = None  # of the published file (checked on download where no content checksum is)
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
    return cache_dir() / "datasets"


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
    env = env_data_dir()
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


def _decompress(raw: bytes, what: Any, gz: bool) -> bytes:
    if not gz:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        # gzip checks its CRC and length trailer: a truncated download ends here.
        raise DataError(f"{what} is truncated or not a valid gzip file ({exc}); delete it and fetch it again") from None


def _read_content(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _decompress(raw, path, path.suffix == ".gz")


def content_mismatch(content: bytes, spec: RemoteFile) -> str | None:
    """Why ``content`` (decompressed) is not ``spec``'s: its size, or its checksum with the one
    expected (sha256 where declared, else md5); ``None`` when it matches or nothing is declared."""
    if spec.content_size is not None and len(content) != spec.content_size:
        return f"{len(content):,} bytes of content, expected {spec.content_size:,}"
    if spec.content_sha256:
        algorithm, expected = "sha256", spec.content_sha256
    elif spec.content_md5:
        algorithm, expected = "md5", spec.content_md5
    else:
        return None
    got = hashlib.new(algorithm, content).hexdigest()
    return None if got == expected else f"{algorithm} of its content is {got}, expected {expected}"


def read_verified(path: Path, spec: RemoteFile) -> bytes:
    """The decompressed content of ``path``, after checking its size and checksum."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo in _VERIFIED:
        return _VERIFIED[memo]
    content = _read_content(path)
    problem = content_mismatch(content, spec)
    if problem:
        short = spec.content_size is not None and len(content) != spec.content_size
        what = "corrupt or truncated" if short else "corrupt or not the expected file"
        raise DataError(f"{path} is {what}: {problem}; delete it and fetch it again")
    _VERIFIED.clear()  # keep at most one file's content in memory
    _VERIFIED[memo] = content
    return content


# -- downloading --------------------------------------------------------------------------------
def origin_url(url: str, origin: str | None = None, folder: str | None = None) -> str:
    """``url`` from a mirror where one is set, the file name kept: the dataset's ``origin`` param
    (``ORIGIN/<file>``), else ``ZOO_DATA_ORIGIN``, a mirror with one sub-folder per dataset as
    under ``ZOO_DATA_DIR`` (``ZOO_DATA_ORIGIN/<folder>/<file>``: Fashion-MNIST's and MNIST's files
    have the same names)."""
    name = url.rsplit("/", 1)[1]
    base = (origin or "").strip().rstrip("/")
    if base:
        return f"{base}/{name}"
    root = data_origin()
    if root:
        return f"{root}/{folder}/{name}" if folder else f"{root}/{name}"
    return url


def _timeout_error(url: str, timeout: float) -> DataError:
    host = urllib.parse.urlsplit(url).netloc or url
    return DataError(f"downloading {url} timed out: the server ({host}) sent nothing for {timeout:g} s "
                     f"(stalled or unreachable); try again, or use a mirror (--set dataset.origin=URL or "
                     f"ZOO_DATA_ORIGIN=URL) or a longer --set dataset.download_timeout=SECONDS")


def download_file(url: str, dest: Path, *, verify: Callable[[Path], None] | None = None,
                  timeout: float | None = None, progress: Progress | None = None) -> Path:
    """Download ``url`` to ``dest``: into a temporary file in ``dest``'s folder, checked by
    ``verify`` (which raises :class:`DataError`), then renamed to ``dest``. On any failure the
    temporary file is deleted, so nothing half-written or refused is ever found under ``dest``.
    ``timeout`` bounds each wait for the server (connecting, or the next bytes)."""
    if offline():
        raise DataError(f"ZOO_OFFLINE=1 forbids downloading {url}")
    given = timeout
    try:
        timeout = DEFAULT_TIMEOUT if given is None else float(given)
    except (TypeError, ValueError):
        timeout = -1.0
    if not timeout > 0:  # also refuses NaN
        raise DataError(f"download_timeout must be a positive number of seconds, not {given!r}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    done, total = 0, None
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  http(s) of a dataset
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    if progress:
                        progress(url, 0, total)
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(url, done, total)
            except TimeoutError:
                raise _timeout_error(url, timeout) from None
            except urllib.error.HTTPError as exc:
                raise DataError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from None
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    raise _timeout_error(url, timeout) from None
                raise DataError(f"downloading {url} failed: {exc.reason}") from None
            except (http.client.HTTPException, OSError) as exc:
                of = f" of {total:,}" if total is not None else ""
                raise DataError(f"downloading {url} was cut off after {done:,}{of} bytes "
                                f"({type(exc).__name__}); nothing was kept, fetch it again") from None
        if total is not None and done != total:
            raise DataError(f"downloading {url} was cut off after {done:,} of {total:,} bytes; "
                            "nothing was kept, fetch it again")
        if verify is not None:
            verify(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def verify_download(path: Path, spec: RemoteFile, url: str) -> None:
    """Check a downloaded file before it enters the cache: its decompressed content's size and
    checksum where the dataset declares them (a mirror's re-compressed copy passes), else the
    published file's md5. A mismatch is a DataError naming the URL, the expected and the got."""
    raw = path.read_bytes()
    if spec.content_size is not None or spec.content_sha256 or spec.content_md5:
        try:
            content = _decompress(raw, f"the file downloaded from {url}", spec.name.endswith(".gz"))
        except DataError as exc:
            md5 = f" (md5 {hashlib.md5(raw).hexdigest()}, expected {spec.md5})" if spec.md5 else ""
            raise DataError(f"download refused: {str(exc).split('; delete it')[0]}{md5}; "
                            "nothing was cached") from None
        problem = content_mismatch(content, spec)
    elif spec.md5:
        got = hashlib.md5(raw).hexdigest()
        problem = None if got == spec.md5 else f"md5 is {got}, expected {spec.md5}"
    else:
        problem = None
    if problem:
        raise DataError(f"download refused: the file downloaded from {url} is not {spec.name}: {problem}; "
                        "nothing was cached")


def download(spec: RemoteFile, key: str, *, origin: str | None = None, timeout: float | None = None,
             progress: Progress | None = None) -> Path:
    """Download one file from its origin (or the mirror) into zoo's cache, verified."""
    url = origin_url(spec.origin, origin, key)
    return download_file(url, cache_root() / key / spec.name, verify=lambda p: verify_download(p, spec, url),
                         timeout=timeout, progress=progress)


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


def _complete(dataset: str, fileset: FileSet, data_dir: str | None, required: str, *, origin: str | None = None,
              timeout: float | None = None, progress: Progress | None = None) -> Found:
    """Find the files, download the missing ones where allowed (from ``origin`` or
    ``ZOO_DATA_ORIGIN`` when set), and fail clearly when too few are left: ``required="all"``
    needs every file, ``"any-split"`` at least one whole split."""
    found = find_files(fileset, data_dir)
    download_error = None
    if found.missing and not data_dir:
        if offline():
            download_error = "ZOO_OFFLINE=1 forbids downloading"
        else:
            for spec in list(found.missing):
                try:
                    path = download(spec, fileset.key, origin=origin, timeout=timeout, progress=progress)
                except DataError as exc:
                    download_error = download_error or str(exc)
                    if required == "all":
                        break  # the dataset cannot be whole: stop at the first failure
                    continue  # another split may still be complete
                found.files[spec.name] = (path, "downloaded")
                found.missing.remove(spec)
    if found.missing and (required == "all" or not found.splits(fileset)):
        names = ", ".join(f.name for f in found.missing)
        why = f" ({download_error})" if download_error else ""
        base = origin_url(fileset.files[0].origin, origin, fileset.key).rsplit("/", 1)[0] + "/"
        raise DataError(
            f"dataset {dataset!r}: {names} not found{why}. "
            f"{three_ways(dataset, fileset.key, 'them', base)}. Looked in: {describe_places(found.places)}"
        )
    return found


def resolve_files(dataset: str, fileset: FileSet, data_dir: str | None = None,
                  required: str = "all", *, origin: str | None = None, timeout: float | None = None) -> dict[str, bytes]:
    """Find, download if needed and allowed, and verify the files; return name -> content of
    the files of every complete split (see :func:`_complete` for ``required`` and ``origin``)."""
    found = _complete(dataset, fileset, data_dir, required, origin=origin, timeout=timeout)
    complete = found.splits(fileset)
    return {f.name: read_verified(found.files[f.name][0], f) for f in fileset.files if f.split in complete}


def fetch_files(dataset: str, fileset: FileSet, data_dir: str | None = None, required: str = "all", *,
                origin: str | None = None, timeout: float | None = None,
                progress: Progress | None = None) -> dict[str, Any]:
    """``fetch`` for a file-set dataset: verified copies of its files in zoo's cache, from any
    place in the search path or downloaded (``progress`` reports each download as it goes);
    ``required`` and ``origin`` as for :func:`resolve_files`."""
    found = _complete(dataset, fileset, data_dir, required, origin=origin, timeout=timeout, progress=progress)
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
    """``name`` (a member path, or where a link points) stays inside ``root``: not absolute, no
    ``..`` component, and still inside once ``root``'s own links are resolved."""
    if not name or os.path.isabs(name) or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return False
    if ".." in name.replace("\\", "/").split("/"):
        return False
    return (root / name).resolve().is_relative_to(root.resolve())


def _link_inside(root: Path, member: tarfile.TarInfo) -> bool:
    if not (member.issym() or member.islnk()):
        return True
    if os.path.isabs(member.linkname):
        return False
    # A symlink is relative to its own folder, a hard link to the archive's root.
    where = os.path.join(os.path.dirname(member.name), member.linkname) if member.issym() else member.linkname
    return (root / where).resolve().is_relative_to(root.resolve())


def check_archive(archive: Path, target: Path, *, what: Any = None, deep: bool = False) -> list[str]:
    """The member names of the zip or tar ``archive`` after checking that every one of them (and
    every tar link) lands inside ``target``; ``deep`` also reads every member (zip CRCs, the whole
    tar stream), so a corrupt or cut archive fails here. A DataError names the first bad member."""
    what = what or archive
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                names = zf.namelist()
                for name in names:
                    if not _inside(target, name):
                        raise DataError(f"{what}: member {name!r} would be extracted outside {target}; refused")
                bad = zf.testzip() if deep else None
                if bad is not None:
                    raise DataError(f"{what} is corrupt: member {bad!r} fails its CRC check")
            return names
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf_:
                members = tf_.getmembers()  # reads the whole stream, so a cut .tar.gz fails here
                for member in members:
                    if not _inside(target, member.name) or not _link_inside(target, member):
                        raise DataError(f"{what}: member {member.name!r} would be extracted outside {target}; refused")
            return [m.name for m in members]
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{what} is corrupt or truncated ({exc}); delete it and fetch it again") from None
    raise DataError(f"{what} is not a zip or tar archive (truncated download?); delete it and fetch it again")


def safe_extract(archive: Path, target: Path) -> list[str]:
    """Extract a zip or tar archive into ``target``, refusing any member (or link) that would
    land outside it (``../x``, absolute paths): a path-traversal archive fails before any write."""
    names = check_archive(archive, target)
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
    else:
        with tarfile.open(archive) as tf_:
            tf_.extractall(target, filter="data")  # Python's own guard too (3.11.4+, 3.12)
    return names
