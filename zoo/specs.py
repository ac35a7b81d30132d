"""Deprecated: the default data specs live with their tasks (`datamodules.tasks.get_task(name).default_spec()`).

`default_data_spec` keeps working for one release, with a `DeprecationWarning`, and returns a plain dict.
"""

from __future__ import annotations

import warnings
from typing import Any

from datamodules.tasks.base import DEFAULT_CELL_CM, DEFAULT_GRID

__all__ = ["DEFAULT_CELL_CM", "DEFAULT_GRID", "default_data_spec"]


def default_data_spec(task: str, **overrides: Any) -> dict[str, Any]:
    from datamodules.tasks import get_task

    warnings.warn("zoo.specs.default_data_spec is deprecated; use datamodules.tasks.get_task(task).default_spec()",
                  DeprecationWarning, stacklevel=2)
    return get_task(task).default_spec(**overrides).to_dict()
