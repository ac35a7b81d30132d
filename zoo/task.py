"""Deprecated module: the model base class is `zoo.ZooModel` (in `zoo.model`) since 0.2.

"Task" now means one thing only: a task definition (`datamodules.tasks`). `zoo.task.BaseTask` keeps working
for one release, with a `DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

from zoo import model as _model

_RENAMED = {"BaseTask": "ZooModel", "TRAINING_DEFAULTS": "OPTIM_DEFAULTS"}
_KEPT = ("LOSSES", "OPTIMIZERS", "SCHEDULERS", "warmup_cosine")


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        warnings.warn(f"zoo.task.{name} is deprecated; use zoo.model.{_RENAMED[name]} (removed in 0.3)",
                      DeprecationWarning, stacklevel=2)
        return getattr(_model, _RENAMED[name])
    if name in _KEPT:
        warnings.warn(f"zoo.task.{name} moved to zoo.model.{name} (zoo.task is removed in 0.3)",
                      DeprecationWarning, stacklevel=2)
        return getattr(_model, name)
    raise AttributeError(f"module 'zoo.task' has no attribute '{name}'")
