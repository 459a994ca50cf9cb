"""Recipe fields that steer speed: validated in the catalogue, applied by the runner."""
from __future__ import annotations

import pytest

from zoo.catalogue import load_catalogue
from zoo.errors import CatalogueError


def test_jit_compile_accepts_only_known_values():
    catalogue = load_catalogue()
    assert catalogue.resolve("hello-dense", ["jit_compile=\"head\""]).recipe.jit_compile == "head"
    assert catalogue.resolve("hello-dense", ["jit_compile=true"]).recipe.jit_compile is True
    with pytest.raises(CatalogueError, match="jit_compile must be"):
        catalogue.resolve("hello-dense", ["jit_compile=always"])


def test_head_only_xla_is_off_for_the_full_model_and_on_for_a_cached_head():
    import keras

    from zoo.runner import compile_model

    entry = load_catalogue().resolve("hello-dense", ["jit_compile=\"head\""])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    compile_model(model, entry)
    assert model.jit_compile is False
    compile_model(model, entry, head_only=True)
    assert model.jit_compile is True


def test_cosine_schedule_decays_over_the_whole_run():
    from zoo.runner import make_optimizer, total_steps

    entry = load_catalogue().resolve("hello-dense", ["lr_schedule={name = \"cosine\"}", "learning_rate=0.5",
                                                     "epochs=4", "batch_size=2"])
    steps = total_steps(entry, train_examples=6)
    assert steps == 12  # 4 epochs × 3 batches
    optimizer = make_optimizer(entry, steps)
    config = optimizer.get_config()["learning_rate"]["config"]  # a serialised CosineDecay
    assert config["decay_steps"] == 12 and config["initial_learning_rate"] == 0.5
