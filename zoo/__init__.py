"""Gait model zoo: registry, models, metrics and the command line.

    >>> import zoo
    >>> zoo.list_models("*unet*")
    >>> model = zoo.create_model("tcn", task="imu2grf", preset="small")        # a LightningModule
    >>> net = zoo.create_network("tcn", task="imu2grf")                         # the bare nn.Module

Exports load on first use (PEP 562), so `zoo data ...` does not pay for importing torch.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any

_EXPORTS = {
    "ZooModel": "zoo.model",
    "ZooError": "zoo.errors",
    "create_model": "zoo.registry",
    "create_network": "zoo.registry",
    "get_model_class": "zoo.registry",
    "list_models": "zoo.registry",
    "register_model": "zoo.registry",
    "get_task": "datamodules.tasks",
    "list_tasks": "datamodules.tasks",
    "register_task": "datamodules.tasks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "BaseTask":
        warnings.warn("zoo.BaseTask is deprecated; use zoo.ZooModel (removed in 0.3)", DeprecationWarning,
                      stacklevel=2)
        return import_module("zoo.model").ZooModel
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute '{name}'")
