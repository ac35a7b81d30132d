"""`DataSpec`: the shapes and names a model is built for, read from a recording's header without loading data.

A frozen dataclass, so a spec cannot drift after a model was built from it. Models store it as a plain dict
(`to_dict()`) in their hyperparameters, which keeps checkpoints loadable without this class; `from_dict`
turns such a dict (or a config file's mapping) back into a spec. Keys a task adds beyond the common fields
live in `extras` and are read like fields (`spec["landmarks"]`, `spec.get("frames")`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class DataSpec:
    task: str
    input_channels: tuple[str, ...]
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    target_names: tuple[str, ...] = ()
    grid: tuple[int, int] | None = None
    cell_size_cm: tuple[float, float] | None = None
    has_body_mass: bool = False
    keypoint_names: tuple[str, ...] = ()
    frames: int | None = None
    landmarks: int | None = None
    sample_rate_hz: float = 100.0
    activities: tuple[str, ...] = ()
    dataset: str = "default"
    synthetic: bool = True
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("input_channels", "input_shape", "target_shape", "target_names", "keypoint_names",
                     "activities"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))
        for name in ("grid", "cell_size_cm"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(value) if value is not None else None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | DataSpec) -> DataSpec:
        if isinstance(data, DataSpec):
            return data
        known = {f.name for f in fields(cls)} - {"extras"}
        extras = {**dict(data.get("extras") or {}), **{k: v for k, v in data.items() if k not in known | {"extras"}}}
        return cls(**{k: v for k, v in data.items() if k in known}, extras=extras)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML types (lists, not tuples): what models save as a hyperparameter."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extras":
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.extras.items()})
        return out

    def replace(self, **changes: Any) -> DataSpec:
        return DataSpec.from_dict({**self.to_dict(), **changes})

    # -- mapping-style reads, so code written against the old dict spec keeps working ---------------
    def __getitem__(self, key: str) -> Any:
        if key in self.extras:
            return self.extras[key]
        if key == "extras" or key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        value = getattr(self, key)
        return list(value) if isinstance(value, tuple) else value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None
