"""The environment a benchmark ran in: host, CPU, Python, zoo's version and git commit (no
TensorFlow), plus TensorFlow/Keras versions, GPUs, threads and strategy inside a worker."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def git_commit() -> tuple[str | None, bool | None]:
    """The git commit of zoo's source tree and whether it has uncommitted changes, when zoo runs
    from a git checkout (``(None, None)`` otherwise, e.g. from a wheel)."""
    source = Path(__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(dirty)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def base_environment() -> dict[str, Any]:
    """What the parent knows without TensorFlow: host, Python, CPU, zoo version, git commit."""
    import zoo

    commit, dirty = git_commit()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "zoo_version": zoo.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
    }


def tf_environment(strategy: str, replicas: int | None, seed: int | None) -> dict[str, Any]:
    """The full environment of a worker: :func:`base_environment` plus TF/Keras versions, GPUs,
    thread settings, seed and distribution strategy."""
    import keras
    import tensorflow as tf

    from zoo.tfruntime import thread_settings

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(device)
        except (ValueError, RuntimeError):
            details = {}
        gpus.append({"device": device.name, "name": details.get("device_name", device.name),
                     "compute_capability": details.get("compute_capability")})
    env = base_environment()
    env.update({
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": gpus,
        "device": gpus[0]["name"] if gpus else f"CPU: {env['cpu']}",
        **thread_settings(),
        "logical_cpu_devices": len(tf.config.list_logical_devices("CPU")),
        "seed": seed,
        "strategy": strategy,
        "replicas": replicas,
        "mixed_precision": keras.mixed_precision.global_policy().name,
    })
    if strategy == "multiworker" and os.environ.get("TF_CONFIG"):
        try:
            env["tf_config_task"] = json.loads(os.environ["TF_CONFIG"]).get("task")
        except ValueError:
            env["tf_config_task"] = "unreadable TF_CONFIG"
    return env


__all__ = ["git_commit", "cpu_model", "base_environment", "tf_environment"]
