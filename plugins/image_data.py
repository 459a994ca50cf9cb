"""Folder-per-class image datasets (course 1 week 4: horse-or-human; course 2: cats vs dogs) and
the course's augmentation as Keras preprocessing layers inside the ``tf.data`` pipeline.

Folder names are the labels, sorted alphabetically, as ``flow_from_directory`` did. A dataset
folder is either a folder of class folders, or a root holding ``train/`` plus ``validation/``
(or ``test/``) folders of class folders.

Bad files: every file in a class folder is checked before training, cheaply and without
TensorFlow: its extension, its signature (PNG, JPEG, GIF, BMP magic bytes) and its end marker
(PNG ``IEND``, JPEG ``FFD9``, GIF ``3B``, BMP size), which catches non-images, empty files and
truncated downloads. With ``on_bad_file = "skip"`` (the default) each one is left out with a
warning naming its path; ``"error"`` makes the first one a DataError.
"""
from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_plugins.data_sources import (
    Progress,
    cache_root,
    check_archive,
    describe_places,
    download_file,
    origin_url,
    safe_extract,
    search_path,
    three_ways,
)

import zoo
from zoo.api import DataError, holdout_indices, offline

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
COLOR_MODES = {"rgb": 3, "grayscale": 1, "rgba": 4}
LABEL_MODES = ("int", "categorical", "binary")
TRAIN_DIRS = ("train", "training")
#: Held-out folders, by the split each one is: a ``test/`` folder is the test split, never validation.
HELD_OUT_DIRS = {"validation": ("validation", "valid", "val"), "test": ("test", "testing")}
ORIGIN_FILE = "ZOO-COPIED-FROM.txt"


# -- checking files (TF-free) -------------------------------------------------------------------
def check_image_file(path: Path) -> str | None:
    """Why ``path`` is not a readable image (``None`` when it looks whole)."""
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image file (extension {path.suffix or 'none'!r})"
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(32)
            fh.seek(max(0, size - 64))
            tail = fh.read(64)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if size == 0:
        return "empty file"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None if b"IEND" in tail[-16:] else "truncated PNG (no IEND chunk at the end)"
    if head.startswith(b"\xff\xd8\xff"):
        return None if b"\xff\xd9" in tail else "truncated JPEG (no end-of-image marker)"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return None if tail.rstrip(b"\x00").endswith(b";") else "truncated GIF"
    if head.startswith(b"BM") and len(head) >= 6:
        declared = int.from_bytes(head[2:6], "little")
        return None if declared in (0, size) else f"truncated BMP ({size} of {declared} bytes)"
    return "not a PNG, JPEG, GIF or BMP image (unknown file signature)"


@dataclass
class Scan:
    """The image files of one folder of class folders."""

    root: Path
    class_names: list[str]
    files: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    bad: list[tuple[Path, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.class_names, 0)
        for label in self.labels:
            counts[self.class_names[label]] += 1
        return counts


def class_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_folder(root: Path, class_names: list[str] | None = None, on_bad_file: str = "skip") -> Scan:
    """List the images of ``root/<class>/*`` (recursively), labels from the class folders."""
    if on_bad_file not in ("skip", "error"):
        raise DataError(f"on_bad_file must be 'skip' or 'error', not {on_bad_file!r}")
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    names = class_names if class_names is not None else class_folders(root)
    if not names:
        raise DataError(f"image folder {root} has no class folders (expected {root}/<class>/<image>)")
    scan = Scan(root, list(names))
    for label, name in enumerate(names):
        folder = root / name
        if not folder.is_dir():
            raise DataError(f"image folder {root} has no folder for class {name!r} (classes: {', '.join(names)})")
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                reason = check_image_file(path)
                if reason is None:
                    scan.files.append(str(path))
                    scan.labels.append(label)
                    continue
                if on_bad_file == "error":
                    raise DataError(f"{path}: {reason}")
                scan.bad.append((path, reason))
    for path, reason in scan.bad:
        warnings.warn(f"skipping {path}: {reason}", stacklevel=2)
    if not scan.files:
        raise DataError(f"image folder {root} holds no readable image")
    return scan


def verify_manifest(root: Path) -> int:
    """Check the files a ``SHA256SUMS`` manifest in ``root`` lists (a shipped copy's own
    checksums); a missing or altered file is a DataError naming it. Returns files checked."""
    manifest = root / "SHA256SUMS"
    if not manifest.is_file():
        return 0
    checked = 0
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        expected, _, name = line.partition("  ")
        path = root / name.strip().lstrip("*")
        try:
            got = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise DataError(f"{path} is listed in {manifest} but missing or unreadable") from None
        if got != expected.strip():
            raise DataError(f"{path} is corrupt: its sha256 does not match {manifest}")
        checked += 1
    return checked


# -- layouts of the registered datasets ------------------------------------------------------------
@dataclass(frozen=True)
class Archive:
    """An official archive and the split folder it extracts into."""

    url: str
    split: str
    subdir: str = ""  # the folder inside the archive holding the class folders ("" = its root)
    # Of the archive file, checked on download where declared. The official archives' are not
    # declared (none could be computed from a verified copy); their zip CRCs are checked instead.
    sha256: str | None = None


@dataclass(frozen=True)
class ImageLayout:
    """Where a named image-folder dataset lives and what a whole copy holds."""

    key: str
    folders: tuple[str, ...]
    archives: tuple[Archive, ...] = ()
    expected: dict[str, dict[str, int]] | None = None  # split -> class -> images in a whole copy


HORSE_OR_HUMAN = ImageLayout(
    key="horse-or-human",
    folders=("horse-or-human", "horse-or-human-100gray"),
    archives=(
        Archive("https://storage.googleapis.com/learning-datasets/horse-or-human.zip", "train"),
        Archive("https://storage.googleapis.com/learning-datasets/validation-horse-or-human.zip", "validation"),
    ),
    expected={"train": {"horses": 500, "humans": 527}, "validation": {"horses": 128, "humans": 128}},
)
CATS_VS_DOGS = ImageLayout(
    key="cats-vs-dogs",
    folders=("cats-vs-dogs", "cats-vs-dogs-128", "cats_and_dogs_filtered"),
    archives=(
        Archive("https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip", "train",
                "cats_and_dogs_filtered/train"),
        Archive("https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip", "validation",
                "cats_and_dogs_filtered/validation"),
    ),
)


def split_dirs(root: Path) -> dict[str, Path] | None:
    """``{"train": …, "validation": …, "test": …}`` (the held-out ones when present) for a root with
    ``train/`` and ``validation/`` and/or ``test/`` folders of class folders, each named for what it
    is; ``None`` when ``root`` is not such a root."""
    for name in TRAIN_DIRS:
        train = root / name
        if train.is_dir() and class_folders(train):
            dirs = {"train": train}
            for split, names in HELD_OUT_DIRS.items():
                found = next((root / n for n in names if (root / n).is_dir() and class_folders(root / n)), None)
                if found is not None:
                    dirs[split] = found
            return dirs
    return None


def find_image_root(layout: ImageLayout, data_dir: str | None = None) -> tuple[Path, str, list[tuple[str, Path]]]:
    """The first place in the search path holding a copy of ``layout``: (root, label, places)."""
    places = search_path(layout.key, layout.folders, data_dir, keras_subdir=layout.key)
    for label, folder in places:
        if folder.is_dir() and split_dirs(folder):
            return folder, label, places
    raise FileNotFoundError(describe_places(places))


def _folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _verify_archive(path: Path, archive: Archive, url: str, target: Path) -> None:
    """A downloaded archive is kept only if its sha256 matches (where declared) and it is a whole
    zip or tar (every CRC) whose members all stay inside ``target``."""
    if archive.sha256:
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != archive.sha256:
            raise DataError(f"download refused: the file downloaded from {url} is not the expected archive: "
                            f"sha256 is {got}, expected {archive.sha256}; nothing was cached")
    try:
        check_archive(path, target, what=f"the archive downloaded from {url}", deep=True)
    except DataError as exc:
        raise DataError(f"download refused: {str(exc).split('; delete it')[0]}; nothing was cached") from None


def download_layout(name: str, layout: ImageLayout, *, origin: str | None = None, timeout: float | None = None,
                    progress: Progress | None = None) -> Path:
    """Download the dataset's archives (from ``origin`` or ``ZOO_DATA_ORIGIN`` where set, a
    mirror) into ``cache/<key>/downloads/``, each verified before it is kept; then extract them
    safely and move each split into ``cache/<key>/<split>/``. Every archive is downloaded before
    any split is put in place, so a failed download never leaves a cache copy missing a split."""
    import shutil

    if offline():
        raise DataError("ZOO_OFFLINE=1 forbids downloading")
    root = cache_root() / layout.key
    downloads = root / "downloads"
    fetched: dict[str, Path] = {}
    for archive in layout.archives:
        fname = archive.url.rsplit("/", 1)[1]
        path, staging = downloads / fname, downloads / f"{fname}.extracted"
        if archive.url not in fetched and not path.is_file():
            url = origin_url(archive.url, origin, layout.key)
            download_file(url, path, verify=lambda p, a=archive, u=url, t=staging: _verify_archive(p, a, u, t),
                          timeout=timeout, progress=progress)
        fetched[archive.url] = path
    for archive in layout.archives:
        fname = archive.url.rsplit("/", 1)[1]
        staging = downloads / f"{fname}.extracted"
        if not staging.is_dir():
            tmp = downloads / f"{fname}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            safe_extract(fetched[archive.url], tmp)
            os.replace(tmp, staging)
        source = staging / archive.subdir if archive.subdir else staging
        if not source.is_dir():
            raise DataError(f"dataset {name!r}: {fname} has no folder {archive.subdir!r}; delete {staging} "
                            "and fetch it again")
        target = root / archive.split
        if not target.exists():
            tmp = root / f".{archive.split}.part"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(source, tmp)
            os.replace(tmp, target)  # never a half-copied split under its final name
    return root


# -- the TensorFlow side ------------------------------------------------------------------------------
def _channels(color_mode: str) -> int:
    if color_mode not in COLOR_MODES:
        raise DataError(f"color_mode must be one of {', '.join(COLOR_MODES)}, not {color_mode!r}")
    return COLOR_MODES[color_mode]


def _size(image_size: Any) -> tuple[int, int]:
    if isinstance(image_size, int):
        return (image_size, image_size)
    try:
        height, width = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise DataError(f"image_size must be [height, width], not {image_size!r}") from None
    if height < 1 or width < 1:
        raise DataError(f"image_size must be positive, not {image_size!r}")
    return height, width


def decode_file(path: str, image_size: Any, color_mode: str = "rgb") -> Any:
    """One image file as the loader gives it: decoded, resized, float32 in [0, 1], (H, W, C)."""
    reason = check_image_file(Path(path))
    if reason:
        raise DataError(f"{path}: {reason}")
    from zoo.api import import_tensorflow

    tf = import_tensorflow()
    image = _decode(tf, tf.io.read_file(str(path)), _size(image_size), _channels(color_mode))
    return image.numpy()


def _decode(tf: Any, data: Any, size: tuple[int, int], channels: int) -> Any:
    # channels=3 turns a greyscale source into RGB (the entry asked for 3 channels).
    image = tf.io.decode_image(data, channels=channels, expand_animations=False, dtype=tf.uint8)
    image = tf.image.resize(image, size)  # bilinear, float32
    image = tf.ensure_shape(image / 255.0, (*size, channels))
    return image


def image_dataset(files: list[str], labels: list[int], class_names: list[str], image_size: Any,
                  color_mode: str, label_mode: str) -> Any:
    """An unbatched ``tf.data.Dataset`` of ``(image, label)``: read, decode and resize in
    parallel; the runner caches it, so each file is decoded once."""
    from zoo.api import import_tensorflow

    tf = import_tensorflow()
    import numpy as np

    size, channels = _size(image_size), _channels(color_mode)
    num_classes = len(class_names)
    labels_np = np.asarray(labels, dtype=np.int32)
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(files), labels_np))

    def load(path: Any, label: Any) -> tuple[Any, Any]:
        image = _decode(tf, tf.io.read_file(path), size, channels)
        if label_mode == "binary":
            target = tf.cast(tf.expand_dims(label, -1), tf.float32)
        elif label_mode == "categorical":
            target = tf.one_hot(label, num_classes)
        else:
            target = label
        return image, target

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # As keras.utils.image_dataset_from_directory does: facts `zoo data show` reads without decoding.
    ds.class_names = list(class_names)
    ds.file_paths = list(files)
    ds.labels = labels_np
    return ds


def make_augment(seed: int = 0) -> Callable[[Any, Any], tuple[Any, Any]]:
    """The course's ``ImageDataGenerator(rotation_range=40, width_shift_range=0.2,
    height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True,
    fill_mode='nearest')`` as Keras 3 preprocessing layers, a batch function for the runner
    (training batches only). ``rescale=1/255`` is the loader's, for every split.

    ImageDataGenerator's ``shear_range`` is an angle in *degrees*, so 0.2 is a shear of
    tan(0.2°) ≈ 0.0035; RandomShear's factor is that tangent, so the faithful value is used.
    """
    import keras

    fill = "nearest"
    shear = math.tan(math.radians(0.2))
    layers = keras.Sequential([
        keras.layers.RandomRotation(40 / 360, fill_mode=fill, seed=seed),
        keras.layers.RandomTranslation(0.2, 0.2, fill_mode=fill, seed=seed + 1),
        keras.layers.RandomShear(x_factor=shear, y_factor=0.0, fill_mode=fill, seed=seed + 2),
        keras.layers.RandomZoom(0.2, 0.2, fill_mode=fill, seed=seed + 3),
        keras.layers.RandomFlip("horizontal", seed=seed + 4),
    ], name="course_augmentation")

    def augment(x: Any, y: Any) -> tuple[Any, Any]:
        return layers(x, training=True), y

    augment.layers = layers  # type: ignore[attr-defined]
    return augment


# -- loaders ------------------------------------------------------------------------------------------
FOLDER_PARAMS: dict[str, Any] = {
    "data_dir": None,
    "image_size": [150, 150],
    "color_mode": "rgb",
    "validation_dir": None,
    "label_mode": "int",
    "seed": 0,
    "augment": False,
    "on_bad_file": "skip",
}


def _resolve_dirs(data_dir: Path, validation_dir: str | None) -> dict[str, Path]:
    """The split folders under ``data_dir`` (``{"train": data_dir}`` for a bare folder of class
    folders); ``validation_dir`` names the validation folder explicitly."""
    dirs = split_dirs(data_dir) or {"train": data_dir}
    if validation_dir:
        dirs["validation"] = Path(validation_dir).expanduser()
    return dirs


def load_folders(name: str, dirs: dict[str, Path], *, image_size: Any = (150, 150), color_mode: str = "rgb",
                 validation_split: float = 0.0, label_mode: str = "int", seed: int = 0, augment: bool = False,
                 on_bad_file: str = "skip", expected: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """Splits from the ``train`` folder and the ``validation`` and ``test`` folders present.
    ``validation_split`` (the recipe's, passed by zoo) holds that fraction of train out as
    validation instead of a validation folder (:func:`zoo.api.holdout_indices`, seeded by ``seed``)."""
    if label_mode not in LABEL_MODES:
        raise DataError(f"dataset {name!r}: label_mode must be one of {', '.join(LABEL_MODES)}, not {label_mode!r}")
    if not 0.0 <= float(validation_split) < 1.0:
        raise DataError(f"dataset {name!r}: validation_split must be in [0, 1), got {validation_split}")
    _size(image_size), _channels(color_mode)
    train = scan_folder(dirs["train"], on_bad_file=on_bad_file)
    if label_mode == "binary" and len(train.class_names) != 2:
        raise DataError(f"dataset {name!r}: label_mode 'binary' needs 2 class folders, {dirs['train']} has "
                        f"{len(train.class_names)} ({', '.join(train.class_names)})")
    scans = {"train": train}
    for split in ("validation", "test"):
        if split in dirs and not (split == "validation" and validation_split):
            scans[split] = scan_folder(dirs[split], train.class_names, on_bad_file)
    for split, counts in (expected or {}).items():
        if split in scans and scans[split].counts() != counts:
            warnings.warn(f"dataset {name!r}: {scans[split].root} holds {scans[split].counts()}, "
                          f"a whole copy holds {counts}", stacklevel=2)
    files = {split: (scan.files, scan.labels) for split, scan in scans.items()}
    if validation_split:
        # A seeded permutation of the file list: the same images are held out on every run.
        keep, held = holdout_indices(len(train.files), float(validation_split), seed)
        pick = lambda idx: ([train.files[i] for i in idx], [train.labels[i] for i in idx])
        files["train"], files["validation"] = pick(keep), pick(held)
    splits: dict[str, Any] = {
        split: image_dataset(*files[split], train.class_names, image_size, color_mode, label_mode)
        for split in ("train", "validation", "test") if split in files}
    if augment:
        splits["augment"] = make_augment(seed)
    return splits


def load_image_folder(data_dir: str | None = None, validation_dir: str | None = None, *,
                      validation_split: float = 0.0, _name: str = "image_folder", **params: Any) -> dict[str, Any]:
    """Any folder of class folders (``--set dataset.data_dir=PATH``), or a root with ``train/``
    and ``validation/`` and/or ``test/`` folders of class folders."""
    if not data_dir:
        raise DataError(f"dataset {_name!r} needs data_dir: --set dataset.data_dir=PATH "
                        "(a folder of class folders, or one with train/ and validation/)")
    binary = params.get("label_mode", "int") == "binary"
    if binary != (_name == "image_folder_binary"):
        raise DataError(f"dataset {_name!r}: label_mode {params.get('label_mode')!r} does not fit its task; "
                        + ("use image_folder_binary for 0/1 labels" if binary else "use 'binary'"))
    return load_folders(_name, _resolve_dirs(Path(data_dir).expanduser(), validation_dir),
                        validation_split=validation_split, **params)


def load_image_folder_binary(data_dir: str | None = None, validation_dir: str | None = None, *,
                             validation_split: float = 0.0, **params: Any) -> dict[str, Any]:
    """Two class folders, labels 0/1 (sorted folder names) for a one-unit sigmoid head."""
    return load_image_folder(data_dir, validation_dir, validation_split=validation_split,
                             _name="image_folder_binary", **params)


def _num_folder_classes(data_dir: str | None = None, label_mode: str = "int", **_: Any) -> int:
    if not data_dir:
        raise DataError("image_folder needs data_dir (--set dataset.data_dir=PATH)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    return len(class_folders(_resolve_dirs(root, None)["train"]))


def _image_shape(image_size: Any = (150, 150), color_mode: str = "rgb", **_: Any) -> tuple[int, int, int]:
    return (*_size(image_size), _channels(color_mode))


def _folder_class_names(data_dir: str | None = None, **_: Any) -> list[str]:
    """An image folder's class names: its train folder's class folders, sorted (label order)."""
    if not data_dir:
        raise DataError("image_folder needs data_dir (--set dataset.data_dir=PATH)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    return class_folders(_resolve_dirs(root, None)["train"])


def image_preprocessing(image_size: Any = (150, 150), color_mode: str = "rgb", **_: Any) -> dict[str, Any]:
    """What the loader does to one image file, as data saved with a trained model (for
    ``zoo predict`` without the dataset): decode as ``color_mode``, resize bilinearly, ``x / 255``."""
    _channels(color_mode)  # a bad color_mode is named here
    return {"kind": "image", "image_size": list(_size(image_size)), "color_mode": color_mode,
            "scale": 1.0 / 255.0, "mean": None, "std": None}


# -- named datasets -----------------------------------------------------------------------------------
def _named_root(name: str, layout: ImageLayout, data_dir: str | None, download: bool, *, origin: str | None = None,
                timeout: float | None = None, progress: Progress | None = None) -> tuple[Path, str]:
    try:
        root, label, _ = find_image_root(layout, data_dir)
    except FileNotFoundError as missing:
        looked = str(missing)
        if download and not data_dir and layout.archives:
            try:
                return download_layout(name, layout, origin=origin, timeout=timeout, progress=progress), "downloaded"
            except DataError as exc:
                looked = f"{exc}. Looked in: {looked}"
        else:
            looked = f"Looked in: {looked}"
        origins = " and ".join(dict.fromkeys(origin_url(a.url, origin, layout.key) for a in layout.archives))
        raise DataError(f"dataset {name!r}: no copy found (a folder with train/<class>/ and validation/<class>/ "
                        f"image folders). {three_ways(name, layout.key, 'it', origins)}. {looked}") from None
    verify_manifest(root)
    return root, label


def named_loader(name: str, layout: ImageLayout) -> Callable[..., dict[str, Any]]:
    def load(data_dir: str | None = None, validation_dir: str | None = None, origin: str | None = None,
             download_timeout: float | None = None, validation_split: float = 0.0, **params: Any) -> dict[str, Any]:
        root, _ = _named_root(name, layout, data_dir, download=True, origin=origin, timeout=download_timeout)
        return load_folders(name, _resolve_dirs(root, validation_dir), validation_split=validation_split,
                            expected=layout.expected, **params)

    load.__name__ = load.__qualname__ = f"load_{name}"
    load.__doc__ = f"The {name} image folders (train, and validation and/or test), found, fetched and checked."
    return load


def named_locate(name: str, layout: ImageLayout) -> Callable[..., dict[str, Any] | None]:
    def locate(data_dir: str | None = None, **_: Any) -> dict[str, Any] | None:
        try:
            root, label, _ = find_image_root(layout, data_dir)
        except FileNotFoundError:
            return None
        origin = label
        if (root / ORIGIN_FILE).is_file():
            origin += f" (copy of {(root / ORIGIN_FILE).read_text(encoding='utf-8').strip()})"
        return {"path": str(root), "origin": origin, "bytes": _folder_bytes(root)}

    return locate


def named_fetch(name: str, layout: ImageLayout) -> Callable[..., dict[str, Any]]:
    def fetch(data_dir: str | None = None, origin: str | None = None, download_timeout: float | None = None,
              progress: Progress | None = None, **_: Any) -> dict[str, Any]:
        import shutil

        root, label = _named_root(name, layout, data_dir, download=True, origin=origin, timeout=download_timeout,
                                  progress=progress)
        target = cache_root() / layout.key
        if root.resolve() != target.resolve():
            dirs = split_dirs(root) or {"train": root}
            tmp = target.with_name(target.name + ".part")
            shutil.rmtree(tmp, ignore_errors=True)
            for split, folder in dirs.items():  # each split under its own name: test stays test
                shutil.copytree(folder, tmp / split)
            if (root / "SHA256SUMS").is_file():  # keep the copy's manifest, with the names it uses
                names = {folder.name: split for split, folder in dirs.items()}
                lines = []
                for line in (root / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
                    digest, _, path = line.partition("  ")
                    parts = path.strip().removeprefix("./").split("/", 1)
                    if len(parts) == 2 and parts[0] in names:
                        lines.append(f"{digest}  ./{names[parts[0]]}/{parts[1]}")
                (tmp / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
            if (root / "SOURCE.txt").is_file():
                shutil.copyfile(root / "SOURCE.txt", tmp / "SOURCE.txt")
            # Remember which copy this was (a derived 100x100 grey one, say) for `zoo data list`.
            (tmp / ORIGIN_FILE).write_text(f"{root}\n", encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
            origin = f"copied from {label} {root}"
        else:
            origin = "already in the cache" if label != "downloaded" else "downloaded"
        verify_manifest(target)
        return {"path": str(target), "origin": origin, "bytes": _folder_bytes(target)}

    return fetch


def _locate_own(data_dir: str | None = None, **_: Any) -> dict[str, Any] | None:
    """``locate`` for the user's own folders: there is nothing to find until data_dir is set."""
    if not data_dir:
        return {"status": "needs data_dir", "path": None, "origin": "--set dataset.data_dir=PATH", "bytes": None}
    root = Path(data_dir).expanduser()
    return {"path": str(root), "origin": "data_dir", "bytes": _folder_bytes(root)} if root.is_dir() else None


def decode_for(params_default: dict[str, Any]) -> Callable[..., Any]:
    def decode(path: str, image_size: Any = None, color_mode: str = "rgb", **_: Any) -> Any:
        return decode_file(path, image_size or params_default["image_size"], color_mode)

    return decode


@zoo.hookimpl
def register_datasets(register):
    folder_params = dict(FOLDER_PARAMS)
    register(
        "image_folder", load_image_folder, task="multiclass",
        input_shape=_image_shape, num_classes=_num_folder_classes,
        description="Your own images: a folder of class folders (the folder names are the labels, "
                    "as flow_from_directory), --set dataset.data_dir=PATH.",
        params=folder_params, tags=("images",), source="your data_dir", licence="yours",
        locate=_locate_own,
        decode=decode_for(folder_params),
        class_names=_folder_class_names, preprocessing=image_preprocessing,
    )
    binary_params = {**folder_params, "label_mode": "binary"}
    register(
        "image_folder_binary", load_image_folder_binary, task="binary",
        input_shape=_image_shape, num_classes=1,
        description="Your own two-class images (a folder with two class folders), labels 0/1 for a "
                    "sigmoid head.",
        params=binary_params, tags=("images",), source="your data_dir", licence="yours",
        locate=_locate_own,
        decode=decode_for(binary_params),
        class_names=_folder_class_names, preprocessing=image_preprocessing,
    )
    for name, layout, size, names, description, tags, source, licence in (
        ("horse_or_human", HORSE_OR_HUMAN, [300, 300], ["horses", "humans"],
         ("Horses or Humans: 1,027 train / 256 validation computer-generated images, 2 classes "
          "(course 1, week 4); 300x300 RGB (a greyscale copy loads as RGB)."),
         ("course1", "week4", "images", "binary"),
         "Laurence Moroney, https://laurencemoroney.com/datasets.html", "CC BY 2.0"),
        ("cats_vs_dogs", CATS_VS_DOGS, [150, 150], ["cat", "dog"],
         ("Cats vs dogs photos (course 2): the course's filtered 2,000/1,000 subset of Kaggle's "
          "Dogs vs. Cats (Asirra), 150x150 RGB."),
         ("course2", "images", "binary"),
         ("Kaggle Dogs vs. Cats (Microsoft Research Asirra); "
          "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"),
         "research and benchmarking use only (Asirra terms); do not redistribute"),
    ):
        # origin: a mirror's base URL for the archives (ZOO_DATA_ORIGIN for every dataset).
        params = {**binary_params, "image_size": size, "origin": None, "download_timeout": 30.0}
        register(
            name, named_loader(name, layout), task="binary", input_shape=_image_shape, num_classes=1,
            description=description, params=params, tags=tags, source=source, licence=licence,
            locate=named_locate(name, layout), fetch=named_fetch(name, layout), decode=decode_for(params),
            class_names=names, preprocessing=image_preprocessing,  # label 0 = the first class folder, sorted
        )


__all__ = [
    "check_image_file",
    "decode_file",
    "image_dataset",
    "load_image_folder",
    "make_augment",
    "safe_extract",
    "scan_folder",
]
