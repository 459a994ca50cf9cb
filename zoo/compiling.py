"""The recipe made real: optimizer, learning-rate schedule, loss and ``model.compile``."""
from __future__ import annotations

import warnings
from typing import Any

from zoo.errors import IncompatibleError, ZooWarning
from zoo.specs import Entry, Recipe


def make_optimizer(entry: Entry, total_steps: int | None = None) -> Any:
    """The recipe's optimizer, with its learning rate or schedule.

    ``lr_schedule = { name = "cosine" | "exponential", ... }`` takes the Keras schedule's own
    arguments; a cosine schedule without ``decay_steps`` decays over the whole run
    (``total_steps``), so changing ``epochs`` or ``batch_size`` keeps its shape. With
    ``warmup_steps`` alone, ``learning_rate`` is the peak: the rate rises linearly from 0 to it,
    then decays (Keras's ``warmup_target``, which may also be given explicitly).
    """
    import keras

    recipe = entry.recipe
    config: dict[str, Any] = dict(recipe.optimizer_params)
    learning_rate: Any = recipe.learning_rate
    if recipe.lr_schedule:
        schedule = dict(recipe.lr_schedule)
        kind = schedule.pop("name", "cosine")
        peak = recipe.learning_rate or 1e-3
        if kind == "cosine" and schedule.get("warmup_steps") and "warmup_target" not in schedule:
            schedule.setdefault("initial_learning_rate", 0.0)
            schedule["warmup_target"] = peak
        schedule.setdefault("initial_learning_rate", peak)
        if kind == "cosine":
            if "decay_steps" not in schedule:
                if not total_steps:
                    raise IncompatibleError(f"entry {entry.name!r}: lr_schedule needs decay_steps here")
                check_warmup(entry.name, recipe, int(total_steps))
                schedule["decay_steps"] = int(total_steps) - int(schedule.get("warmup_steps", 0))
            learning_rate = keras.optimizers.schedules.CosineDecay(**schedule)
        elif kind == "exponential":
            learning_rate = keras.optimizers.schedules.ExponentialDecay(**schedule)
        else:
            raise IncompatibleError(f"entry {entry.name!r}: unknown lr_schedule {kind!r}; use cosine or exponential")
    if learning_rate is not None:
        config["learning_rate"] = learning_rate
    try:
        optimizer = keras.optimizers.get(recipe.optimizer)
        return optimizer.__class__(**{**optimizer.get_config(), **config}) if config else optimizer
    except (ValueError, TypeError) as exc:
        raise IncompatibleError(f"entry {entry.name!r}: optimizer {recipe.optimizer!r}: {exc}") from exc


def check_warmup(name: str, recipe: Recipe, total_steps: int) -> None:
    """A cosine schedule that decays over the rest of the run (no ``decay_steps`` of its own)
    needs its ``warmup_steps`` below the run's optimizer steps: raise IncompatibleError, naming
    both, before anything trains (Keras would fail deep inside with ``decay_steps`` ≤ 0)."""
    schedule = recipe.lr_schedule or {}
    if schedule.get("name", "cosine") != "cosine" or "decay_steps" in schedule:
        return
    warmup = int(schedule.get("warmup_steps") or 0)
    if warmup and warmup >= total_steps:
        per_epoch = total_steps // recipe.epochs if recipe.epochs else total_steps
        raise IncompatibleError(
            f"entry {name!r}: lr_schedule warmup_steps = {warmup} leaves no step to decay over: the run "
            f"has {total_steps} optimizer steps ({recipe.epochs} epoch(s) × {per_epoch} steps per epoch); "
            f"lower warmup_steps or train for more steps")


def total_steps(entry: Entry, train_examples: int) -> int:
    """Optimizer steps in a whole run: epochs × batches per epoch."""
    per_epoch = entry.recipe.steps_per_epoch or -(-train_examples // entry.recipe.batch_size)
    return entry.recipe.epochs * per_epoch


def compile_model(model: Any, entry: Entry, steps: int | None = None, *, head_only: bool = False,
                  optimizer: Any = None) -> None:
    """Compile with the recipe. ``jit_compile = "head"`` asks XLA only for a head trained on
    cached features (``head_only``): XLA speeds up dense layers but slows convolutions on CPU.
    ``jit_compile = "optimizer"`` asks XLA only for the optimizer's weight update (fused into one
    pass over the weights), in any training, leaving matmuls and convolutions to oneDNN.
    ``optimizer`` reuses an optimizer instead of making the recipe's (see zoo.feature_cache)."""
    from zoo.losses import make_loss
    from zoo.tfcompat import jit_optimizer_update, steps_per_execution_for_strategy

    recipe = entry.recipe
    jit = recipe.jit_compile
    if optimizer is None:
        optimizer = make_optimizer(entry, steps)
    if jit == "head":
        jit = head_only
    elif jit == "optimizer":
        jit = False
        if not jit_optimizer_update(optimizer):
            warnings.warn("jit_compile = \"optimizer\" is not available with this Keras (no "
                          "_backend_update_step); the optimizer's update runs without XLA", ZooWarning, stacklevel=2)
    model.compile(
        optimizer=optimizer,
        loss=make_loss(recipe.loss, recipe.label_smoothing),
        metrics=list(recipe.metrics),
        jit_compile=jit,
        steps_per_execution=steps_per_execution_for_strategy(recipe.steps_per_execution),
    )


__all__ = ["make_optimizer", "check_warmup", "total_steps", "compile_model"]
