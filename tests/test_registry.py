"""The registry: hook collection, isolation of broken plugins, conflicts, validation."""
from __future__ import annotations

import pytest

import zoo
from zoo.errors import ConflictError, PluginError, UnknownNameError
from zoo.plugins import load_plugins
from zoo.registry import collect, get_registry


def build_stub(input_shape, num_classes, task="multiclass", width=4):  # never called here
    raise AssertionError("builders are not called while registering")


class GoodPlugin:
    @zoo.hookimpl
    def register_architectures(self, register):
        register("good-net", build_stub, description="a net", params={"width": 4}, tags=("t",))

    @zoo.hookimpl
    def register_datasets(self, register):
        register("good-data", lambda: {}, task="multiclass", input_shape=(8, 8, 1), num_classes=3)

    @zoo.hookimpl
    def register_callbacks(self, register):
        register("good-cb", lambda: None)

    @zoo.hookimpl
    def register_entries(self, register):
        register("good-entry", architecture="good-net", dataset="good-data", epochs=2)


class RaisingPlugin:
    @zoo.hookimpl
    def register_architectures(self, register):
        register("half-registered", build_stub)
        raise RuntimeError("database unreachable")


class TypoPlugin:
    @zoo.hookimpl
    def register_architecture(self, register):  # misspelled on purpose
        register("never", build_stub)


class ClashPlugin:
    @zoo.hookimpl
    def register_architectures(self, register):
        register("good-net", build_stub)


def registry_with(*plugins, strict=False):
    pm, records = load_plugins(extra=list(plugins), strict=strict, disabled=set())
    return collect(pm, records, strict=strict)


def test_first_party_plugins_come_through_entry_points():
    registry = get_registry()
    names = {p.name: p for p in registry.plugins}
    assert names["basics"].first_party and names["basics"].status == "ok"
    assert "dense-linear" in registry.architectures and "linear" in registry.datasets
    assert registry.architectures["dense-linear"].plugin == "basics"
    assert any(path.name == "registry.toml" for path, _ in registry.catalogues)


def test_parts_are_attributed_to_their_plugin():
    registry = registry_with(("good", GoodPlugin()))
    assert registry.architecture("good-net").params == {"width": 4}
    assert registry.dataset("good-data").shape_for({}) == (8, 8, 1)
    assert registry.plugin("good").registered == {
        "architecture": ["good-net"], "callback": ["good-cb"], "dataset": ["good-data"], "entry": ["good-entry"],
    }


def test_a_raising_hook_drops_that_plugin_whole_and_keeps_the_others():
    registry = registry_with(("good", GoodPlugin()), ("broken", RaisingPlugin()))
    broken = registry.plugin("broken")
    assert broken.status == "failed"
    assert "RuntimeError: database unreachable" in broken.error
    assert "half-registered" not in registry.architectures
    assert "good-net" in registry.architectures


def test_a_misspelled_hook_is_an_error_not_silence():
    registry = registry_with(("typo", TypoPlugin()), ("good", GoodPlugin()))
    record = registry.plugin("typo")
    assert record.status == "failed"
    assert "register_architecture" in record.error and "register_architectures" in record.error
    assert "good-net" in registry.architectures


def test_strict_mode_makes_a_broken_plugin_fatal():
    with pytest.raises(PluginError, match="broken"):
        registry_with(("broken", RaisingPlugin()), strict=True)
    with pytest.raises(PluginError, match="typo"):
        registry_with(("typo", TypoPlugin()), strict=True)


def test_a_name_registered_by_two_plugins_names_both_and_neither_wins():
    registry = registry_with(("good", GoodPlugin()), ("clash", ClashPlugin()))
    with pytest.raises(ConflictError) as info:
        registry.architecture("good-net")
    assert "'clash' and 'good'" in str(info.value)
    # the same outcome whatever the order the plugins were given in
    reverse = registry_with(("clash", ClashPlugin()), ("good", GoodPlugin()))
    assert reverse.conflicts == registry.conflicts


def test_disabled_plugins_are_skipped():
    pm, records = load_plugins(extra=[("good", GoodPlugin())], disabled={"good", "basics"})
    registry = collect(pm, records)
    assert registry.plugin("good").status == "disabled"
    assert "good-net" not in registry.architectures and "dense-linear" not in registry.architectures


def test_unknown_names_suggest_close_ones():
    registry = registry_with(("good", GoodPlugin()))
    with pytest.raises(UnknownNameError, match="did you mean 'good-net'"):
        registry.architecture("good-nett")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda r: r("Bad Name", build_stub), "not valid"),
        (lambda r: r("x", "not callable"), "must be callable"),
        (lambda r: r("x", build_stub, tasks=("ranking",)), "unknown task"),
    ],
)
def test_invalid_registrations_fail_the_plugin_with_a_reason(call, message):
    class Plugin:
        @zoo.hookimpl
        def register_architectures(self, register):
            call(register)

    registry = registry_with(("p", Plugin()))
    assert registry.plugin("p").status == "failed"
    assert message in registry.plugin("p").error


def test_binary_dataset_must_declare_one_output():
    class Plugin:
        @zoo.hookimpl
        def register_datasets(self, register):
            register("bad", lambda: {}, task="binary", input_shape=(2,), num_classes=2)

    registry = registry_with(("p", Plugin()))
    assert "num_classes=1" in registry.plugin("p").error
