"""Plain-data specs passed between zoo's stages.

Specs hold what plugins registered; :class:`Entry` is one resolved catalogue entry. None of them
holds a Keras object, so everything up to the runner works (and is testable) without TensorFlow.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from zoo.metrics import reached
from zoo.phases import DEFAULT_PLAN, Phase, PlanSpec, check_plan, describe

TASKS: tuple[str, ...] = ("regression", "binary", "multiclass")


def _callable_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}:{getattr(obj, '__qualname__', repr(obj))}"


@dataclass(frozen=True)
class ArchitectureSpec:
    """A model architecture: ``builder(input_shape, num_classes, task=..., **params)``."""

    name: str
    builder: Callable[..., Any]
    plugin: str
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    tasks: tuple[str, ...] = TASKS
    accepts: Callable[..., str | None] | None = None
    plan: PlanSpec = DEFAULT_PLAN

    def plan_for(self, params: dict[str, Any]) -> tuple[Phase, ...]:
        """The phases this architecture trains in under ``params`` (defaults filled in);
        ``ValueError`` when the plan function fails or returns something that is not a plan."""
        plan = self.plan(**{**self.params, **params}) if callable(self.plan) else self.plan
        return check_plan(plan, f"architecture {self.name!r} (plugin {self.plugin})")

    def to_dict(self) -> dict[str, Any]:
        plan = "depends on params" if callable(self.plan) else [describe(p) for p in self.plan]
        return {
            "name": self.name,
            "kind": "architecture",
            "plan": plan,
            "plugin": self.plugin,
            "builder": _callable_name(self.builder),
            "description": self.description,
            "params": dict(self.params),
            "tags": list(self.tags),
            "tasks": list(self.tasks),
        }


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: ``loader(**params) -> {"train": ..., "validation": ..., "test": ...}``."""

    name: str
    loader: Callable[..., Any]
    plugin: str
    task: str
    input_shape: tuple[int, ...] | Callable[..., tuple[int, ...]]
    num_classes: int | Callable[..., int]
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    source: str | None = None
    licence: str | None = None
    locate: Callable[..., dict[str, Any] | None] | None = None
    fetch: Callable[..., dict[str, Any]] | None = None
    decode: Callable[..., Any] | None = None
    class_names: list[str] | Callable[..., list[str] | None] | None = None
    preprocessing: Callable[..., dict[str, Any] | None] | None = None

    def shape_for(self, params: dict[str, Any]) -> tuple[int, ...]:
        """The input shape of one example under ``params`` (defaults filled in)."""
        shape = self.input_shape
        if callable(shape):
            shape = shape(**{**self.params, **params})
        return tuple(int(d) for d in shape)

    def classes_for(self, params: dict[str, Any]) -> int:
        """The number of output units the head needs under ``params``."""
        classes = self.num_classes
        if callable(classes):
            classes = classes(**{**self.params, **params})
        return int(classes)

    def names_for(self, params: dict[str, Any]) -> list[str] | None:
        """The class names under ``params`` (defaults filled in), one per class id (binary: the
        names of 0 and 1); ``None`` when the dataset declares none (regression, say). TF-free."""
        names = self.class_names
        if callable(names):
            names = names(**{**self.params, **params})
        return None if names is None else [str(n) for n in names]

    def preprocessing_for(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """How raw inputs (pixels as files hold them, numbers) become the loader's examples under
        ``params``, as plain data (:mod:`zoo.preprocess`); ``None`` when the dataset declares none."""
        if self.preprocessing is None:
            return None
        prep = self.preprocessing(**{**self.params, **params})
        if not isinstance(prep, dict) or prep.get("kind") not in ("image", "numeric"):
            raise ValueError(f"preprocessing must return a dict with kind 'image' or 'numeric', got {prep!r}")
        if prep["kind"] == "image" and (not isinstance(prep.get("image_size"), (list, tuple))
                                        or prep.get("color_mode") not in ("grayscale", "rgb", "rgba")):
            raise ValueError(f"image preprocessing needs image_size [H, W] and color_mode grayscale|rgb|rgba, got {prep!r}")
        return dict(prep)

    def to_dict(self) -> dict[str, Any]:
        def show(value: Any) -> Any:
            return "depends on params" if callable(value) else value

        return {
            "name": self.name,
            "kind": "dataset",
            "plugin": self.plugin,
            "loader": _callable_name(self.loader),
            "task": self.task,
            "input_shape": show(list(self.input_shape) if isinstance(self.input_shape, tuple) else self.input_shape),
            "num_classes": show(self.num_classes),
            "class_names": show(list(self.class_names) if isinstance(self.class_names, (list, tuple)) else self.class_names),
            "description": self.description,
            "params": dict(self.params),
            "tags": list(self.tags),
            "source": self.source,
            "licence": self.licence,
        }


@dataclass(frozen=True)
class CallbackSpec:
    """A training callback: ``factory(**params) -> keras.callbacks.Callback``."""

    name: str
    factory: Callable[..., Any]
    plugin: str
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "callback",
            "plugin": self.plugin,
            "factory": _callable_name(self.factory),
            "description": self.description,
            "params": dict(self.params),
        }


@dataclass
class PartRef:
    """A reference from an entry to a registered part, with the params the entry sets."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    """The value of a metric that counts as "reached" for time-to-accuracy."""

    metric: str
    value: float
    mode: str = "max"  # "min" for losses and errors

    def reached(self, value: float) -> bool:
        return reached(value, self.value, self.mode)


@dataclass
class Recipe:
    """How an entry trains: optimizer, loss, schedule and the speed settings measured per entry."""

    optimizer: str = "adam"
    learning_rate: float | None = None
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    lr_schedule: dict[str, Any] | None = None
    loss: str = "auto"
    label_smoothing: float = 0.0
    metrics: list[str] = field(default_factory=lambda: ["auto"])
    epochs: int = 1
    batch_size: int = 32
    steps_per_epoch: int | None = None
    validation_split: float | None = None
    shuffle_buffer: int = 10_000
    cache: bool = True
    data_autotune: bool = False
    seed: int = 0
    mixed_precision: str | None = None
    jit_compile: bool | str = False
    steps_per_execution: int = 1
    intra_op_threads: int | None = None
    inter_op_threads: int | None = None
    feature_cache: bool = False


RECIPE_KEYS: tuple[str, ...] = tuple(Recipe.__dataclass_fields__)


@dataclass
class Resources:
    """What one run of an entry asks a Ray cluster for (``zoo bench --executor ray``, ``zoo tune``):
    Ray schedules it on a node with that many free CPUs and GPUs. The local executor ignores it."""

    cpus: float = 1.0
    gpus: float = 0.0


@dataclass
class Entry:
    """One resolved catalogue entry: parts, recipe and where every field came from."""

    name: str
    architecture: PartRef
    dataset: PartRef
    callbacks: list[PartRef]
    recipe: Recipe
    task: str
    input_shape: tuple[int, ...]
    num_classes: int
    target: Target | None = None
    description: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    plan: tuple[Phase, ...] = DEFAULT_PLAN
    resources: Resources = field(default_factory=Resources)
    class_names: list[str] | None = None
    #: how a raw input becomes one example (:meth:`DatasetSpec.preprocessing_for`), plain data
    preprocessing: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Entry":
        """An entry as :meth:`to_dict` wrote it (``entry.json`` next to a trained model): the
        entry as it was trained. The plan is not read back (it is only described there)."""
        def ref(part: dict[str, Any]) -> PartRef:
            return PartRef(str(part["name"]), dict(part.get("params") or {}))

        recipe = {k: v for k, v in (data.get("recipe") or {}).items() if k in Recipe.__dataclass_fields__}
        target = data.get("target")
        return cls(
            name=str(data["name"]), architecture=ref(data["architecture"]), dataset=ref(data["dataset"]),
            callbacks=[ref(c) for c in data.get("callbacks") or []], recipe=Recipe(**recipe), task=str(data["task"]),
            input_shape=tuple(int(d) for d in data["input_shape"]), num_classes=int(data["num_classes"]),
            target=Target(**target) if target else None, description=str(data.get("description", "")),
            tags=list(data.get("tags") or []), metadata=dict(data.get("metadata") or {}),
            sources=dict(data.get("sources") or {}), class_names=data.get("class_names"),
            preprocessing=data.get("preprocessing"),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data["plan"] = [describe(phase) for phase in self.plan]
        return data
