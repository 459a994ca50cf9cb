"""``zoo show`` prints an entry's Ray ``resources`` (what one run asks a cluster for) with where they
came from, ``[default]`` when the entry sets none; ``--format json`` has them and their source."""
from __future__ import annotations

import json
from pathlib import Path

from zoo.testing import run_cli


def resources_line(*args: str, registry: Path | None = None) -> str:
    result = run_cli([*(["--registry", str(registry)] if registry else []), "show", *args])
    assert result.exit_code == 0, result.output
    (line,) = [l for l in result.stdout.splitlines() if l.split()[:1] == ["resources"]]
    return " ".join(line.split())


def test_show_prints_the_default_resources() -> None:
    assert resources_line("hello-dense") == "resources cpus=1 gpus=0 [default]"
    data = json.loads(run_cli(["show", "hello-dense", "--format", "json"]).stdout)
    assert data["resources"] == {"cpus": 1.0, "gpus": 0.0} and data["sources"]["resources"] == "default"


def test_show_prints_resources_with_their_source(tmp_path: Path) -> None:
    assert resources_line("hello-dense", "--set", "resources.cpus=2") == \
        "resources cpus=2 gpus=0 [--set resources.cpus=2]"
    mine = tmp_path / "mine.toml"
    mine.write_text('[entries.hello-gpu]\nextends = "hello-dense"\nresources = { cpus = 2, gpus = 0.5 }\n',
                    encoding="utf-8")
    assert resources_line("hello-gpu", registry=mine) == f"resources cpus=2 gpus=0.5 [{mine}:3]"
    data = json.loads(run_cli(["--registry", str(mine), "show", "hello-gpu", "--format", "json"]).stdout)
    assert data["resources"] == {"cpus": 2.0, "gpus": 0.5} and data["sources"]["resources"] == f"{mine}:3"
