"""Where zoo keeps things, and the environment variables that steer it.

| variable | meaning |
|---|---|
| ``ZOO_HOME`` | zoo's home: trained models, results database, caches (default ``~/.zoo``) |
| ``ZOO_DATA_DIR`` | a folder with one sub-folder per dataset, searched before any download |
| ``ZOO_OFFLINE=1`` | forbid every download (tests and CI set it) |
| ``ZOO_REGISTRY`` | user catalogue files (``os.pathsep``-separated), merged over the packaged one |
| ``ZOO_STRICT_PLUGINS=1`` | a plugin that fails to load is fatal instead of being skipped |
| ``ZOO_DISABLE_PLUGINS=a,b`` | plugins (entry-point names) not to load |
| ``ZOO_DATA_ORIGIN`` | a mirror: a base URL with one sub-folder per dataset (as ``ZOO_DATA_DIR``), used instead of each dataset's origin |
| ``ZOO_REQUIRE_DATA=1`` | tests fail, instead of skipping, when ``../shared/data`` or an optional package is missing |
| ``ZOO_SHARED_DATA`` | where the tests find the real datasets (default ``../shared/data`` beside the repository) |
| ``ZOO_CPU_DEVICES=N`` | split the host CPU into N logical devices (``--cpu-devices``; set before TensorFlow starts) |
| ``ZOO_MULTIWORKER=1`` | create the multi-worker strategy at TensorFlow start-up (``--strategy multiworker`` sets it) |
| ``ZOO_MULTIWORKER_TIMEOUT`` | seconds the workers of a multi-worker cluster wait for each other to join (default 300) |

Every ``ZOO_*`` variable is read here and nowhere else. A Ray task (``zoo bench --executor ray``,
``zoo tune``) gets this machine's :data:`FORWARDED` variables; ``ZOO_HOME`` stays each node's own.
"""
from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def flag(name: str) -> bool:
    """An environment variable read as a boolean flag."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def home() -> Path:
    """zoo's home folder (``ZOO_HOME``, default ``~/.zoo``); not created here."""
    return Path(os.environ.get("ZOO_HOME") or Path.home() / ".zoo").expanduser()


def models_dir() -> Path:
    return home() / "models"


def runs_dir() -> Path:
    return home() / "runs"


def cache_dir() -> Path:
    return home() / "cache"


def data_dir() -> Path | None:
    value = os.environ.get("ZOO_DATA_DIR")
    return Path(value).expanduser() if value else None


def offline() -> bool:
    return flag("ZOO_OFFLINE")


def strict_plugins() -> bool:
    return flag("ZOO_STRICT_PLUGINS")


def disabled_plugins() -> set[str]:
    return {p.strip() for p in os.environ.get("ZOO_DISABLE_PLUGINS", "").split(",") if p.strip()}


def user_catalogues() -> list[Path]:
    value = os.environ.get("ZOO_REGISTRY", "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def data_origin() -> str | None:
    """``ZOO_DATA_ORIGIN``: a mirror's base URL, one sub-folder per dataset (as ``ZOO_DATA_DIR``)."""
    value = os.environ.get("ZOO_DATA_ORIGIN", "").strip()
    return value.rstrip("/") or None


def require_data() -> bool:
    """``ZOO_REQUIRE_DATA=1``: a missing real dataset or optional package fails a test, not skips it."""
    return flag("ZOO_REQUIRE_DATA")


def shared_data() -> Path | None:
    """``ZOO_SHARED_DATA``: the folder of real datasets the tests use (None: the tests' default)."""
    value = os.environ.get("ZOO_SHARED_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cpu_devices() -> int | None:
    """``ZOO_CPU_DEVICES``: logical CPU devices to split the host CPU into (None: TensorFlow's one)."""
    value = os.environ.get("ZOO_CPU_DEVICES", "").strip()
    return int(value) if value else None


def multiworker() -> bool:
    """``ZOO_MULTIWORKER=1``: make the multi-worker strategy when TensorFlow starts."""
    return flag("ZOO_MULTIWORKER")


def multiworker_timeout() -> float:
    """``ZOO_MULTIWORKER_TIMEOUT``: seconds the workers of a cluster wait for each other to join
    (default 300); ``ValueError`` unless a positive number."""
    value = os.environ.get("ZOO_MULTIWORKER_TIMEOUT", "").strip()
    seconds = float(value) if value else 300.0
    if not seconds > 0:
        raise ValueError(f"ZOO_MULTIWORKER_TIMEOUT must be a positive number of seconds, not {value!r}")
    return seconds


#: What a job on another machine (a Ray task) takes from this one's environment. ZOO_HOME is not
#: among them: every node keeps its own home; user catalogues travel as their contents.
FORWARDED: tuple[str, ...] = ("ZOO_DATA_DIR", "ZOO_OFFLINE", "ZOO_DATA_ORIGIN", "ZOO_DISABLE_PLUGINS",
                              "ZOO_STRICT_PLUGINS")


def forwarded() -> dict[str, str]:
    """The :data:`FORWARDED` variables set here, ``ZOO_DATA_DIR`` as an absolute path (a node's
    working folder is not this one's)."""
    env = {name: os.environ[name] for name in FORWARDED if os.environ.get(name)}
    if "ZOO_DATA_DIR" in env:
        env["ZOO_DATA_DIR"] = str(Path(env["ZOO_DATA_DIR"]).expanduser().absolute())
    return env
