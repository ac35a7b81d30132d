"""Search spaces: what `zoo tune` samples, declared by each model beside its presets or read from a YAML file.

A space maps a parameter to its distribution:

    lr:              {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    levels:          {type: int, low: 3, high: 6}
    hidden:          {type: categorical, choices: [32, 64, 128]}
    widths:          {type: categorical, choices: [[8, 16, 32], [16, 32, 64]]}   # lists are fine as choices
    data.batch_size: {type: categorical, choices: [16, 32, 64]}

A bare name is a model argument (`--model.<name>`, e.g. a network or optimiser setting); `data.<name>` and
`trainer.<name>` set the DataModule and the Trainer. Each name is checked against the model's, the
DataModule's or the Trainer's constructor before anything runs.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

KINDS = ("float", "int", "categorical")
KEYS = {"float": {"type", "low", "high", "log", "step"}, "int": {"type", "low", "high", "log", "step"},
        "categorical": {"type", "choices"}}
SECTIONS = ("model", "data", "trainer")


@dataclass(frozen=True)
class Param:
    """One dimension of a search space."""

    name: str  # as written: `lr`, `data.batch_size`
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    @property
    def section(self) -> str:
        head = self.name.split(".", 1)[0]
        return head if "." in self.name and head in SECTIONS else "model"

    @property
    def key(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name and self.name.split(".", 1)[0] in SECTIONS else self.name

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"type": self.kind, "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out

    def extremes(self) -> list[Any]:
        """The values that bound this dimension (to check a configuration at both ends before a study)."""
        return [self.choices[0], self.choices[-1]] if self.kind == "categorical" else [self.low, self.high]


def _number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) if integer else math.isfinite(value)


def parse_space(raw: Any, where: str) -> dict[str, Param]:
    """A space mapping as declared (model class or YAML file) -> `{name: Param}`; one-line errors name `where`."""
    if not isinstance(raw, Mapping):
        raise ZooError(f"{where}: expected a mapping of parameter -> {{type, low, high | choices}}, "
                       f"found {type(raw).__name__}")
    space = {}
    for name, spec in raw.items():
        at = f"{where}: {name}"
        if not isinstance(name, str) or not name:
            raise ZooError(f"{where}: expected parameter names as strings, found {name!r}")
        if not isinstance(spec, Mapping):
            raise ZooError(f"{at}: expected a mapping {{type, low, high}} or {{type, choices}}, found {spec!r}")
        kind = spec.get("type")
        if kind not in KINDS:
            raise ZooError(f"{at}: type: expected one of {list(KINDS)}, found {kind!r}")
        unknown = sorted(set(spec) - KEYS[kind])
        if unknown:
            raise ZooError(f"{at}: expected keys among {sorted(KEYS[kind])} for type {kind}, found {unknown}")
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, (list, tuple)) or not choices:
                raise ZooError(f"{at}: choices: expected a non-empty list, found {choices!r}")
            space[name] = Param(name, kind, choices=tuple(_plain(c) for c in choices))
            continue
        integer = kind == "int"
        missing = [k for k in ("low", "high") if k not in spec]
        if missing:
            raise ZooError(f"{at}: missing: {', '.join(missing)}")
        low, high, log, step = spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("step")
        for key, value in (("low", low), ("high", high)):
            if not _number(value, integer):
                raise ZooError(f"{at}: {key}: expected {'an integer' if integer else 'a number'}, found {value!r}")
        if not low < high:
            raise ZooError(f"{at}: expected low < high, found low={low}, high={high}")
        if log and low <= 0:
            raise ZooError(f"{at}: log: expected low > 0 on a log scale, found low={low}")
        if step is not None and (log or not _number(step, integer) or step <= 0):
            raise ZooError(f"{at}: step: expected a positive {'integer' if integer else 'number'} without log, "
                           f"found step={step!r}{' with log' if log else ''}")
        space[name] = Param(name, kind, low=low, high=high, log=log, step=step)
    return space


def _plain(value: Any) -> Any:
    """Choices as YAML/JSON types (tuples become lists), so a study stored in any backend reads them back."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def load_space_file(path: str | Path) -> dict[str, Param]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ZooError(f"--space: no file at {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ZooError(f"--space {path}: not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_space(raw, str(path))


def model_space(cls: type) -> dict[str, Param]:
    """The space a model class declares (`search_space`, beside its `presets`)."""
    name = cls.display_name() if hasattr(cls, "display_name") else cls.__name__
    return parse_space(getattr(cls, "search_space", {}) or {}, f"model '{name}' search_space")


def accepted_names(model_cls: type) -> dict[str, set[str]]:
    """Constructor arguments a space may name, per section."""
    import lightning.pytorch as pl

    from datamodules.datamodule import GaitDataModule

    def params(*classes: type) -> set[str]:
        return {p for c in classes for p in inspect.signature(c.__init__).parameters
                if p not in ("self", "args", "kwargs", "data_spec")}

    from zoo.model import ZooModel

    model_classes = [c for c in model_cls.__mro__ if isinstance(c, type) and issubclass(c, ZooModel)]
    return {"model": params(*model_classes) - {"pretrained"}, "data": params(GaitDataModule),
            "trainer": params(pl.Trainer) - {"logger", "callbacks"}}


def check_names(space: Mapping[str, Param], model_cls: type, where: str) -> None:
    names = accepted_names(model_cls)
    for param in space.values():
        if param.key not in names[param.section]:
            owner = {"model": f"model '{model_cls.display_name()}'", "data": "the DataModule",
                     "trainer": "the Trainer"}[param.section]
            raise ZooError(f"{where}: {param.name}: expected an argument of {owner} "
                           f"({', '.join(sorted(names[param.section]))}), found '{param.key}'")


def suggest(trial: Any, space: Mapping[str, Param]) -> dict[str, Any]:
    """Sample one point of `space` through an Optuna trial (list-valued choices travel as JSON labels)."""
    values = {}
    for name, p in space.items():
        if p.kind == "float":
            values[name] = trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
        elif p.kind == "int":
            values[name] = trial.suggest_int(name, p.low, p.high, log=p.log, step=p.step or 1)
        elif all(c is None or isinstance(c, (bool, int, float, str)) for c in p.choices):
            values[name] = trial.suggest_categorical(name, list(p.choices))
        else:
            values[name] = json.loads(trial.suggest_categorical(name, [json.dumps(c) for c in p.choices]))
    return values


def decode(space: Mapping[str, Param], params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's stored params (JSON labels for list choices) as the values its configuration used."""
    out = {}
    for name, value in params.items():
        p = space.get(name)
        if p is not None and p.kind == "categorical" and isinstance(value, str) and value not in p.choices:
            value = json.loads(value)
        out[name] = value
    return out


def apply(config: Mapping[str, Any], space: Mapping[str, Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a `zoo fit` configuration with the sampled values set."""
    out = copy.deepcopy(dict(config))
    for name, value in values.items():
        p = space[name]
        if p.section == "model":
            out.setdefault("model", {}).setdefault("init_args", {})[p.key] = value
        else:
            out.setdefault(p.section, {})[p.key] = value
    return out


def space_to_dict(space: Mapping[str, Param]) -> dict[str, Any]:
    return {name: p.to_dict() for name, p in space.items()}
