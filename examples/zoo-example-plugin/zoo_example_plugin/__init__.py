"""An example zoo plugin; the hooks live in :mod:`zoo_example_plugin.plugin`."""

__version__ = "0.1.0"
