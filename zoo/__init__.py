"""zoo: a plugin-based model zoo for TensorFlow/Keras.

The public plugin API is deliberately tiny and free of TensorFlow, so importing it is cheap::

    import zoo

    @zoo.hookimpl
    def register_architectures(register):
        register("my-net", build_my_net, description="...")

Everything else (registry, catalogue, runner) is reached through submodules.
"""
from __future__ import annotations

import pluggy

__all__ = ["hookimpl", "hookspec", "__version__", "PROJECT_NAME"]

PROJECT_NAME = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zoo-models")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


__version__ = _version()
