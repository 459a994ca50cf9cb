"""Recipe fields that steer speed: validated in the catalogue, applied by the runner."""
from __future__ import annotations

import pytest

from zoo.catalogue import load_catalogue
from zoo.errors import CatalogueError
from zoo.phases import TrainHead


def test_jit_compile_accepts_only_known_values():
    catalogue = load_catalogue()
    assert catalogue.resolve("hello-dense", ["jit_compile=\"head\""]).recipe.jit_compile == "head"
    assert catalogue.resolve("hello-dense", ["jit_compile=true"]).recipe.jit_compile is True
    assert catalogue.resolve("hello-dense", ["jit_compile=\"optimizer\""]).recipe.jit_compile == "optimizer"
    with pytest.raises(CatalogueError, match="jit_compile must be"):
        catalogue.resolve("hello-dense", ["jit_compile=always"])


def test_head_only_xla_is_off_for_the_full_model_and_on_for_a_cached_head():
    import keras

    from zoo.compiling import compile_model

    entry = load_catalogue().resolve("hello-dense", ["jit_compile=\"head\""])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    compile_model(model, entry)
    assert model.jit_compile is False
    compile_model(model, entry, head_only=True)
    assert model.jit_compile is True


@pytest.mark.parametrize("optimizer, schedule", [("rmsprop", None), ("adam", {"name": "cosine"})])
def test_optimizer_only_xla_fuses_the_update_and_trains_the_same_weights(optimizer, schedule):
    """jit_compile = "optimizer": the train step stays un-jitted, the optimizer's update runs as
    an XLA function, and the weights after a few steps match Keras's own unfused update."""
    import keras
    import numpy as np

    from zoo.compiling import compile_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    overrides = [f"optimizer=\"{optimizer}\"", "learning_rate=0.01", *(["lr_schedule={name = \"cosine\"}"] if schedule else [])]
    weights = {}
    for jit in ("false", "\"optimizer\""):
        entry = load_catalogue().resolve("hello-dense", [*overrides, f"jit_compile={jit}"])
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        compile_model(model, entry, steps=12)
        # 64 = 5 × 12 + 4: the partial last batch retraces the step, and so the fused update
        model.fit(x, y, batch_size=12, epochs=2, shuffle=False, verbose=0)
        weights[jit] = model.get_weights()
        assert model.jit_compile is False
        fused = getattr(model.optimizer, "zoo_fused_updates", 0)
        assert (fused >= 2) if jit != "false" else (fused == 0)
    for plain, fused in zip(weights["false"], weights["\"optimizer\""]):
        np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-6)
    assert not np.allclose(weights["false"][0], 0)


def test_cosine_schedule_decays_over_the_whole_run():
    from zoo.compiling import make_optimizer, total_steps

    entry = load_catalogue().resolve("hello-dense", ["lr_schedule={name = \"cosine\"}", "learning_rate=0.5",
                                                     "epochs=4", "batch_size=2"])
    steps = total_steps(entry, train_examples=6)
    assert steps == 12  # 4 epochs × 3 batches
    optimizer = make_optimizer(entry, steps)
    config = optimizer.get_config()["learning_rate"]["config"]  # a serialised CosineDecay
    assert config["decay_steps"] == 12 and config["initial_learning_rate"] == 0.5


def test_a_cached_head_gets_the_whole_run_schedule(tmp_path):
    """feature_cache = true with a cosine schedule: the head compiles with the run's step count."""
    import numpy as np

    import zoo
    from zoo.catalogue import Catalogue
    from zoo.plugins import load_plugins
    from zoo.registry import collect
    from zoo.runner import train

    def build(input_shape, num_classes, task="binary"):
        import keras

        inputs = keras.Input(input_shape)
        base = keras.Sequential([keras.Input(input_shape), keras.layers.Dense(3)], name="base")
        base.trainable = False
        head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")], name="head")
        return keras.Model(inputs, head(base(inputs, training=False)))

    def load():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(40, 4)).astype("float32")
        return {"train": (x, (x[:, 0] > 0).astype("float32"))}

    class Plugin:
        @zoo.hookimpl
        def register_architectures(self, register):
            register("frozen", build, plan=[TrainHead()])

        @zoo.hookimpl
        def register_datasets(self, register):
            register("blobs", load, task="binary", input_shape=(4,), num_classes=1)

        @zoo.hookimpl
        def register_entries(self, register):
            register("cached", architecture="frozen", dataset="blobs", feature_cache=True, epochs=2,
                     batch_size=10, learning_rate=0.1, lr_schedule={"name": "cosine"})

    pm, records = load_plugins(extra=[("p", Plugin())], entry_points=False)
    catalogue = Catalogue(collect(pm, records))
    trained = train(catalogue.resolve("cached"), catalogue.registry, save=False, verbose=0)
    result = trained.result
    assert result.epochs == 2 and np.isfinite(result.history["loss"]).all()
    assert result.history["loss"][-1] < result.history["loss"][0]
    # 40 examples in batches of 10, 2 epochs: the cosine decays over all 8 steps of the run, and
    # the optimizer that took those steps (the head's, shared with the saved model) is that one.
    optimizer = trained.model.optimizer
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay", schedule
    assert schedule["config"]["decay_steps"] == 8 and schedule["config"]["initial_learning_rate"] == 0.1
    assert int(optimizer.iterations.numpy()) == 8
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-6)  # decayed to its end, no further


def test_data_autotune_is_off_by_default_and_a_recipe_switch():
    import numpy as np

    from zoo.pipeline import pipeline

    catalogue = load_catalogue()
    assert catalogue.resolve("hello-dense").recipe.data_autotune is False
    assert catalogue.resolve("hello-dense", ["data_autotune=true"]).recipe.data_autotune is True
    with pytest.raises(CatalogueError, match="data_autotune must be bool"):
        catalogue.resolve("hello-dense", ["data_autotune=3"])

    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20, dtype="int32")
    import tensorflow as tf

    for split in ((x, y), tf.data.Dataset.from_tensor_slices((x, y))):  # arrays, and any other data
        quiet = pipeline(split, 8, training=True, seed=1)
        tuned = pipeline(split, 8, training=True, seed=1, autotune=True)
        assert quiet.options().autotune.enabled is False
        assert tuned.options().autotune.enabled is not False  # TF's default: on
        # The switch changes scheduling only, never the data: same seeded batches, same order.
        for a, b in zip(quiet, tuned, strict=True):
            np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
            np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())


def test_cosine_warmup_rises_to_the_learning_rate_then_decays():
    import keras

    from zoo.compiling import make_optimizer

    entry = load_catalogue().resolve("hello-dense", ["lr_schedule={name = \"cosine\", warmup_steps = 10}",
                                                     "learning_rate=0.4"])
    config = make_optimizer(entry, total_steps=50).get_config()["learning_rate"]
    schedule = keras.optimizers.schedules.deserialize(config)
    rates = [float(schedule(step)) for step in (0, 5, 10, 30, 50)]
    assert rates[0] == 0.0 and rates[1] == pytest.approx(0.2) and rates[2] == pytest.approx(0.4)
    assert rates[2] > rates[3] > rates[4] and rates[4] == pytest.approx(0.0, abs=1e-6)
