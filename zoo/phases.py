"""Training phases: what an architecture declares it trains in, as plain data.

An architecture registers its *plan*, a list of phases, and the runner executes it top to bottom
(:func:`zoo.runner.train`). Most architectures train in one :class:`Fit`; a frozen pretrained base
trains its head first (:class:`TrainHead`, on cached base features when the recipe says
``feature_cache = true``) and may then unfreeze the top of the base (:class:`FineTune`).
No TensorFlow here: plans are made when the registry is built, and shown by ``zoo show``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Fit:
    """Train the whole model on the dataset's inputs for the recipe's ``epochs``."""

    kind = "fit"


@dataclass(frozen=True)
class TrainHead:
    """Train the head of a frozen-base model (``Input → base → head``, see
    :func:`zoo.api.frozen_base_model`) for the recipe's ``epochs``. With ``feature_cache = true``
    the base runs once per split and the head trains on its cached features; otherwise (or when
    the dataset augments its training images) the whole model runs with the base frozen."""

    kind = "train_head"


@dataclass(frozen=True)
class FineTune:
    """Unfreeze the base from layer ``from_layer`` on (in the base's flattened layer order) and
    train the whole model ``epochs`` more epochs at ``learning_rate``, on the dataset's inputs."""

    from_layer: str
    epochs: int = 1
    learning_rate: float = 1e-5
    kind = "fine_tune"


Phase = Union[Fit, TrainHead, FineTune]
#: A plan as registered: the phases, or a function of the builder's resolved params returning them.
PlanSpec = Union[Sequence[Phase], Callable[..., Sequence[Phase]]]
PHASE_TYPES: tuple[type, ...] = (Fit, TrainHead, FineTune)
DEFAULT_PLAN: tuple[Phase, ...] = (Fit(),)


def describe(phase: Phase) -> dict[str, Any]:
    """A phase as plain data: ``{"phase": kind, **fields}``."""
    return {"phase": phase.kind, **asdict(phase)}


def check_plan(plan: Sequence[Any], where: str) -> tuple[Phase, ...]:
    """``plan`` as a tuple of phases, or ``ValueError`` saying what is wrong with it."""
    phases = tuple(plan)
    if not phases:
        raise ValueError(f"{where}: a plan needs at least one phase")
    for phase in phases:
        if not isinstance(phase, PHASE_TYPES):
            raise ValueError(f"{where}: {phase!r} is not a phase (use zoo.api.Fit, TrainHead or FineTune)")
    if isinstance(phases[0], FineTune):
        raise ValueError(f"{where}: a plan cannot start with FineTune (train the head first)")
    return phases


__all__ = ["Fit", "TrainHead", "FineTune", "Phase", "PlanSpec", "DEFAULT_PLAN", "describe", "check_plan"]
