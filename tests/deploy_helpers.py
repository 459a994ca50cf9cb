"""A tiny real model for the predict/export tests: 8×8 grey PNGs of three patterns in class
folders (``checks``, ``columns``, ``rows``; train/ and test/), an image-folder entry on them in a
user catalogue, trained by the real ``zoo train`` in a subprocess (a few seconds)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ENTRY = "tiny-shapes"
CLASSES = ["checks", "columns", "rows"]
SIZE = 8


def pattern(name: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """One 8×8 uint8 image of a class: alternating bright cells, columns or rows (with noise)."""
    i, j = np.indices((SIZE, SIZE))
    bright = {"checks": (i + j) % 2 == 0, "columns": j % 2 == 0, "rows": i % 2 == 0}[name]
    image = np.where(bright, 220.0, 30.0)
    if rng is not None:
        image = image + rng.normal(0, 20, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_png(path: Path, image: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def make_shapes(root: Path, train: int = 12, test: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test)):
        for name in CLASSES:
            for k in range(count):
                write_png(root / split / name / f"{k}.png", pattern(name, rng))
    return root


def write_catalogue(path: Path, data_dir: Path) -> Path:
    path.write_text(f"""
[entries.{ENTRY}]
description = "Three 8x8 grey patterns (tests)."
architecture = {{ name = "mlp", units = 16 }}
dataset = {{ name = "image_folder", data_dir = "{data_dir}", image_size = [8, 8], color_mode = "grayscale" }}
optimizer = "adam"
learning_rate = 0.01
epochs = 12
batch_size = 12
""", encoding="utf-8")
    return path


def run_zoo(home: Path, *args: str, registry: Path | None = None, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m zoo [--registry R] ARGS`` with ZOO_HOME=home, offline."""
    environment = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1", **(env or {})}
    prefix = ["--registry", str(registry)] if registry else []
    return subprocess.run([sys.executable, "-m", "zoo", *prefix, *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


def trained_home(base: Path) -> tuple[Path, Path, Path]:
    """(ZOO_HOME with tiny-shapes trained, the catalogue, the data folder)."""
    data = make_shapes(base / "shapes")
    catalogue = write_catalogue(base / "registry.toml", data)
    home = base / "home"
    trained = run_zoo(home, "train", ENTRY, "--quiet", registry=catalogue)
    assert trained.returncode == 0, trained.stderr
    return home, catalogue, data
