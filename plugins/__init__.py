"""zoo's first-party plugins (installed as ``zoo_plugins``).

Each module is one plugin, registered through the ``zoo`` entry-point group exactly as a
third-party plugin is; ``catalogue`` ships the packaged ``registry.toml``.
"""
