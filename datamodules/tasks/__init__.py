"""The task registry: one class per task, one module per class (see `base.Task`).

    >>> from datamodules.tasks import get_task, list_tasks
    >>> list_tasks()                       # ['imu2grf', 'imu2kinetics', 'imu2pressure', ...]
    >>> get_task("imu2grf").primary_metric # 'r_vertical'

A task outside the zoo registers itself with `@register_task` in a module announced under the entry-point
group `zoo.tasks` (like models under `zoo.models`); README "Add a task" walks through it.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

from datamodules.errors import DataError
from datamodules.tasks.base import (
    INSOLE_TO_POSE,
    LANDMARKS_TO_MAP,
    MASKED_RECONSTRUCTION,
    SAMPLE_DTYPE,
    SEQUENCE_TO_STEPS,
    PaperReference,
    Task,
    TaskContext,
)
from datamodules.tasks.spec import DataSpec

ENTRY_POINT_GROUP = "zoo.tasks"
BUILTIN_MODULES = ("imu2pressure", "imu2grf", "pretrain", "landmarks2pressure", "insole2pose", "imu2kinetics")

TASKS: dict[str, type[Task]] = {}
_plugins_loaded = False


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: add a task under `cls.name`; a second class with the same name is an error."""
    existing = TASKS.get(cls.name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise DataError(f"task name '{cls.name}' from {cls.__module__}.{cls.__qualname__} clashes with "
                        f"{existing.__module__}.{existing.__qualname__}; rename one of them")
    TASKS[cls.name] = cls
    return cls


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except DataError:
            raise
        except Exception as exc:  # a broken plugin must not take the zoo down, but must be visible
            print(f"zoo: warning: task plugin '{ep.name}' ({ep.value}) failed to load: {exc}", file=sys.stderr)


def list_tasks() -> list[str]:
    _load_plugins()
    return sorted(TASKS)


def get_task(name: str) -> type[Task]:
    """The task class registered as `name`; an unknown name lists the choices."""
    _load_plugins()
    if name not in TASKS:
        raise DataError(f"task: expected one of {sorted(TASKS)}, found '{name}'")
    return TASKS[name]


def tasks_of_family(families: tuple[str, ...] | set[str]) -> tuple[str, ...]:
    """Names of the tasks whose family is among `families` (`"*"` matches every family)."""
    _load_plugins()
    return tuple(n for n in sorted(TASKS) if "*" in families or TASKS[n].family in families)


def input_channel_count(task: str, channels: list[str] | None = None, imus: list[str] | None = None) -> int:
    """How many input channels `task` serves with these options, without opening a file."""
    return get_task(task).input_channel_count({"channels": channels, "imus": imus})


for _module in BUILTIN_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "DataSpec", "INSOLE_TO_POSE", "LANDMARKS_TO_MAP", "MASKED_RECONSTRUCTION", "PaperReference", "SAMPLE_DTYPE",
    "SEQUENCE_TO_STEPS", "TASKS", "Task", "TaskContext", "get_task", "input_channel_count", "list_tasks",
    "register_task", "tasks_of_family",
]
