"""Split names and the one rule for holding out a validation split. No TensorFlow here.

Splits are named for what they are: ``train`` trains, ``validation`` is held out of the training
data for every choice (early stopping, recipes, sweeps, tuning), and ``test`` is scored once, at
the end. A dataset whose files come as ``train/`` and ``test/`` exposes ``test`` as ``test``.
"""
from __future__ import annotations

from typing import Any

TRAIN, VALIDATION, TEST = "train", "validation", "test"
SPLITS: tuple[str, ...] = (TRAIN, VALIDATION, TEST)
#: The split a single "how good is it" figure comes from, best first: choices never look at test,
#: so selection uses validation; reports prefer test, scored once at the end.
SELECTION_ORDER: tuple[str, ...] = (VALIDATION, TRAIN)
REPORT_ORDER: tuple[str, ...] = (TEST, VALIDATION, TRAIN)
#: The seed of the validation hold-out: fixed, not the recipe's seed, so runs with different
#: seeds are chosen between on the same held-out examples.
HOLDOUT_SEED = 0


def check_fraction(fraction: Any, where: str) -> float:
    """``fraction`` as a float in [0, 1), or ``ValueError`` naming ``where``."""
    value = float(fraction or 0.0)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{where}: validation_split must be in [0, 1), got {fraction}")
    return value


def holdout_indices(n: int, fraction: float, seed: int) -> tuple[Any, Any]:
    """``(train_indices, validation_indices)``: a seeded permutation of ``range(n)`` with the
    last ``round(n × fraction)`` held out. Every loader and the runner hold out this way, so the
    same seed and fraction always hold out the same examples."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    cut = n - int(round(n * fraction))
    return order[:cut], order[cut:]


__all__ = ["TRAIN", "VALIDATION", "TEST", "SPLITS", "SELECTION_ORDER", "REPORT_ORDER", "check_fraction",
           "holdout_indices", "HOLDOUT_SEED"]
