"""The example entry trains through zoo's own runner and learns the spirals."""
from zoo.testing import train_entry


def test_entry_trains_and_learns(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    result = train_entry("example-spirals-mlp")
    assert result.metrics["test"]["accuracy"] >= 0.9, result.metrics
    assert (tmp_path / "models" / "example-spirals-mlp" / "model.keras").exists()


def test_predictions_speak_the_class_names(tmp_path, monkeypatch):
    from zoo.testing import run_cli, train_entry

    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    train_entry("example-spirals-mlp")
    result = run_cli(["predict", "example-spirals-mlp", "0.5,-0.2", "--top-k", "1"])
    assert result.exit_code == 0, result.output
    item, shown = result.stdout.strip().split("\t")
    label, probability = shown.split(" ")
    assert item == "0.5,-0.2" and label in ("arm-0", "arm-1", "arm-2") and 0.0 < float(probability) <= 1.0


def test_accepts_refuses_images():
    from zoo_example_plugin.plugin import mlp_accepts

    assert mlp_accepts((2,), 3, "multiclass") is None
    assert "flat" in mlp_accepts((28, 28, 1), 10, "multiclass")
