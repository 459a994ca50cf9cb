"""Ships zoo's packaged catalogue, ``registry.toml``, as a plugin catalogue."""
from __future__ import annotations

from pathlib import Path

import zoo

CATALOGUE = Path(__file__).with_name("registry.toml").resolve()


@zoo.hookimpl
def register_catalogues(register):
    register(CATALOGUE)
