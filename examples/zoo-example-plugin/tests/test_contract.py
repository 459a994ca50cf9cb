"""The plugin keeps zoo's plugin contract: one test per part, one failure message per broken part."""
import pytest

from zoo.testing import contract_cases

# "example" is the plugin's entry-point name (pyproject.toml, [project.entry-points.zoo]).
@pytest.mark.parametrize("case", contract_cases("example"), ids=str)
def test_contract(case):
    case.check()


def test_every_part_is_checked():
    kinds = {(case.kind, case.part) for case in contract_cases("example")}
    assert kinds == {
        ("plugin", "example"),
        ("architecture", "example-mlp"),
        ("dataset", "example-spirals"),
        ("callback", "example-time-limit"),
        ("entry", "example-spirals-mlp"),
        ("command", "example-spirals-preview"),
    }
