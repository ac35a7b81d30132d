"""Model registry in the style of timm: register by decorator, list with wildcards, create by name.

External packages add models through the Python entry-point group `zoo.models`:

    [project.entry-points."zoo.models"]
    my_model = "my_package.my_module"          # importing it runs @register_model

A name registered twice (by the zoo and a plugin, or two plugins) is an error that names both.
"""

from __future__ import annotations

import fnmatch
import importlib
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError

if TYPE_CHECKING:
    from torch import nn

    from zoo.model import ZooModel

ENTRY_POINT_GROUP = "zoo.models"
BUILTIN_MODULES = ("zoo.models",)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    cls: type
    source: str  # module that registered it

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.cls.supported_tasks)


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def register_model(name: str | None = None):
    """Class decorator: `@register_model("cnn_bilstm_attention")` (default name: the class name in lower case)."""

    def decorator(cls: type) -> type:
        key = name or cls.__name__.lower()
        existing = _REGISTRY.get(key)
        if existing is not None and existing.cls is not cls:
            same_class = (existing.cls.__module__, existing.cls.__qualname__) == (cls.__module__, cls.__qualname__)
            if not same_class:  # re-importing the same module (e.g. a reload) is not a clash
                raise ZooError(
                    f"model name '{key}' from {cls.__module__}.{cls.__qualname__} clashes with '{key}' already "
                    f"registered by {existing.cls.__module__}.{existing.cls.__qualname__}; rename one of them"
                )
        cls.model_name = key
        _REGISTRY[key] = ModelEntry(key, cls, cls.__module__)
        return cls

    return decorator


def load_models() -> None:
    """Import the built-in models and every plugin of the `zoo.models` entry-point group.

    The registry counts as loaded only once every import has finished. A name clash raises and leaves
    `_loaded` false, with the clashing plugin's partial registrations removed, so every later call retries
    the load and reports the same clash (instead of quietly serving a half-loaded registry). A plugin that
    fails to import for any other reason is skipped with a warning.
    """
    global _loaded
    if _loaded:
        return
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        before = set(_REGISTRY)
        try:
            ep.load()
        except ZooError:
            _forget_since(before)
            raise
        except Exception as exc:  # a broken plugin must not take the zoo down, but must be visible
            _forget_since(before)
            print(f"zoo: warning: plugin '{ep.name}' ({ep.value}) failed to load: {exc}", file=sys.stderr)
    _loaded = True


def _forget_since(before: set[str]) -> None:
    """Drop names registered by a plugin whose import failed part-way (its module is not imported)."""
    for key in set(_REGISTRY) - before:
        del _REGISTRY[key]


def list_models(pattern: str = "*", task: str | None = None) -> list[str]:
    """Registered names matching a shell wildcard (`'*unet*'`), optionally only those serving `task`."""
    load_models()
    names = [n for n in sorted(_REGISTRY) if fnmatch.fnmatch(n, pattern)]
    return [n for n in names if task is None or task in _REGISTRY[n].tasks]


def model_entry(name: str) -> ModelEntry:
    load_models()
    if name not in _REGISTRY:
        close = fnmatch.filter(_REGISTRY, f"*{name}*")
        hint = f" (did you mean {close}?)" if close else ""
        raise ZooError(f"unknown model '{name}'{hint}; choices: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def get_model_class(name_or_path: str) -> type[ZooModel]:
    """A registered short name, or a dotted path `package.module.Class` to any ZooModel subclass."""
    load_models()
    if name_or_path in _REGISTRY or "." not in name_or_path:
        return model_entry(name_or_path).cls
    module_name, _, class_name = name_or_path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ZooError(
            f"model '{name_or_path}': no class {class_name} in module {module_name}; registered names: "
            f"{', '.join(sorted(_REGISTRY))}"
        ) from None
    from zoo.model import ZooModel

    if not (isinstance(found, type) and issubclass(found, ZooModel)):
        what = f"class {found.__module__}.{found.__qualname__}" if isinstance(found, type) else type(found).__name__
        raise ZooError(
            f"model '{name_or_path}': expected a subclass of zoo.ZooModel, found {what}; registered names: "
            f"{', '.join(sorted(_REGISTRY))}"
        )
    return found


def _spec_for(cls: type[ZooModel], data_spec: Any, task: str | None, preset: str):
    from datamodules.tasks import DataSpec

    if data_spec is not None:
        spec = DataSpec.from_dict(data_spec)
        if task is not None and spec.task != task:
            raise ZooError(f"task='{task}' but data_spec is for task '{spec.task}'; pass one of them")
        return spec
    if task is not None and task not in cls.supported_tasks:
        raise ZooError(f"model '{cls.display_name()}' does not support task '{task}'; it supports: "
                       f"{', '.join(cls.supported_tasks)}")
    return cls.default_data_spec(preset, task)


def create_model(name: str, *, data_spec: Any = None, task: str | None = None, preset: str = "small",
                 pretrained: str | None = None, **overrides: Any) -> ZooModel:
    """Build a model (a LightningModule) by name.

    Args:
        data_spec: what the model will see (`datamodule.data_spec`); default: the zoo's synthetic data for
            `task` (default: the model's first task).
        pretrained: a checkpoint whose network weights initialise this model (see `ZooModel`).
        overrides: constructor arguments that beat the preset (network, optimiser or loss keys).
    """
    cls = get_model_class(name)
    spec = _spec_for(cls, data_spec, task, preset)
    if pretrained is not None:
        overrides["pretrained"] = pretrained
    return cls(data_spec=spec.to_dict(), preset=preset, **overrides)


def create_network(name: str, *, data_spec: Any = None, task: str | None = None, preset: str = "small",
                   **net_overrides: Any) -> nn.Module:
    """Build the bare network (a plain `nn.Module`, no Lightning, no optimiser) of model `name`.

    Shapes come from `data_spec` (or the default data of `task`); `net_overrides` beat the preset's `net`
    section. The network maps normalised inputs (and, where the data carry it, z-scored body mass) to the
    network's output; `create_model` wraps it with normalisation, loss and metrics.
    """
    cls = get_model_class(name)
    spec = _spec_for(cls, data_spec, task, preset)
    return cls.make_network(spec, cls.net_config(preset, **net_overrides))


def main_list(argv: list[str]) -> int:
    """`zoo list [PATTERN] [--task TASK]`: name, paper, tasks, presets with parameter counts."""
    import argparse

    parser = argparse.ArgumentParser(prog="zoo list", description="List registered models.")
    parser.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. '*unet*'")
    parser.add_argument("--task", default=None, help="only models serving this task")
    args = parser.parse_args(argv)
    rows = []
    for name in list_models(args.pattern, args.task):
        entry = _REGISTRY[name]
        sizes = [f"{preset} {format_count(n)}" for preset, n in preset_parameter_counts(name).items()]
        origin = "" if entry.source.startswith("zoo.") else f"  [plugin: {entry.source}]"
        rows.append((name, entry.cls.paper or "-", ", ".join(entry.tasks), "; ".join(sizes) + origin))
    if not rows:
        print(f"no model matches '{args.pattern}'" + (f" for task {args.task}" if args.task else ""))
        return 1
    header = ("model", "paper", "tasks", "presets (parameters)")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths + [0])))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths + [0])))
    return 0


def preset_parameter_counts(name: str) -> dict[str, int]:
    """Trainable parameters of each preset of model `name`, built for its primary (first) task on the zoo's
    default data spec (the paper preset with the paper's input sizes). `zoo list` prints these."""
    entry = model_entry(name)
    counts = {}
    for preset in entry.cls.presets:
        spec = entry.cls.default_data_spec(preset)
        counts[preset] = entry.cls(data_spec=spec.to_dict(), preset=preset).num_parameters()
    return counts


def format_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 1_000:
        return f"{n / 1e3:.1f} k"
    return str(n)
