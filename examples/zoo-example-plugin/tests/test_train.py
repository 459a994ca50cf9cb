"""The example entry trains through zoo's own runner and learns the spirals."""
from zoo.testing import train_entry


def test_entry_trains_and_learns(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    result = train_entry("example-spirals-mlp")
    assert result.metrics["test"]["accuracy"] >= 0.9, result.metrics
    assert (tmp_path / "models" / "example-spirals-mlp" / "model.keras").exists()


def test_accepts_refuses_images():
    from zoo_example_plugin.plugin import mlp_accepts

    assert mlp_accepts((2,), 3, "multiclass") is None
    assert "flat" in mlp_accepts((28, 28, 1), 10, "multiclass")
