"""One windowing class per task; `TASKS` maps the task name used everywhere to its class."""

from __future__ import annotations

from datamodules.tasks.base import SAMPLE_DTYPE, Task, TaskContext
from datamodules.tasks.imu2grf import Imu2Grf, Pretrain
from datamodules.tasks.imu2pressure import Imu2Pressure
from datamodules.tasks.insole2pose import Insole2Pose
from datamodules.tasks.landmarks2pressure import Landmarks2Pressure

TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (Imu2Pressure, Imu2Grf, Landmarks2Pressure, Insole2Pose, Pretrain)
}

__all__ = ["SAMPLE_DTYPE", "TASKS", "Task", "TaskContext"]
