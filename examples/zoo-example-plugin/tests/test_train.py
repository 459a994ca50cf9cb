"""The example entry trains through zoo's own runner and learns the spirals."""
from zoo.catalogue import load_catalogue
from zoo.registry import get_registry, reset_registry


def test_entry_trains_and_learns(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    reset_registry()
    from zoo import runner

    registry = get_registry()
    entry = load_catalogue(registry).resolve("example-spirals-mlp")
    assert entry.num_classes == 3 and entry.input_shape == (2,)
    result = runner.train(entry, registry, verbose=0)
    assert result.metrics["test"]["accuracy"] >= 0.9, result.metrics
    assert (tmp_path / "models" / "example-spirals-mlp" / "model.keras").exists()


def test_accepts_refuses_images():
    from zoo_example_plugin.plugin import mlp_accepts

    assert mlp_accepts((2,), 3, "multiclass") is None
    assert "flat" in mlp_accepts((28, 28, 1), 10, "multiclass")
