"""Test-wide set-up: every test runs offline, with its own ZOO_HOME and a fresh registry.

A test that needs something the checkout may lack (the real datasets in ``../shared/data``, or
``ZOO_SHARED_DATA``; an optional package) asks through :func:`missing` / :func:`require_module`
(``from conftest import missing``): it skips with the reason, and the ``-rs`` summary lists it;
under ``ZOO_REQUIRE_DATA=1`` (``.ci/run`` sets it) it fails instead, so a CI machine without the
data cannot pass by skipping the tests that look at it. Skips for other reasons (no /proc, ...)
stay plain skips and say why.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

# No test ever touches the network; set before any zoo module reads it.
os.environ["ZOO_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Where the real datasets are: ``ZOO_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    from zoo import settings

    return settings.shared_data() or REPO.parent / "shared" / "data"


def missing(reason: str) -> NoReturn:
    """Something a test needs is absent (real data, an optional package): skip, saying what, or
    fail under ``ZOO_REQUIRE_DATA=1``."""
    from zoo import settings

    if settings.require_data():
        pytest.fail(f"{reason} (ZOO_REQUIRE_DATA=1: required, so this fails instead of skipping)", pytrace=False)
    pytest.skip(f"{reason} (ZOO_REQUIRE_DATA=1 would fail here)")


def require_module(name: str, reason: str) -> ModuleType:
    """``pytest.importorskip`` routed through :func:`missing`."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{reason} (import {name}: {exc})")


@pytest.fixture(autouse=True)
def zoo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ZOO_HOME per test, no user catalogue or plugin switches from the outside."""
    home = tmp_path / "zoo-home"
    monkeypatch.setenv("ZOO_HOME", str(home))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    for name in ("ZOO_REGISTRY", "ZOO_STRICT_PLUGINS", "ZOO_DISABLE_PLUGINS", "ZOO_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    from zoo.registry import reset_registry

    reset_registry()
    yield home
    reset_registry()


@pytest.fixture
def shared_data() -> Path:
    """The real datasets in ../shared/data (or ``ZOO_SHARED_DATA``); absent: see :func:`missing`."""
    folder = shared_data_dir()
    if not folder.is_dir():
        missing(f"real datasets not present at {folder}")
    return folder
