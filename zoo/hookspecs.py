"""The hooks a zoo plugin may implement.

A plugin is any module (or object) with functions marked ``@zoo.hookimpl`` whose names match
the specs below. zoo finds plugins through the ``zoo`` entry-point group; its own first-party
plugins (``zoo_plugins.*``) are found exactly the same way.

Every hook but one receives one argument, ``register``: a callable that records one part. The
keyword names of each ``register`` are part of the public API. Hooks are called once per process,
when the registry is first needed; they must be cheap and must not import TensorFlow at module
level (builders and loaders import it when called), so that ``zoo list`` stays fast.
``register_commands`` receives ``cli``, the ``zoo`` click group, and is called only when a
command zoo does not ship is needed.
"""
from __future__ import annotations

from typing import Any, Callable

from zoo import hookspec


@hookspec
def register_architectures(register: Callable[..., None]) -> None:
    """Register model architectures.

    ``register(name, builder, *, description="", params=None, tags=(), tasks=None, accepts=None)``

    - ``builder(input_shape, num_classes, task=TASK, **params) -> keras.Model`` builds the whole
      model, head included. ``task`` is ``"regression"``, ``"binary"`` or ``"multiclass"``;
      ``num_classes`` is 1 for binary and regression. It is called only when a model is needed.
    - ``params``: the default keyword parameters of the builder (shown by ``zoo show``, overridable
      in the catalogue as ``architecture.NAME = value``).
    - ``tasks``: the tasks the builder supports (default: all three).
    - ``accepts(input_shape, num_classes, task, **params) -> str | None``: an optional, cheap,
      TensorFlow-free check that returns a reason when the builder cannot take that input
      (e.g. an image too small for five poolings); zoo reports it before any training starts.
    """


@hookspec
def register_datasets(register: Callable[..., None]) -> None:
    """Register datasets.

    ``register(name, loader, *, task, input_shape, num_classes, description="", params=None,
    tags=(), source=None, licence=None, locate=None, fetch=None, decode=None, class_names=None,
    preprocessing=None)``

    - ``loader(**params) -> dict``: returns the splits ``{"train": ..., "validation": ...,
      "test": ...}`` (``validation`` and ``test`` optional). Each split is either a
      ``tf.data.Dataset`` of unbatched ``(x, y)`` pairs or a tuple of numpy arrays ``(x, y)``.
    - ``task``: ``"regression"``, ``"binary"`` or ``"multiclass"``; with ``input_shape`` (one
      example, no batch axis) and ``num_classes`` (1 for binary and regression) it tells zoo which
      head and loss fit. ``input_shape`` and ``num_classes`` may also be callables taking the
      resolved params (an image folder's shape depends on its ``image_size``).
    - ``source``: where the data comes from (a URL or a citation); ``licence``: its licence.
    - ``locate(**params) -> dict | None``: optional, TensorFlow-free: where the data is found
      (``{"path": ..., "origin": ..., "bytes": ...}``) or ``None`` when it is missing (``zoo data
      list``). ``fetch(**params) -> dict``: optional: put the data in the cache (``zoo data fetch``).
    - ``decode(path, **params) -> numpy array``: optional: one input file (an image, say) as one
      example, preprocessed as the loader does (used by ``zoo predict`` only for a model saved
      without ``preprocessing``).
    - ``class_names``: optional: the label of each class id (``num_classes`` names for a
      multiclass dataset; for a binary one the names of 0 and 1), or a callable of the resolved
      params returning them (an image folder's names are its folder names). Saved with a trained
      model and shown by ``zoo show`` and ``zoo predict``.
    - ``preprocessing(**params) -> dict``: optional, TensorFlow-free: how a raw input becomes one
      example as the loader gives it, as plain data saved with a trained model, so that
      ``zoo predict`` needs neither the dataset nor TensorFlow: ``{"kind": "image", "image_size":
      [H, W], "color_mode": "grayscale" | "rgb" | "rgba", "scale": 1 / 255, "mean": None,
      "std": None}`` (decode, resize bilinearly, ``x * scale``, then ``(x - mean) / std`` when
      given) or ``{"kind": "numeric", "scale": 1.0}`` for numbers.
    - The dict may also hold ``"augment"``: a function ``(x_batch, y_batch) -> (x_batch, y_batch)``
      that zoo maps over *training* batches after caching and shuffling (so each epoch sees new
      transformations); validation and test data are never augmented.
    - Multiclass labels are integer class ids; binary labels 0/1; both with the loader's scaling.
    """


@hookspec
def register_callbacks(register: Callable[..., None]) -> None:
    """Register training callbacks.

    ``register(name, factory, *, description="", params=None)``

    ``factory(**params) -> keras.callbacks.Callback``. Besides its own params a factory may declare
    any of these keyword parameters, which zoo fills in for the run when the entry leaves them
    unset: ``run_dir`` (an empty folder for this run's files, used by no other run),
    ``target`` (``{"metric": ..., "value": ...}`` or ``None``), ``entry`` (the entry's name).
    """


@hookspec
def register_entries(register: Callable[..., None]) -> None:
    """Register ready-made catalogue entries.

    ``register(name, *, architecture, dataset, callbacks=(), **fields)``

    ``fields`` are the keys of a ``registry.toml`` entry table (``optimizer``, ``learning_rate``,
    ``epochs``, ``batch_size``, ``target``, ``description``, ``tags``, ``extends`` ...).
    ``architecture`` and ``dataset`` are a part name or a table ``{"name": ..., PARAM: value}``.
    """


@hookspec
def register_catalogues(register: Callable[..., None]) -> None:
    """Register whole TOML catalogues shipped with a plugin.

    ``register(path)``: a ``registry.toml``-format file whose ``[entries.NAME]`` tables join the
    catalogue, with file-and-line provenance. zoo's own ``registry.toml`` arrives this way.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``zoo`` command line.

    ``cli`` is a ``click.Group`` standing for the root ``zoo`` group: add commands with
    ``@cli.command()``, ``@cli.group()`` or ``cli.add_command(command, name=None)``. Each added
    command runs as ``zoo NAME``; ``ctx.find_root()`` is zoo's own root context.

    - Called once per process, plugin by plugin, only when a command zoo does not ship is needed
      (``zoo --help``, ``zoo NAME``, ``zoo plugins``), never for zoo's own commands, so that
      ``zoo list`` stays fast. It must be cheap: import TensorFlow, Keras, NumPy and other heavy
      modules *inside* the command's function, so ``zoo --help`` and ``zoo NAME --help`` import
      none of them.
    - Names are global and must not shadow zoo's own commands (``list``, ``train`` ...): a plugin
      that adds one is refused (zoo's command wins) and none of its commands is used. Prefix
      command names with the plugin's name. A command name added by two plugins is used by
      neither.
    - Failures are isolated: if the hook raises, none of the commands it added (even those added
      before it raised) is used, the plugin is reported as failed (``zoo plugins``, a warning on
      stderr, an error under ``ZOO_STRICT_PLUGINS=1``) and every other command still works. The
      parts its other hooks registered stay usable.
    """


HOOK_NAMES: tuple[str, ...] = (
    "register_architectures",
    "register_datasets",
    "register_callbacks",
    "register_entries",
    "register_catalogues",
    "register_commands",
)

