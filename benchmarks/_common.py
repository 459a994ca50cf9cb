"""Shared helpers of the benchmark scripts: run the course baseline and `zoo bench` as separate
processes (each measurement from a fresh process), interleaved, and summarise medians."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data"


def env(**extra: str) -> dict[str, str]:
    data = os.environ.get("ZOO_DATA_DIR") or str(DEFAULT_DATA)
    return {**os.environ, "ZOO_DATA_DIR": data, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def course_script(epochs: int = 5, batch_size: int = 32) -> dict[str, Any]:
    """One run of benchmarks/course_fashion_cnn.py (the course's notebook code)."""
    out = subprocess.run([sys.executable, str(HERE / "course_fashion_cnn.py"), "--epochs", str(epochs),
                          "--batch-size", str(batch_size)], env=env(), capture_output=True, text=True, check=True)
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
