"""The course recipes on the real Fashion-MNIST (slow; needs ../shared/data and the dataset plugin,
which ships with zoo: a plugin that fails to register ``fashion_mnist`` fails here, never skips).

The issue's bar: ``fashion-dense`` ≥ 0.86 and ``fashion-cnn`` ≥ 0.90 test accuracy after the
course's 5 epochs (the course's own code gave 0.867 and 0.904 on this kind of machine).
"""
from __future__ import annotations

import pytest

BARS = {"fashion-dense": 0.86, "fashion-cnn": 0.90}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BARS))
def test_course_recipe_reaches_the_course_accuracy_on_real_fashion_mnist(name, shared_data):
    from zoo.catalogue import load_catalogue
    from zoo.registry import get_registry

    registry = get_registry()
    plugins = [(p.name, p.status, p.error) for p in registry.plugins]
    assert "fashion_mnist" in registry.datasets, f"no plugin registered fashion_mnist; plugins: {plugins}"
    import keras

    from zoo import runner

    keras.backend.clear_session()
    cat = load_catalogue(registry)
    entry = cat.resolve(name, [f"dataset.data_dir={shared_data / 'fashion-mnist'}"])
    assert entry.recipe.epochs == 5  # the course recipe, unchanged
    result = runner.train(entry, registry, verbose=0, save=False).result
    assert result.metrics["test"]["accuracy"] >= BARS[name], result.metrics
