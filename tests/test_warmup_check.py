"""A cosine schedule's warm-up must end before the run does: ``warmup_steps`` ≥ the run's optimizer
steps (epochs × steps per epoch) is one clear error naming the entry and both figures, raised
before training (at resolve time when ``steps_per_epoch`` fixes the run's length, else when the
optimizer is made, after the data is loaded), instead of Keras failing on ``decay_steps`` ≤ 0."""
from __future__ import annotations

import dataclasses

import pytest

from zoo.catalogue import load_catalogue
from zoo.compiling import check_warmup, make_optimizer, total_steps
from zoo.errors import IncompatibleError
from zoo.specs import Recipe
from zoo.testing import run_cli

MESSAGE = ("entry 'fashion-compact-cnn': lr_schedule warmup_steps = 200 leaves no step to decay over: the run has "
           "20 optimizer steps (1 epoch(s) × 20 steps per epoch)")


def test_check_warmup() -> None:
    cosine = Recipe(epochs=2, lr_schedule={"name": "cosine", "warmup_steps": 10})
    check_warmup("x", cosine, 11)
    with pytest.raises(IncompatibleError, match=r"'x': lr_schedule warmup_steps = 10 .* 10 optimizer steps "
                                                r"\(2 epoch\(s\) × 5 steps per epoch\)"):
        check_warmup("x", cosine, 10)
    # Its own decay_steps, another schedule, or no warm-up: nothing to check.
    check_warmup("x", dataclasses.replace(cosine, lr_schedule={"warmup_steps": 10, "decay_steps": 5}), 4)
    check_warmup("x", dataclasses.replace(cosine, lr_schedule={"name": "exponential", "decay_steps": 5,
                                                               "decay_rate": 0.9}), 4)
    check_warmup("x", dataclasses.replace(cosine, lr_schedule={"name": "cosine"}), 4)


def test_a_known_run_length_fails_when_the_entry_resolves() -> None:
    catalogue = load_catalogue()
    with pytest.raises(IncompatibleError) as caught:
        catalogue.resolve("fashion-compact-cnn", ["steps_per_epoch=20", "epochs=1"])
    assert str(caught.value).startswith(MESSAGE)
    assert catalogue.resolve("fashion-compact-cnn", ["steps_per_epoch=201", "epochs=1"]).recipe.lr_schedule


def test_a_run_length_known_from_the_data_fails_when_the_optimizer_is_made() -> None:
    entry = load_catalogue().resolve("fashion-compact-cnn", ["batch_size=30000"])  # 6 epochs × 2 steps
    steps = total_steps(entry, 60_000)
    assert steps == 12
    with pytest.raises(IncompatibleError, match=r"warmup_steps = 200 .* 12 optimizer steps \(6 epoch\(s\) × 2 "):
        make_optimizer(entry, steps)
    assert make_optimizer(entry, 1000) is not None


def test_the_cli_says_it_in_one_line_before_training() -> None:
    result = run_cli(["train", "fashion-compact-cnn", "--set", "steps_per_epoch=20", "--set", "epochs=1"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"zoo: error: {MESSAGE}") and result.stderr.count("\n") == 1, result.stderr

    result = run_cli(["bench", "fashion-compact-cnn", "--set", "steps_per_epoch=20", "--set", "epochs=1"])
    assert result.exit_code == 1
    assert f"zoo: fashion-compact-cnn: failed: {MESSAGE}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "decay_steps" not in result.stderr
