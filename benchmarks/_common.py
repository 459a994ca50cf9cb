"""Shared helpers of the benchmark scripts: run the course baseline and `zoo bench` as separate
processes (each measurement from a fresh process), interleaved, and summarise medians.

Every headline script takes ``--quick``: a smoke run of the whole script on tiny inputs (a stand-in
image folder written here, a few hundred real examples, one repeat) that the test suite runs
(tests/test_benchmark_scripts.py), so that no script rots between measurements. Its figures are
not measurements; its last line is one JSON object with them (``summary``), as in a full run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data"


def env(**extra: str) -> dict[str, str]:
    data = os.environ.get("ZOO_DATA_DIR") or str(DEFAULT_DATA)
    return {**os.environ, "ZOO_DATA_DIR": data, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def course_script(epochs: int = 5, batch_size: int = 32, limit: int = 0) -> dict[str, Any]:
    """One run of benchmarks/course_fashion_cnn.py (the course's notebook code); ``limit``: only
    the first N train and test images (a --quick smoke run)."""
    cmd = [sys.executable, str(HERE / "course_fashion_cnn.py"), "--epochs", str(epochs), "--batch-size", str(batch_size)]
    out = subprocess.run(cmd + (["--limit", str(limit)] if limit else []), env=env(), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"course_fashion_cnn.py failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def zoo_bench(entry: str, *overrides: str, home: str | None = None) -> dict[str, Any]:
    """One `zoo bench ENTRY --format json` run in a fresh process; returns its row."""
    cmd = [sys.executable, "-m", "zoo", "bench", entry, "--format", "json", "--no-store"]
    for item in overrides:
        cmd += ["--set", item]
    extra = {"ZOO_HOME": home} if home else {}
    out = subprocess.run(cmd, env=env(**extra), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"zoo bench {entry} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)[0]


QUICK_HELP = "a smoke run on tiny inputs (what the test suite runs): checks the script, measures nothing"
QUICK_NOTE = "quick mode: a smoke run on tiny inputs; these figures are not measurements"


def add_quick(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help=QUICK_HELP)


def summary(script: str, quick: bool, **figures: Any) -> None:
    """The script's last line: one JSON object with its headline figures."""
    print(json.dumps({"summary": script, "quick": quick, **figures}), flush=True)


def _png(path: Path, rows: list[bytes], channels: int) -> None:
    """An 8-bit greyscale (1 channel) or RGB (3) PNG, written with zlib alone."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    height, width = len(rows), len(rows[0]) // channels
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
    data = zlib.compress(b"".join(b"\x00" + row for row in rows))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def quick_images(root: Path, classes: int = 10, size: int = 28, channels: int = 1,
                 per_class: dict[str, int] | None = None) -> Path:
    """A stand-in image folder for --quick runs: ``train/`` and ``test/`` with one folder per class
    of ``size``×``size`` PNGs whose class is a brighter horizontal band (learnable), plus noise."""
    import random

    rng = random.Random(0)
    band = max(1, size // classes)
    for split, count in (per_class or {"train": 8, "test": 4}).items():
        for label in range(classes):
            folder = root / split / f"class_{label:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                rows = []
                for y in range(size):
                    bright = label * band <= y < (label + 1) * band
                    rows.append(bytes(min(255, rng.randrange(0, 80) + (150 if bright else 0))
                                      for _ in range(size * channels)))
                _png(folder / f"{i:03d}.png", rows, channels)
    return root


def quick_dataset(root: Path, size: int = 28, color_mode: str = "grayscale") -> str:
    """The ``--set`` that puts the stand-in folder of :func:`quick_images` under an entry."""
    return ('dataset={name = "image_folder", data_dir = "%s", image_size = [%d, %d], color_mode = "%s"}'
            % (root, size, size, color_mode))


@contextlib.contextmanager
def quick_overrides(quick: bool) -> Iterator[list[str]]:
    """With ``quick``: ``--set`` overrides that train an entry on a stand-in image folder (in a
    temporary folder, removed afterwards), in batches of 1 so that a schedule's warm-up still fits
    in the run; otherwise none."""
    if not quick:
        yield []
        return
    with tempfile.TemporaryDirectory(prefix="zoo-quick-") as tmp:
        yield [quick_dataset(quick_images(Path(tmp))), "batch_size=1"]


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"
