"""zoo's public API for plugins: everything a plugin may import, in one module.

First-party plugins (``zoo_plugins.*``) and third-party ones use exactly this module; every other
``zoo.*`` module is internal and may change (a test fails on any other import in ``plugins/`` and
``examples/``). Plugin *tests* may also use :mod:`zoo.testing`, the pytest plugin. Importing this
module is cheap: no TensorFlow, no Keras (the helpers that need them import them when called).

- hooks: :data:`hookimpl` marks the hook functions of :mod:`zoo.hookspecs`;
- errors a plugin raises for bad input: :class:`ZooError` and its kinds; :class:`ZooWarning`
  for what a user should know (the CLI prints ``zoo: warning: …``);
- settings a loader needs: :func:`cache_dir`, :func:`data_dir`, :func:`offline`, :func:`home`,
  :func:`data_origin`;
- training plans: :class:`Fit`, :class:`TrainHead`, :class:`FineTune` (``register(..., plan=...)``);
- frozen-base building blocks: :func:`frozen_base_model`, :data:`BASE_NAME`, :data:`HEAD_NAME`,
  :func:`flat_layers`;
- metric rules: :func:`higher_is_better`, :func:`improvement_mode`, :func:`reached`;
- data helpers: :data:`SPLITS`, :func:`holdout_indices`, :func:`import_tensorflow`.
"""
from __future__ import annotations

from zoo import __version__, hookimpl
from zoo.errors import (CatalogueError, DataError, IncompatibleError, NotTrainedError, UnknownNameError,
                        ZooError, ZooWarning)
from zoo.metrics import higher_is_better, improvement_mode, reached
from zoo.frozen_base import BASE_NAME, HEAD_NAME, flat_layers, frozen_base_model
from zoo.phases import FineTune, Fit, Phase, TrainHead
from zoo.settings import cache_dir, data_dir, data_origin, home, offline
from zoo.specs import TASKS
from zoo.splits import SPLITS, TEST, TRAIN, VALIDATION, holdout_indices
from zoo.tfruntime import import_tensorflow

__all__ = [
    "__version__", "hookimpl",
    "ZooError", "DataError", "IncompatibleError", "UnknownNameError", "CatalogueError", "NotTrainedError",
    "ZooWarning",
    "home", "cache_dir", "data_dir", "data_origin", "offline",
    "Fit", "TrainHead", "FineTune", "Phase",
    "frozen_base_model", "BASE_NAME", "HEAD_NAME", "flat_layers",
    "higher_is_better", "improvement_mode", "reached",
    "TASKS", "SPLITS", "TRAIN", "VALIDATION", "TEST", "holdout_indices", "import_tensorflow",
]
