"""The shape of the code: zoo's modules import each other without cycles (function-level imports
included), plugins and the example plugin import only the public API, and modules stay small."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ZOO = REPO / "zoo"
#: What a plugin may import; its tests may also use the pytest plugin.
PUBLIC_FOR_PLUGINS = {"zoo", "zoo.api"}
PUBLIC_FOR_PLUGIN_TESTS = PUBLIC_FOR_PLUGINS | {"zoo.testing"}
MAX_MODULE_LINES = 450
LARGE_ON_PURPOSE = {"zoo/testing.py"}  # the plugin-contract kit: one cohesive pytest plugin


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every ``zoo`` module that ``path`` imports, at any depth (functions and methods included).
    ``from zoo import settings`` counts as ``zoo.settings`` when that is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def zoo_modules() -> dict[str, Path]:
    return {module_name(p): p for p in ZOO.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    modules = zoo_modules()
    known = set(modules)
    # A module's own package is imported with it; that is not an edge worth a cycle.
    return {name: imported_modules(path, known) - {name, "zoo"} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, …, a]``, or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles_including_function_level_imports(tmp_path):
    # The graph test below can fail: a cycle hidden in a function body is found.
    pkg = tmp_path / "zoo"
    pkg.mkdir()
    (pkg / "a.py").write_text("from zoo import b\n")
    (pkg / "b.py").write_text("def f():\n    from zoo.a import thing\n")
    known = {"zoo.a", "zoo.b"}
    graph = {"zoo.a": imported_modules(pkg / "a.py", known), "zoo.b": imported_modules(pkg / "b.py", known)}
    assert find_cycle(graph) == ["zoo.a", "zoo.b", "zoo.a"]
    assert find_cycle({"zoo.a": {"zoo.b"}, "zoo.b": set()}) is None


def test_zoo_has_no_import_cycle():
    graph = import_graph()
    assert "zoo.runner" in graph and "zoo.pipeline" in graph["zoo.runner"]  # the scan sees imports
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def _plugin_sources() -> list[tuple[Path, set[str]]]:
    sources = [(p, PUBLIC_FOR_PLUGINS) for p in (REPO / "plugins").glob("*.py")]
    for path in (REPO / "examples").rglob("*.py"):
        if "egg-info" in path.parts or "build" in path.parts:
            continue
        allowed = PUBLIC_FOR_PLUGIN_TESTS if "tests" in path.relative_to(REPO).parts else PUBLIC_FOR_PLUGINS
        sources.append((path, allowed))
    return sources


def test_plugins_and_the_example_plugin_import_only_the_public_api():
    known = set(zoo_modules())
    assert len(_plugin_sources()) >= 10
    offending = []
    for path, allowed in _plugin_sources():
        for module in sorted(imported_modules(path, known) - allowed):
            offending.append(f"{path.relative_to(REPO)} imports {module}")
    assert not offending, "plugins may import only zoo.api (tests also zoo.testing):\n" + "\n".join(offending)


def test_the_public_api_check_sees_a_private_import(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import zoo\nfrom zoo.api import hookimpl\n\ndef f():\n    from zoo import settings\n")
    assert imported_modules(plugin, set(zoo_modules())) - PUBLIC_FOR_PLUGINS == {"zoo.settings"}


def test_the_public_api_imports_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, zoo.api; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", [p for p in sorted(ZOO.rglob("*.py")) if str(p.relative_to(REPO)) not in LARGE_ON_PURPOSE],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_modules_stay_small(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(REPO)} has {lines} lines; split it along its jobs"
