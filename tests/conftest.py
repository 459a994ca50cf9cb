"""Test-wide set-up: every test runs offline, with its own ZOO_HOME and a fresh registry."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# No test ever touches the network; set before any zoo module reads it.
os.environ["ZOO_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
    """The real datasets in ../shared/data, or a skip saying why they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not present at {SHARED_DATA}")
    return SHARED_DATA
