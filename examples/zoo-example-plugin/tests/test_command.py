"""The plugin's command, `zoo example-spirals-preview`, run in-process with zoo.testing.run_cli."""
import json

from zoo.testing import run_cli


def test_preview_summarises_the_generated_spirals():
    result = run_cli(["example-spirals-preview", "--points", "20", "--arms", "4", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["split"]: row for row in json.loads(result.stdout)}
    assert list(rows) == ["train", "validation", "test"]
    assert sum(row["examples"] for row in rows.values()) == 80  # 4 arms x 20 points
    assert [sum(counts) for counts in zip(*(row["per_class"] for row in rows.values()))] == [20] * 4
    assert all(-1.5 < low <= high < 1.5 for row in rows.values() for low, high in (row["x_range"], row["y_range"]))


def test_preview_is_listed_by_zoo_help():
    result = run_cli(["--help"])
    assert result.exit_code == 0, result.output
    assert "example-spirals-preview" in result.stdout.partition("Plugin commands:")[2]
    text = run_cli(["example-spirals-preview", "--points", "20"]).stdout
    assert text.splitlines()[0] == "example-spirals: 3 arms x 20 points, seed 0"
