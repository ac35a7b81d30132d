"""Gait model zoo: registry, models, metrics and the command line.

    >>> import zoo
    >>> zoo.list_models("*unet*")
    >>> model = zoo.create_model("tcn", data_spec=datamodule.data_spec, preset="small")

Exports load on first use (PEP 562), so `zoo data ...` does not pay for importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "BaseTask": "zoo.task",
    "ZooError": "zoo.errors",
    "create_model": "zoo.registry",
    "get_model_class": "zoo.registry",
    "list_models": "zoo.registry",
    "register_model": "zoo.registry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute '{name}'")
